"""Flip decomposition and two-level bootstrap intervals, against plain loops."""
import math

import numpy as np
import pytest

from pie_tf.audit import _flips as flips


def test_flip_table_matches_a_loop_per_group_and_class():
    rng = np.random.default_rng(0)
    n, k = 600, 3
    labels = rng.integers(0, k, n)
    dense = np.where(rng.random(n) < 0.8, labels, rng.integers(0, k, n))
    compressed = np.where(rng.random(n) < 0.85, dense, rng.integers(0, k, n))
    male = rng.random(n) < 0.4
    table = flips.flip_table(dense, compressed, labels, ["Male", "not Male"],
                             np.stack([male, ~male], 1), class_names=["a", "b", "c"])
    subsets = {("group", "all"): np.ones(n, bool), ("group", "Male"): male,
               ("group", "not Male"): ~male}
    subsets.update({("class", name): labels == c for c, name in enumerate("abc")})
    for (kind, name), mask in subsets.items():
        row = table[(table["kind"] == kind) & (table["group"] == name)].iloc[0]
        neg = pos = other = 0
        for i in np.flatnonzero(mask):
            if dense[i] == labels[i] and compressed[i] != labels[i]:
                neg += 1
            elif dense[i] != labels[i] and compressed[i] == labels[i]:
                pos += 1
            elif dense[i] != compressed[i]:
                other += 1
        assert (row["n_negative_flips"], row["n_positive_flips"], row["n_wrong_to_wrong"]) == \
            (neg, pos, other)
        assert row["n_cie"] == neg + pos + other == (dense != compressed)[mask].sum()
        assert row["negative_flip_rate"] == pytest.approx(neg / mask.sum())
        assert row["net_flip_rate"] == pytest.approx(
            (compressed == labels)[mask].mean() - (dense == labels)[mask].mean())
    assert table.loc[table["kind"] == "class", "class"].tolist() == [0, 1, 2]


def _loop_rate(predictions, labels, members, examples, condition_fn, event_fn, mask):
    """Mean over the listed members of each member's rate on the listed examples in mask."""
    rates = []
    for m in members:
        num = den = 0
        for i in examples:
            if mask[i] and condition_fn(labels[i]):
                den += 1
                num += event_fn(predictions[m, i], labels[i])
        rates.append(num / den if den else math.nan)
    return float(np.mean(rates))


def test_rate_replicates_equal_a_loop_over_resampled_members_and_examples():
    rng = np.random.default_rng(1)
    n = 60
    labels = rng.integers(0, 2, n)
    dense = np.where(rng.random((4, n)) < 0.85, labels, 1 - labels)
    compressed = np.where(rng.random((3, n)) < 0.75, labels, 1 - labels)
    male = rng.random(n) < 0.5
    g = np.stack([np.ones(n, bool), male], 1).astype(float)
    events_d = flips.rate_events(dense, labels, positive_label=1)
    events_c = flips.rate_events(compressed, labels, positive_label=1)
    draw = np.random.default_rng(5)
    dense_w = draw.multinomial(4, np.full(4, 0.25), size=6).astype(float)
    comp_w = draw.multinomial(3, np.full(3, 1 / 3), size=6).astype(float)
    ex_w = draw.multinomial(n, np.full(n, 1 / n), size=6).astype(float)
    fpr = dict(condition_fn=lambda y: y == 0, event_fn=lambda p, y: p == 1)
    change = (flips.rate_replicates(events_c["false_positive_rate"][0].astype(float),
                                    events_c["false_positive_rate"][1].astype(float), g,
                                    comp_w, ex_w)
              - flips.rate_replicates(events_d["false_positive_rate"][0].astype(float),
                                      events_d["false_positive_rate"][1].astype(float), g,
                                      dense_w, ex_w))
    for r in range(6):
        d_members = np.repeat(np.arange(4), dense_w[r].astype(int))
        c_members = np.repeat(np.arange(3), comp_w[r].astype(int))
        examples = np.repeat(np.arange(n), ex_w[r].astype(int))
        for j, mask in enumerate((np.ones(n, bool), male)):
            expected = (_loop_rate(compressed, labels, c_members, examples, mask=mask, **fpr)
                        - _loop_rate(dense, labels, d_members, examples, mask=mask, **fpr))
            assert change[r, j] == pytest.approx(expected)


def test_interval_matches_the_paired_difference_of_proportions():
    # One member each: the member level is fixed and the example bootstrap of the change of
    # error rate has the variance of a paired difference of proportions.
    rng = np.random.default_rng(2)
    n = 3000
    labels = rng.integers(0, 2, n)
    dense = np.where(rng.random(n) < 0.9, labels, 1 - labels)[None]
    compressed = np.where(rng.random(n) < 0.93, dense[0], 1 - dense[0])[None]
    table = flips.group_rate_change_interval(dense, compressed, labels, [], np.zeros((n, 0)),
                                             positive_label=1, n_bootstrap=600, seed=0)
    row = table[(table["group"] == "all") & (table["metric"] == "error_rate")].iloc[0]
    d_err, c_err = dense[0] != labels, compressed[0] != labels
    p10, p01 = (d_err & ~c_err).mean(), (~d_err & c_err).mean()
    se = math.sqrt((p10 + p01 - (p01 - p10) ** 2) / n)
    assert row["absolute_change"] == pytest.approx(c_err.mean() - d_err.mean())
    assert row["change_ci_high"] - row["change_ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.2)
    assert row["change_ci_low"] < row["absolute_change"] < row["change_ci_high"]
    assert row["n_bootstrap_valid"] == 600


def test_more_member_spread_widens_the_interval_and_undefined_rates_say_why():
    rng = np.random.default_rng(3)
    n = 800
    labels = rng.integers(0, 2, n)
    dense = np.where(rng.random((5, n)) < 0.9, labels, 1 - labels)
    # Compressed members of very different quality: the member level dominates.
    quality = np.array([0.6, 0.7, 0.8, 0.9, 0.95])[:, None]
    compressed = np.where(rng.random((5, n)) < quality, labels, 1 - labels)
    steady = np.where(rng.random((5, n)) < 0.79, labels, 1 - labels)
    nobody = np.zeros((n, 1), bool)
    wide = flips.group_rate_change_interval(dense, compressed, labels, ["none"], nobody,
                                            positive_label=1, n_bootstrap=300)
    narrow = flips.group_rate_change_interval(dense, steady, labels, ["none"], nobody,
                                              positive_label=1, n_bootstrap=300)

    def width(t):
        row = t[(t["group"] == "all") & (t["metric"] == "error_rate")].iloc[0]
        return row["change_ci_high"] - row["change_ci_low"]

    assert width(wide) > 2 * width(narrow)
    empty = wide[wide["group"] == "none"]
    assert empty["absolute_change"].isna().all() and empty["change_ci_low"].isna().all()
    assert set(empty["status"]) == {"empty group: no examples",
                                    "no negatives in group: FPR undefined",
                                    "no positives in group: FNR undefined"}


def test_group_atoms_rebuild_every_group_row():
    rng = np.random.default_rng(4)
    for n_groups in (0, 3, 70):  # none, one 64-bit word, two words
        g = rng.random((500, n_groups)) < 0.3
        g[:, 1::7] = g[:, ::7][:, :g[:, 1::7].shape[1]]  # repeated columns: fewer atoms
        index, r = flips.group_atoms(g)
        np.testing.assert_array_equal(r[index], g.astype(float))
        assert len(r) == len({tuple(row) for row in g.tolist()})
