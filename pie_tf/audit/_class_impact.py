"""Class impact: which classes a compressed population gets disproportionately worse (or better).

Following Hooker et al. (arXiv 1911.05248), for every class we compare the per-member recall of
the dense and compressed populations with a two-sided Welch t-test (``scipy.stats.ttest_ind``,
``equal_var=False``) after subtracting from each member's class recall its POPULATION's mean
top-1 accuracy (the mean over that population's members of each member's overall accuracy).
The question is therefore "did this class change more than the model did overall?", not "did
the class change?". We subtract exactly what the paper's code subtracts: one constant per
population, the same for all members of that population.

Multiple comparisons: the paper counts classes with p <= 0.05 and makes no correction; with 1000
classes about 50 are expected to pass by chance. We report that count (``significant``) and also
Benjamini-Hochberg q-values (``scipy.stats.false_discovery_control``) over the classes tested.
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["class_recall", "class_impact", "class_impact_summary"]

STATUS_TESTED = "tested"
STATUS_ABSENT = "absent from labels: recall undefined"
STATUS_ONE_MEMBER = "fewer than 2 members in a population: Welch t-test undefined"
STATUS_ZERO_VARIANCE = "zero variance in both populations: Welch t-test undefined"


def class_recall(predictions, labels, n_classes):
    """Per-member, per-class recall (top-1 accuracy on the examples of each class).

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    n_classes : int

    Returns
    -------
    ndarray of float64, shape (n_members, n_classes); NaN for classes with no examples in
    ``labels`` (reported as such by :func:`class_impact`, never dropped).
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels).astype(np.int64)
    n_members = predictions.shape[0]
    support = np.bincount(labels, minlength=n_classes)
    # Examples grouped by class, then one add.reduceat per member row sums the hits of every
    # class at once (segments start where each present class begins).
    order = np.argsort(labels, kind="stable")
    correct = (predictions[:, order] == labels[order][None, :]).view(np.uint8)
    present = support > 0
    starts = np.concatenate([[0], np.cumsum(support[present])[:-1]])
    hits = np.zeros((n_members, n_classes))
    hits[:, present] = np.add.reduceat(correct, starts, axis=1, dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(present, hits / np.maximum(support, 1), np.nan)


def _welch(a, b):
    """Two-sided Welch t-test of every column of ``a`` against the same column of ``b``."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        # Near-constant columns trigger scipy's precision-loss warning; the zero-variance case
        # is flagged explicitly by the caller.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(a, b, axis=0, equal_var=False)
    return result.statistic, result.df, result.pvalue


def class_impact(dense_predictions, compressed_predictions, labels, n_classes, *,
                 class_names=None, alpha=0.05):
    """Per-class Welch t-test of recall shifted by each population's mean top-1 accuracy.

    Parameters
    ----------
    dense_predictions, compressed_predictions : ndarray of int, shape (n_members, n_examples)
        The two populations may have different numbers of members.
    labels : ndarray of int, shape (n_examples,)
    n_classes : int
    class_names : sequence of str, length n_classes, optional
    alpha : float
        Threshold for ``significant`` (p <= alpha, the paper's count) and ``significant_fdr``
        (q <= alpha).

    Returns
    -------
    pandas.DataFrame, one row per class (all ``n_classes``, absent ones included), columns:

    ``class, class_name, n_examples`` -- support of the class in ``labels``;
    ``dense_recall, dense_recall_std, compressed_recall, compressed_recall_std`` -- mean and
    sample std (ddof=1) over members of per-member recall;
    ``absolute_change`` -- compressed_recall - dense_recall;
    ``relative_change`` -- absolute_change / dense_recall (NaN where dense recall is 0);
    ``normalized_change`` -- (compressed_recall - compressed_top1) - (dense_recall - dense_top1),
    the difference of the shifted means the t-test compares;
    ``t_statistic, df, p_value`` -- Welch t-test (dense minus compressed, two-sided);
    ``q_value`` -- Benjamini-Hochberg over the classes whose test is defined;
    ``significant`` (p <= alpha), ``significant_fdr`` (q <= alpha);
    ``status`` -- ``"tested"`` or why the test is undefined (absent class, a population with
    fewer than 2 members, zero variance in both populations); p/q are NaN exactly there.

    ``DataFrame.attrs`` holds ``dense_top1, compressed_top1`` (the shifts) and ``alpha``.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"`alpha` must be in (0, 1); got {alpha!r}.")
    if class_names is not None and len(class_names) != n_classes:
        raise ValueError(f"`class_names` has {len(class_names)} names for {n_classes} classes.")
    labels = np.asarray(labels)
    dense_recall = class_recall(dense_predictions, labels, n_classes)
    compressed_recall = class_recall(compressed_predictions, labels, n_classes)
    dense_top1 = float((np.asarray(dense_predictions) == labels).mean(axis=1).mean())
    compressed_top1 = float((np.asarray(compressed_predictions) == labels).mean(axis=1).mean())
    a = dense_recall - dense_top1
    b = compressed_recall - compressed_top1

    support = np.bincount(labels.astype(np.int64), minlength=n_classes)
    present = support > 0
    status = np.where(present, STATUS_TESTED, STATUS_ABSENT).astype(object)
    t = np.full(n_classes, np.nan)
    df = np.full(n_classes, np.nan)
    p = np.full(n_classes, np.nan)
    if min(a.shape[0], b.shape[0]) < 2:
        status[present] = STATUS_ONE_MEMBER
    else:
        t[present], df[present], p[present] = _welch(a[:, present], b[:, present])
        # Exact test on the recalls (the shift is one constant per population): a floating
        # variance of identical values need not be exactly 0.
        zero_var = present & (np.ptp(dense_recall, axis=0) == 0) & \
            (np.ptp(compressed_recall, axis=0) == 0)
        status[zero_var] = STATUS_ZERO_VARIANCE
        t[zero_var] = df[zero_var] = p[zero_var] = np.nan
    q = np.full(n_classes, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested], method="bh")

    def std(x):
        if x.shape[0] < 2:
            return np.full(n_classes, np.nan)
        return x.std(axis=0, ddof=1)  # NaN, by construction, for absent classes

    dense_mean, compressed_mean = dense_recall.mean(axis=0), compressed_recall.mean(axis=0)
    absolute = compressed_mean - dense_mean
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(dense_mean > 0, absolute / dense_mean, np.nan)
    table = pd.DataFrame({
        "class": np.arange(n_classes),
        "class_name": (np.asarray(class_names, dtype=object) if class_names is not None
                       else np.arange(n_classes).astype(str).astype(object)),
        "n_examples": support,
        "dense_recall": dense_mean,
        "dense_recall_std": std(dense_recall),
        "compressed_recall": compressed_mean,
        "compressed_recall_std": std(compressed_recall),
        "absolute_change": absolute,
        "relative_change": relative,
        "normalized_change": b.mean(axis=0) - a.mean(axis=0),
        "t_statistic": t,
        "df": df,
        "p_value": p,
        "q_value": q,
        "significant": p <= alpha,
        "significant_fdr": q <= alpha,
        "status": status,
    })
    table.attrs.update(dense_top1=dense_top1, compressed_top1=compressed_top1, alpha=alpha)
    return table


def class_impact_summary(table):
    """Counts from a :func:`class_impact` table.

    Returns
    -------
    dict: ``n_classes, n_classes_tested, n_significant`` (p <= alpha, the paper's count),
    ``n_significant_fdr`` (BH q <= alpha), ``dense_top1, compressed_top1, alpha``.
    """
    return {
        "n_classes": int(len(table)),
        "n_classes_tested": int((table["status"] == STATUS_TESTED).sum()),
        "n_significant": int(table["significant"].sum()),
        "n_significant_fdr": int(table["significant_fdr"].sum()),
        "dense_top1": table.attrs["dense_top1"],
        "compressed_top1": table.attrs["compressed_top1"],
        "alpha": table.attrs["alpha"],
    }
