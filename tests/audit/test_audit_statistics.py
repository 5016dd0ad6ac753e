"""The Audit's tables beyond the papers equal the pure functions applied to its populations."""
import numpy as np
import pandas as pd
import pytest

import pie_tf
from pie_tf.audit import _calibration, _flips, _forecast, _paired


@pytest.fixture(scope="module")
def populations():
    rng = np.random.default_rng(0)
    n = 600
    labels = rng.integers(0, 2, n)
    male = rng.random(n) < 0.4
    young = rng.random(n) < 0.7
    hard = np.where(male, 1.0, 3.0)  # Male examples are harder: the forecast should see it

    def population(members, scale):
        logits = (2 * labels - 1)[None, :] * hard[None, :] * scale + rng.normal(
            size=(members, n)) * 1.5
        p1 = 1 / (1 + np.exp(-logits))
        return np.stack([1 - p1, p1], axis=-1)

    dense = population(5, 1.0)
    pruned = population(4, 0.5)
    return dict(labels=labels, attributes={"Male": male, "Young": young}, dense=dense,
                pruned=pruned)


@pytest.fixture(scope="module")
def audit(populations):
    p = populations
    return pie_tf.audit(p["dense"].argmax(-1), {"prune@0.9": p["pruned"].argmax(-1)},
                        p["labels"], attributes=p["attributes"], target_name="Blond_Hair",
                        dense_probabilities=p["dense"],
                        compressed_probabilities={"prune@0.9": p["pruned"]},
                        scores_kind="probabilities", n_bootstrap=200, seed=1)


def test_tables_are_the_functions_on_the_audits_populations(audit, populations):
    p = populations
    groups, masks = audit.groups.table, audit.groups.masks
    cie = audit.pie_mask("prune@0.9")
    dense_probs = audit.probabilities("dense")
    risk = _forecast.risk_scores(audit.predictions("dense"), dense_probs)
    expected = _forecast.forecast_quality(risk, cie, n_bootstrap=200, seed=1)
    got = audit.forecast.drop(columns="variant")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), expected[got.columns])
    _, summary = _calibration.calibration(audit.probabilities("prune@0.9"), p["labels"],
                                          list(groups["group"]), masks,
                                          group_orders=list(groups["order"]))
    got = audit.calibration[audit.calibration["population"] == "prune@0.9"]
    np.testing.assert_allclose(got["ece_mean"], summary["ece_mean"])
    flips = _flips.flip_table(audit.modes["dense"], audit.modes["prune@0.9"], p["labels"],
                              list(groups["group"]), masks)
    np.testing.assert_array_equal(audit.flips["n_negative_flips"], flips["n_negative_flips"])
    tests = _paired.paired_tests(audit.modes["dense"], audit.modes["prune@0.9"], p["labels"],
                                 list(groups["group"]), masks)
    np.testing.assert_allclose(audit.paired_tests["q_value"], tests["q_value"])
    names = set(audit.to_frames())
    assert {"forecast", "forecast_groups", "forecast_risk", "calibration", "reliability",
            "flips", "paired_tests", "group_rate_intervals", "exemplar_scores"} <= names


def test_tables_agree_with_the_papers_tables(audit):
    # Flips on "all" add up to the CIEs; the McNemar b is the negative flips.
    flips = audit.flips.set_index(["kind", "group"])
    summary = audit.pie_summary.iloc[0]
    assert flips.loc[("group", "all"), "n_cie"] == summary["n_cie"]
    paired = audit.paired_tests.set_index(["kind", "group"])
    assert paired.loc[("group", "Male"), "b"] == flips.loc[("group", "Male"), "n_negative_flips"]
    # The intervals bracket the very change the rate table reports.
    rates = audit.group_rates.set_index(["group", "metric"])
    intervals = audit.group_rate_intervals.set_index(["group", "metric"])
    key = ("Male", "false_negative_rate")
    assert intervals.loc[key, "absolute_change"] == pytest.approx(rates.loc[key,
                                                                            "absolute_change"])
    assert intervals.loc[key, "change_ci_low"] <= intervals.loc[key, "absolute_change"] <= \
        intervals.loc[key, "change_ci_high"]
    # The overindex the forecast compares with is the audit's over-index.
    fg = audit.forecast_groups.set_index(["score", "group"])
    assert fg.loc[("entropy", "Male"), "cie_overindex"] == pytest.approx(
        audit.overindex.set_index("group").loc["Male", "overindex"])
    # The graded score ranks every CIE above zero, most changed first.
    scores = audit.exemplar_scores
    assert (scores.loc[scores["cie"], "exemplar_score"] > 0).all()
    top = scores.sort_values("rank").iloc[0]
    assert top["exemplar_score"] == scores["exemplar_score"].max()
    assert set(scores["score_basis"]) == {"mean probabilities"}


def test_the_harder_group_is_forecast_and_compression_is_less_confident(audit):
    row = audit.forecast.set_index("score").loc["entropy"]
    assert row["auroc"] > 0.6 and row["auroc_ci_low"] > 0.5
    fg = audit.forecast_groups.set_index(["score", "group"])
    assert fg.loc[("entropy", "Male"), "flagged"]
    assert not fg.loc[("entropy", "not Male"), "flagged"]
    calibration = audit.calibration.set_index(["population", "group"])
    assert set(calibration["direction"]) <= {"over-confident", "under-confident"}
    assert calibration.loc[("prune@0.9", "all"), "n_bins"] == 10


def test_label_only_audit_says_what_is_undefined():
    labels = np.array([0, 1, 1, 0, 1, 0])
    dense = np.array([[0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0]])
    pruned = np.array([[0, 0, 1, 0, 1, 1], [1, 0, 1, 0, 0, 1]])
    result = pie_tf.audit(dense, {"p": pruned}, labels, n_bootstrap=20)
    assert result.calibration["status"].str.startswith("no probabilities").all()
    assert result.reliability.empty
    assert set(result.exemplar_scores["score_basis"]) == {"vote shares"}
    quality = result.forecast.set_index("score")
    assert quality.loc["entropy", "status"] == _forecast.STATUS_NO_PROBABILITIES
    assert np.isfinite(quality.loc["disagreement", "auroc"])
    assert result.forecast_groups.empty  # no attributes, no groups
