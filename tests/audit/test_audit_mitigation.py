"""The mitigation comparison against brute-force loops and scipy on a synthetic audit."""
import collections

import numpy as np
import pytest
from scipy import stats

import pie_tf
from pie_tf.audit import mitigation_comparison, mitigation_summary
from pie_tf.errors import InvalidArgumentError

N = 400


def _case():
    rng = np.random.default_rng(11)
    male = rng.random(N) < 0.4
    blond = rng.random(N) < np.where(male, 0.05, 0.22)
    labels = blond.astype(int)
    dense = np.repeat(labels[None], 5, axis=0)
    dense[:, rng.choice(N, 12, replace=False)] ^= 1           # the dense models' own errors
    dense[rng.integers(0, 5, 30), rng.choice(N, 30)] ^= 1     # and some seed-to-seed noise
    positives = np.flatnonzero(blond)
    hurt = np.r_[positives[male[positives]][:6], rng.choice(N, 30, replace=False)]
    baseline = dense.copy()
    baseline[:4, hurt] = 1 - labels[hurt]                     # pruning forgets `hurt`
    mitigated = dense.copy()
    mitigated[:4, hurt[::3]] = 1 - labels[hurt[::3]]          # the mitigation a third of them
    audit = pie_tf.audit(dense, {"prune_ft@0.8": baseline, "prune_kd@0.8": mitigated,
                                 "prune_rw@0.8": baseline.copy(), "prune_gw@0.8": dense.copy()},
                         labels, attributes={"Male": male}, target_name="Blond_Hair",
                         n_bootstrap=10)
    return audit.to_frames(), dict(dense=dense, baseline=baseline, mitigated=mitigated,
                                   labels=labels, male=male)


def _modes(predictions):
    out = []
    for column in predictions.T:
        counts = collections.Counter(column.tolist())
        best = max(counts.values())
        out.append(min(k for k, v in counts.items() if v == best))
    return np.array(out)


def _fnr(predictions, labels, mask):
    return np.array([np.mean(p[mask & (labels == 1)] == 0) for p in predictions])


def test_comparison_against_brute_force():
    tables, raw = _case()
    table = mitigation_comparison(tables, [("prune_kd@0.8", "prune_ft@0.8")], n_bootstrap=2000)
    labels, dense_modes = raw["labels"], _modes(raw["dense"])
    by = {(r.quantity, r.group, r.metric): r for r in table.itertuples()}

    acc = by[("top1_accuracy", "all", "accuracy")]
    acc_b = [np.mean(p == labels) for p in raw["baseline"]]
    acc_m = [np.mean(p == labels) for p in raw["mitigated"]]
    ci = stats.ttest_ind(acc_m, acc_b, equal_var=False).confidence_interval(0.95)
    assert acc.difference == pytest.approx(np.mean(acc_m) - np.mean(acc_b))
    assert (acc.ci_low, acc.ci_high) == pytest.approx((ci.low, ci.high))

    cie_b = _modes(raw["baseline"]) != dense_modes
    cie_m = _modes(raw["mitigated"]) != dense_modes
    cie = by[("n_cie", "all", "count")]
    assert (cie.baseline_value, cie.mitigated_value) == (cie_b.sum(), cie_m.sum())
    assert cie.cut_pct == pytest.approx(100 * (1 - cie_m.sum() / cie_b.sum()))
    # the paired bootstrap's spread matches the analytic one of a sum of paired differences
    d = cie_m.astype(int) - cie_b.astype(int)
    assert cie.ci_low <= cie.difference <= cie.ci_high
    assert (cie.ci_high - cie.ci_low) / (2 * 1.96) == pytest.approx(
        np.sqrt(N * d.var()), rel=0.15)

    rare = raw["male"] & (labels == 1)
    assert "Male ∧ Blond_Hair" in {k[1] for k in by}
    over = by[("overindex", "Male ∧ Blond_Hair", "overindex")]
    expected = (rare & cie_b).sum() / cie_b.sum() / rare.mean()
    assert over.baseline_value == pytest.approx(expected)
    assert over.ci_low <= over.difference <= over.ci_high

    for group, mask in (("Male", raw["male"]), ("Male ∧ Blond_Hair", rare)):
        rise = by[("rate_rise", group, "false_negative_rate")]
        dense_fnr = _fnr(raw["dense"], labels, mask).mean()
        fnr_b = _fnr(raw["baseline"], labels, mask)
        fnr_m = _fnr(raw["mitigated"], labels, mask)
        assert rise.baseline_value == pytest.approx(fnr_b.mean() - dense_fnr)
        assert rise.mitigated_value == pytest.approx(fnr_m.mean() - dense_fnr)
        ci = stats.ttest_ind(fnr_m, fnr_b, equal_var=False).confidence_interval(0.95)
        assert (rise.ci_low, rise.ci_high) == pytest.approx((ci.low, ci.high))
    assert {"not Male", "Blond_Hair"} <= set(table["group"])

    no_boot = mitigation_comparison(tables, [("prune_kd@0.8", "prune_ft@0.8")], n_bootstrap=0)
    assert no_boot.loc[no_boot["quantity"] == "n_cie", "ci_low"].isna().all()


def test_summary_says_what_helped_and_what_did_not():
    tables, _ = _case()
    pairs = [(v, "prune_ft@0.8") for v in ("prune_kd@0.8", "prune_rw@0.8", "prune_gw@0.8")]
    summary = mitigation_summary(mitigation_comparison(tables, pairs, n_bootstrap=200))
    rows = summary.set_index("variant")
    # a third of the forgotten examples remain: CIEs cut by about two thirds, top-1 better
    assert rows.loc["prune_kd@0.8", "cie_cut_pct"] > 30
    assert bool(rows.loc["prune_kd@0.8", "meets_bar"])
    assert rows.loc["prune_kd@0.8", "verdict"].startswith("meets the bar")
    # identical to the baseline: nothing cut
    assert rows.loc["prune_rw@0.8", "cie_cut_pct"] == 0
    assert not rows.loc["prune_rw@0.8", "meets_bar"]
    assert rows.loc["prune_rw@0.8", "verdict"].startswith("did not help")
    # the dense models themselves: no CIEs at all
    assert rows.loc["prune_gw@0.8", "n_cie_mitigated"] == 0
    assert rows.loc["prune_gw@0.8", "rare_group"] == "Male ∧ Blond_Hair"
    strict = mitigation_summary(mitigation_comparison(tables, pairs, n_bootstrap=0),
                                max_top1_cost=-100)
    assert not strict["meets_bar"].any()
    assert strict.set_index("variant").loc["prune_kd@0.8", "verdict"].startswith("cuts enough")
    with pytest.raises(InvalidArgumentError, match="prune_xx"):
        mitigation_comparison(tables, [("prune_xx@0.8", "prune_ft@0.8")])
