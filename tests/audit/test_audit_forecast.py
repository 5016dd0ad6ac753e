"""Dense-only risk scores and their forecast of CIEs, against scipy and plain loops."""
import collections
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pie_tf.audit import _forecast as forecast
from pie_tf.audit._resample import draw_counts
from pie_tf.errors import InvalidArgumentError


def _population(rng, n_members=7, n_examples=300, n_classes=4):
    logits = rng.normal(size=(n_members, n_examples, n_classes)) * 2
    logits += rng.normal(size=(1, n_examples, n_classes)) * 2  # shared per-example signal
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    return probs.argmax(-1), probs


def test_risk_scores_match_a_plain_loop():
    rng = np.random.default_rng(0)
    preds, probs = _population(rng)
    table = forecast.risk_scores(preds, probs)
    n_members, n_examples, n_classes = probs.shape
    for i in range(n_examples):
        counts = sorted(collections.Counter(preds[:, i].tolist()).values(), reverse=True) + [0]
        assert table["vote_margin"][i] == pytest.approx((counts[0] - counts[1]) / n_members)
        assert table["disagreement"][i] == pytest.approx(1 - counts[0] / n_members)
        mean = probs[:, i].mean(0)
        top = sorted(mean, reverse=True)
        assert table["probability_margin"][i] == pytest.approx(top[0] - top[1])
        h = stats.entropy(mean, base=2)
        assert table["entropy"][i] == pytest.approx(h / math.log2(n_classes))
        member_h = np.mean([stats.entropy(p, base=2) for p in probs[:, i]])
        assert table["mutual_information"][i] == pytest.approx(
            max(h - member_h, 0) / math.log2(n_classes), abs=1e-12)
    assert set(table.attrs["status"].values()) == {"ok"}


def test_risk_scores_without_probabilities_are_nan_with_a_status():
    preds = np.array([[0, 1, 1], [0, 1, 0], [0, 0, 1]])
    table = forecast.risk_scores(preds)
    np.testing.assert_allclose(table["vote_margin"], [1, 1 / 3, 1 / 3])
    np.testing.assert_allclose(table["disagreement"], [0, 1 / 3, 1 / 3])
    assert table["entropy"].isna().all()
    assert table.attrs["status"]["entropy"] == forecast.STATUS_NO_PROBABILITIES
    quality = forecast.forecast_quality(table, np.array([False, True, False]), n_bootstrap=0)
    row = quality.set_index("score").loc["entropy"]
    assert np.isnan(row["auroc"]) and row["status"] == forecast.STATUS_NO_PROBABILITIES


def _loop_average_precision(risk, outcome):
    # Precision at each distinct threshold (highest first), weighted by the recall it adds.
    total = outcome.sum()
    ap, tp, fp = 0.0, 0, 0
    for t in sorted(set(risk.tolist()), reverse=True):
        at = risk == t
        tp_new, fp_new = tp + outcome[at].sum(), fp + (~outcome[at]).sum()
        ap += (tp_new - tp) / total * tp_new / (tp_new + fp_new)
        tp, fp = tp_new, fp_new
    return ap


def test_auroc_is_mann_whitney_and_average_precision_a_plain_loop():
    rng = np.random.default_rng(1)
    risk = rng.integers(0, 6, 400).astype(float)  # many ties
    outcome = rng.random(400) < 0.1 + 0.1 * risk / 5
    u = stats.mannwhitneyu(risk[outcome], risk[~outcome]).statistic
    assert forecast.auroc(risk, outcome) == pytest.approx(u / (outcome.sum() * (~outcome).sum()))
    assert forecast.average_precision(risk, outcome) == pytest.approx(
        _loop_average_precision(risk, outcome))
    assert np.isnan(forecast.auroc(risk, np.zeros(400, bool)))
    with pytest.raises(InvalidArgumentError, match="`outcome` must be boolean"):
        forecast.auroc(risk, outcome.astype(int))


def test_bootstrap_replicates_equal_the_statistic_of_the_resampled_arrays():
    rng = np.random.default_rng(2)
    risk = rng.normal(size=150).round(1)
    outcome = rng.random(150) < 1 / (1 + np.exp(-2 * risk))
    draws = draw_counts(np.random.default_rng(0), 150, 20)
    pos, neg = forecast._tied_weights(risk, outcome, draws)
    auc = forecast._auroc_from_tied(pos, neg)
    ap = forecast._average_precision_from_tied(pos, neg)
    for r in range(20):
        index = np.repeat(np.arange(150), draws[r].astype(int))
        rr, oo = risk[index], outcome[index]
        u = stats.mannwhitneyu(rr[oo], rr[~oo]).statistic
        assert auc[r] == pytest.approx(u / (oo.sum() * (~oo).sum()))
        assert ap[r] == pytest.approx(_loop_average_precision(rr, oo))


def test_forecast_interval_has_the_width_of_the_hanley_mcneil_error():
    rng = np.random.default_rng(3)
    n = 2000
    risk = rng.normal(size=n)
    cie = rng.random(n) < 1 / (1 + np.exp(-(risk * 1.5 - 2)))
    scores = pd.DataFrame({"vote_margin": -risk, "disagreement": risk,
                           "probability_margin": -risk, "entropy": risk,
                           "mutual_information": risk})
    table = forecast.forecast_quality(scores, cie, n_bootstrap=400, seed=0)
    row = table.set_index("score").loc["entropy"]
    a, n1, n0 = row["auroc"], cie.sum(), (~cie).sum()
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    width = row["auroc_ci_high"] - row["auroc_ci_low"]
    assert width == pytest.approx(2 * 1.96 * se, rel=0.25)
    assert row["auroc_ci_low"] < a < row["auroc_ci_high"]
    assert row["average_precision_ci_low"] < row["average_precision"] < \
        row["average_precision_ci_high"]
    # Every score with the same ranking gets the same figures (one shared draw).
    assert table["auroc"].nunique() == 1 and table["auroc_ci_low"].nunique() == 1
    assert row["n_bootstrap_valid"] == 400 and row["status"] == "ok"


def test_flag_weights_share_the_cut_between_ties():
    risk = np.array([5, 4, 4, 4, 1, 0.0])
    w = forecast.flag_weights(risk, 3)
    np.testing.assert_allclose(w, [1, 2 / 3, 2 / 3, 2 / 3, 0, 0])
    assert forecast.flag_weights(risk, 0).sum() == 0
    assert forecast.flag_weights(risk, 6).sum() == 6


def test_forecast_groups_against_a_plain_loop():
    rng = np.random.default_rng(4)
    n = 500
    male = rng.random(n) < 0.4
    preds = np.where(rng.random((5, n)) < np.where(male, 0.7, 0.95), 1, 0)
    scores = forecast.risk_scores(preds)
    cie = rng.random(n) < np.where(male, 0.2, 0.05)
    groups = pd.DataFrame({"group": ["Male", "not Male"], "order": [1, 1],
                           "n_examples": [male.sum(), (~male).sum()]})
    masks = np.stack([male, ~male], axis=1)
    table = forecast.forecast_groups(scores, groups, masks, flag_fraction=cie.mean(), cie=cie)
    row = table[(table["score"] == "disagreement") & (table["group"] == "Male")].iloc[0]
    # Plain loop: rank by disagreement; ties at the cut share the remaining places.
    k = int(round(cie.mean() * n))
    risk = scores["disagreement"].to_numpy()
    order = sorted(range(n), key=lambda i: -risk[i])
    cut = risk[order[k - 1]]
    above = [i for i in range(n) if risk[i] > cut]
    at = [i for i in range(n) if risk[i] == cut]
    weight = {i: 1.0 for i in above}
    weight.update({i: (k - len(above)) / len(at) for i in at})
    flagged_male = sum(w for i, w in weight.items() if male[i])
    assert row["n_flagged"] == pytest.approx(flagged_male)
    assert row["flagged_overindex"] == pytest.approx((flagged_male / k) / male.mean())
    assert row["cie_overindex"] == pytest.approx((cie[male].sum() / cie.sum()) / male.mean())
    caught = sum(w for i, w in weight.items() if male[i] and cie[i])
    assert row["cie_recall"] == pytest.approx(caught / cie[male].sum())
    assert bool(row["flagged"])  # the noisier group is flagged in advance
    assert table[table["score"] == "entropy"]["status"].eq(
        forecast.STATUS_NO_PROBABILITIES).all()
    with pytest.raises(InvalidArgumentError, match="flag_fraction"):
        forecast.forecast_groups(scores, groups, masks, flag_fraction=0)
    # Flag as many as there are CIEs: none without CIEs, and the status says so.
    same = forecast.forecast_groups(scores, groups, masks, flag_fraction=None, cie=cie)
    np.testing.assert_allclose(same["flagged_overindex"], table["flagged_overindex"])
    none = forecast.forecast_groups(scores, groups, masks, flag_fraction=None,
                                    cie=np.zeros(n, bool))
    vote = none[none["score"] == "disagreement"]
    assert vote["flagged_overindex"].isna().all() and set(vote["status"]) == {"nothing flagged"}


def test_dense_forecast_needs_only_the_dense_population():
    rng = np.random.default_rng(5)
    n = 400
    male = rng.random(n) < 0.4
    # Dense members are unsure on Male examples: the forecast must flag that group.
    base = rng.normal(size=(1, n, 2)) * np.where(male, 0.2, 3.0)[None, :, None]
    logits = base + 0.3 * rng.normal(size=(6, n, 2))
    result = forecast.dense_forecast(dense_probabilities=logits, attributes={"Male": male},
                                     flag_fraction=0.2, scores_kind="logits")
    assert list(result.risk.columns) == ["id", *forecast.RISK_SCORES]
    expected = forecast.risk_scores(logits.argmax(-1), np.exp(logits) / np.exp(logits).sum(
        -1, keepdims=True))
    np.testing.assert_allclose(result.risk["entropy"], expected["entropy"], atol=1e-6)  # float32
    row = result.groups.set_index(["score", "group"]).loc[("entropy", "Male")]
    assert row["flagged"] and row["flagged_overindex"] > 2
    assert row["flag_fraction"] == pytest.approx(0.2)
    top = result.riskiest("entropy", n=10)
    entropy = result.risk["entropy"].to_numpy()
    assert sorted(top["id"]) == sorted(np.argsort(-entropy)[:10])
    assert male[top["id"].to_numpy()].mean() >= 0.7
    with pytest.raises(InvalidArgumentError, match="needs `dense_predictions`"):
        forecast.dense_forecast()
    with pytest.raises(InvalidArgumentError, match="undefined here"):
        forecast.dense_forecast(logits.argmax(-1)).riskiest("entropy")
