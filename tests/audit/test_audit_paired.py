"""Exact McNemar tests with Benjamini-Hochberg, against scipy's binomial test and a BH loop."""
import numpy as np
import pytest
from scipy import stats

from pie_tf.audit import _paired as paired


def _loop_bh(p):
    """BH by its definition: q_i = min over tests j at least as large of m p_j / rank_j."""
    m = len(p)
    rank = {j: 1 + sum(p[k] < p[j] or (p[k] == p[j] and k < j) for k in range(m))
            for j in range(m)}
    return [min(1.0, min(m * p[j] / rank[j] for j in range(m) if p[j] >= p[i]))
            for i in range(m)]


def test_mcnemar_exact_is_scipys_binomial_test():
    for b, c in [(0, 5), (3, 9), (10, 10), (1, 0), (40, 25), (200, 170)]:
        expected = stats.binomtest(b, b + c, 0.5).pvalue
        assert paired.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)
    assert np.isnan(paired.mcnemar_exact(0, 0))


def test_paired_tests_per_group_and_class_with_bh_over_the_family():
    rng = np.random.default_rng(0)
    n = 800
    labels = rng.integers(0, 3, n)
    male = rng.random(n) < 0.4
    dense = np.where(rng.random(n) < 0.85, labels, (labels + 1) % 3)
    # Compression breaks Male examples more often than it fixes them.
    breaks = rng.random(n) < np.where(male, 0.15, 0.03)
    compressed = np.where(breaks, (labels + 2) % 3, dense)
    table = paired.paired_tests(dense, compressed, labels, ["Male", "not Male"],
                                np.stack([male, ~male], 1))
    masks = {"all": np.ones(n, bool), "Male": male, "not Male": ~male}
    masks.update({str(c): labels == c for c in range(3)})
    for _, row in table.iterrows():
        mask = masks[row["group"]]
        d_ok, c_ok = dense[mask] == labels[mask], compressed[mask] == labels[mask]
        b, c = int((d_ok & ~c_ok).sum()), int((~d_ok & c_ok).sum())
        assert (row["b"], row["c"]) == (b, c)
        assert row["p_value"] == pytest.approx(stats.binomtest(b, b + c).pvalue, rel=1e-9)
    np.testing.assert_allclose(table["q_value"], _loop_bh(table["p_value"].tolist()))
    by_group = table.set_index("group")
    assert by_group.loc["Male", "significant_fdr"]
    assert by_group.loc["Male", "p_value"] < by_group.loc["not Male", "p_value"]


def test_no_discordant_examples_is_undefined_and_left_out_of_the_correction():
    labels = np.array([0, 1, 0, 1, 1])
    dense = np.array([0, 1, 1, 1, 0])
    compressed = np.array([0, 1, 1, 0, 1])  # class 0: no discordant examples
    table = paired.paired_tests(dense, compressed, labels, [], np.zeros((5, 0), bool))
    row = table[table["group"] == "0"].iloc[0]
    assert np.isnan(row["p_value"]) and np.isnan(row["q_value"])
    assert row["status"] == paired.STATUS_NO_DISCORDANT
    tested = table[table["status"] == "tested"]
    np.testing.assert_allclose(tested["q_value"], _loop_bh(tested["p_value"].tolist()))
