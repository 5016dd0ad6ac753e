"""Class recall and the per-class Welch t-tests against scipy run class by class."""
import numpy as np
import pytest
from scipy import stats

from pie_tf.audit._class_impact import (STATUS_ABSENT, STATUS_ONE_MEMBER, STATUS_TESTED,
                                       STATUS_ZERO_VARIANCE, class_impact, class_impact_summary,
                                       class_recall)


def _population(rng, labels, n_members, accuracy, n_classes):
    keep = rng.random((n_members, labels.size)) < accuracy
    return np.where(keep, labels, rng.integers(0, n_classes, size=keep.shape))


def _bh(p):
    """Benjamini-Hochberg written out: q_(i) = min_{j >= i} p_(j) m / j."""
    m = p.size
    order = np.argsort(p)
    q = np.empty(m)
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p[i] * m / rank)
        q[i] = running
    return q


def test_class_recall_matches_loops_and_absent_classes_are_nan():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, 60)
    labels[labels == 3] = 4  # class 3 absent
    preds = rng.integers(0, 6, size=(4, 60))
    recall = class_recall(preds, labels, 6)
    for m in range(4):
        for c in range(6):
            sel = labels == c
            if sel.any():
                assert recall[m, c] == pytest.approx(np.mean(preds[m, sel] == c))
            else:
                assert np.isnan(recall[m, c])


@pytest.mark.filterwarnings("ignore:Precision loss")  # scipy on the destroyed class, in the loop
def test_class_impact_matches_scipy_per_class():
    rng = np.random.default_rng(1)
    n_classes = 12
    labels = rng.integers(0, n_classes - 1, 900)  # the last class is absent
    dense = _population(rng, labels, 6, 0.8, n_classes)
    pruned = _population(rng, labels, 5, 0.6, n_classes)
    pruned[:, labels == 2] = (labels[labels == 2] + 1) % n_classes  # class 2 destroyed
    table = class_impact(dense, pruned, labels, n_classes, alpha=0.05)

    dense_top1 = np.mean([np.mean(dense[m] == labels) for m in range(6)])
    pruned_top1 = np.mean([np.mean(pruned[m] == labels) for m in range(5)])
    assert table.attrs["dense_top1"] == pytest.approx(dense_top1)
    p_values = []
    for c in range(n_classes - 1):
        sel = labels == c
        a = [np.mean(dense[m, sel] == c) - dense_top1 for m in range(6)]
        b = [np.mean(pruned[m, sel] == c) - pruned_top1 for m in range(5)]
        expected = stats.ttest_ind(a, b, equal_var=False)
        row = table.iloc[c]
        assert row["status"] == STATUS_TESTED
        assert row["t_statistic"] == pytest.approx(expected.statistic, rel=1e-10)
        assert row["p_value"] == pytest.approx(expected.pvalue, rel=1e-10)
        assert row["normalized_change"] == pytest.approx(np.mean(b) - np.mean(a))
        dense_recall = np.mean([np.mean(dense[m, sel] == c) for m in range(6)])
        pruned_recall = np.mean([np.mean(pruned[m, sel] == c) for m in range(5)])
        assert row["absolute_change"] == pytest.approx(pruned_recall - dense_recall)
        assert row["relative_change"] == pytest.approx((pruned_recall - dense_recall)
                                                       / dense_recall)
        p_values.append(expected.pvalue)
    p_values = np.array(p_values)
    np.testing.assert_allclose(table["q_value"][:-1], _bh(p_values), rtol=1e-10)
    assert table.iloc[2]["significant"] and table.iloc[2]["p_value"] < 1e-6
    absent = table.iloc[-1]
    assert absent["status"] == STATUS_ABSENT and absent["n_examples"] == 0
    assert np.isnan(absent["p_value"]) and np.isnan(absent["dense_recall"])
    summary = class_impact_summary(table)
    assert summary["n_classes_tested"] == n_classes - 1
    assert summary["n_significant"] == int(np.sum(p_values <= 0.05))
    assert summary["n_significant_fdr"] == int(np.sum(_bh(p_values) <= 0.05))


def test_one_member_population_is_flagged_not_silent():
    labels = np.array([0, 0, 1, 1, 2])
    dense = np.array([[0, 0, 1, 1, 2], [0, 1, 1, 1, 2]])
    table = class_impact(dense, np.array([[0, 0, 1, 0, 2]]), labels, 3)
    assert (table["status"] == STATUS_ONE_MEMBER).all()
    assert table["p_value"].isna().all() and not table["significant"].any()
    assert table["compressed_recall_std"].isna().all()
    assert table["absolute_change"].notna().all()  # the changes are still defined


def test_zero_variance_is_flagged():
    labels = np.array([0, 0, 1, 1])
    dense = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    pruned = np.array([[0, 0, 0, 1], [0, 0, 1, 0]])
    table = class_impact(dense, pruned, labels, 2)
    # class 0: recall 1 everywhere and top-1 constant within each population -> zero variance
    assert table.loc[0, "status"] == STATUS_ZERO_VARIANCE and np.isnan(table.loc[0, "p_value"])
    assert table.loc[1, "status"] == STATUS_ZERO_VARIANCE  # 0.5 - 0.75 for both members
    with pytest.raises(ValueError, match="alpha"):
        class_impact(dense, pruned, labels, 2, alpha=1.5)
    with pytest.raises(ValueError, match="class_names"):
        class_impact(dense, pruned, labels, 2, class_names=["a"])
