"""Modal labels, PIE masks and the per-example table against independent computations."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pie_tf.audit._pie import (agreement_share, mean_probability_labels, modal_labels, pie_mask,
                              pie_summary, pie_table)


def _pandas_reference_mode(predictions):
    """The reference code's rule: pandas mode per example, last (highest) entry on ties."""
    long = pd.DataFrame({"example": np.tile(np.arange(predictions.shape[1]),
                                            predictions.shape[0]),
                         "label": predictions.ravel()})
    return long.groupby("example")["label"].agg(lambda s: s.mode().iloc[-1]).to_numpy()


def _loop_mode(predictions, tie_break):
    out = []
    for column in predictions.T:
        values, counts = np.unique(column, return_counts=True)
        winners = values[counts == counts.max()]
        out.append(winners.min() if tie_break == "lowest" else winners.max())
    return np.array(out)


@pytest.mark.parametrize("n_members,n_classes", [(1, 5), (2, 3), (7, 4), (30, 1000)])
def test_modal_labels_match_scipy_pandas_and_loops(n_members, n_classes):
    rng = np.random.default_rng(n_members)
    predictions = rng.integers(0, n_classes, size=(n_members, 400)).astype(np.int16)
    lowest, counts = modal_labels(predictions, return_counts=True)
    scipy_mode = stats.mode(predictions, axis=0)
    np.testing.assert_array_equal(lowest, scipy_mode.mode)  # scipy breaks ties to the lowest
    np.testing.assert_array_equal(counts, scipy_mode.count)
    np.testing.assert_array_equal(lowest, _loop_mode(predictions, "lowest"))
    highest = modal_labels(predictions, tie_break="highest")
    np.testing.assert_array_equal(highest, _pandas_reference_mode(predictions))
    np.testing.assert_array_equal(highest, _loop_mode(predictions, "highest"))
    assert lowest.dtype == np.int16


def test_hand_worked_ties():
    # columns: 2-2 tie between 3 and 1; unanimous 4; three-way tie 0/2/5 with one vote each
    # plus a 2-vote 5 (no tie); a 2-2 tie 0 vs 9.
    predictions = np.array([[3, 4, 0, 0],
                            [1, 4, 2, 9],
                            [3, 4, 5, 9],
                            [1, 4, 5, 0]])
    np.testing.assert_array_equal(modal_labels(predictions), [1, 4, 5, 0])
    np.testing.assert_array_equal(modal_labels(predictions, tie_break="highest"), [3, 4, 5, 9])
    _, counts = modal_labels(predictions, return_counts=True)
    np.testing.assert_array_equal(counts, [2, 4, 2, 2])
    with pytest.raises(ValueError, match="tie_break"):
        modal_labels(predictions, tie_break="random")


def test_mean_probability_labels_and_ties():
    probs = np.array([[[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]],
                      [[0.5, 0.5, 0.0], [0.6, 0.3, 0.1]]])
    # example 0: exact tie 0/1; example 1: mean [.35, .25, .4] -> 2 (the vote would tie 0/2)
    np.testing.assert_array_equal(mean_probability_labels(probs), [0, 2])
    np.testing.assert_array_equal(mean_probability_labels(probs, tie_break="highest"), [1, 2])
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6), size=(5, 50))
    expected = [int(np.argmax(sum(p[m, i] for m in range(5)))) for i in range(50)]
    np.testing.assert_array_equal(mean_probability_labels(p), expected)


def test_pie_table_and_summary_by_hand():
    labels = np.array([0, 1, 2, 2])
    dense = np.array([[0, 1, 2, 2], [0, 1, 2, 1], [0, 1, 2, 2]])
    pruned = np.array([[0, 2, 2, 2], [0, 2, 2, 1], [1, 2, 2, 2]])
    attributes = pd.DataFrame({"Male": [True, False, True, False]})
    table = pie_table(dense, pruned, labels, ids=np.array([10, 11, 12, 13]),
                      attributes=attributes)
    assert list(table.columns) == ["id", "label", "dense_mode", "compressed_mode",
                                   "dense_agreement", "compressed_agreement", "cie",
                                   "dense_mode_correct", "compressed_mode_correct", "Male"]
    assert table["cie"].tolist() == [False, True, False, False]
    np.testing.assert_allclose(table["dense_agreement"], [1, 1, 1, 2 / 3])
    np.testing.assert_allclose(table["compressed_agreement"], [2 / 3, 1, 1, 2 / 3])
    assert table["id"].tolist() == [10, 11, 12, 13]
    summary = pie_summary(dense, pruned, labels, table["cie"].to_numpy())
    assert summary["n_cie"] == 1 and summary["cie_fraction"] == 0.25
    # dense members on the one PIE (example 1): all right; on the rest: 3/3, 2/3, 3/3
    assert summary["dense_accuracy_cie"] == 1.0
    assert summary["dense_accuracy_non_cie"] == pytest.approx(np.mean([1, 2 / 3, 1]))
    assert summary["compressed_accuracy_cie"] == 0.0
    assert summary["compressed_accuracy_all_std"] == pytest.approx(
        np.std([0.75, 0.5, 0.5], ddof=1))
    with pytest.raises(ValueError, match="clash"):
        pie_table(dense, pruned, labels, attributes=pd.DataFrame({"cie": [1, 0, 1, 0]}))


def test_pie_summary_without_pies_and_agreement():
    labels = np.array([0, 1])
    same = np.array([[0, 1], [0, 1]])
    summary = pie_summary(same, same, labels, pie_mask(modal_labels(same), modal_labels(same)))
    assert summary["n_cie"] == 0
    assert np.isnan(summary["dense_accuracy_cie"])  # empty subset: NaN, n_cie says why
    np.testing.assert_allclose(agreement_share(np.array([[1, 2], [1, 3], [0, 2]]), [1, 2]),
                               [2 / 3, 2 / 3])
    with pytest.raises(ValueError, match="same length"):
        pie_mask(np.zeros(3), np.zeros(4))
