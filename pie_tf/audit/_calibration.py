"""Calibration: does a population's confidence match its accuracy, overall and per group?

Expected calibration error (Naeini et al. 2015; Guo et al. 2017), per member, on top-label
confidence: a member's confidence on an example is its largest class probability, its prediction
the argmax of its probabilities (ties to the lowest class). With ``n_bins`` equal-width bins
``B_b = ((b - 1) / n_bins, b / n_bins]`` (confidence 0 goes into the first bin),

    ECE = sum_b (|B_b| / n) * |accuracy(B_b) - mean confidence(B_b)|,

over the n examples considered (all, or one group's). Iofinova et al. (CVPR 2023) use 10 bins;
so do we by default (``n_bins`` is a parameter and every table states it). With two classes the
top-label confidence is at least 0.5, so the bins below 0.5 stay empty.

The signed gap ``mean confidence - accuracy`` says which way a population is off: positive is
over-confident, negative under-confident. It equals ``sum_b (|B_b| / n) * (confidence(B_b) -
accuracy(B_b))``, the ECE without the absolute value, so ``|gap| <= ECE``.

ECE is computed per member and then averaged over members (mean and ddof=1 std), as every
per-member rate of the audit: each member is a model someone would deploy. The reliability
diagram pools all members' (confidence, correct) pairs per bin. ECE is biased upwards on small
groups (few examples per bin): compare groups of similar size, or read ``n_examples``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pie_tf.audit._flips import group_atoms
from pie_tf.errors import InvalidArgumentError

__all__ = ["DEFAULT_N_BINS", "confidence_and_correct", "bin_index", "calibration",
           "reliability"]

DEFAULT_N_BINS = 10


def check_n_bins(n_bins):
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise InvalidArgumentError(f"`n_bins` must be a positive integer; got {n_bins!r}.")
    return int(n_bins)


def confidence_and_correct(probabilities, labels):
    """Top-label confidence and correctness of every member on every example.

    Parameters
    ----------
    probabilities : ndarray of shape (n_members, n_examples, n_classes), rows summing to one
    labels : ndarray of int, shape (n_examples,)

    Returns
    -------
    confidence : ndarray of float64, shape (n_members, n_examples)
    correct : ndarray of bool, shape (n_members, n_examples)
    """
    probabilities = np.asarray(probabilities)
    predicted = probabilities.argmax(axis=-1)
    confidence = np.take_along_axis(probabilities, predicted[..., None], axis=-1)[..., 0]
    return confidence.astype(np.float64), predicted == np.asarray(labels)[None, :]


def bin_index(confidence, n_bins):
    """Bin of each confidence: ``ceil(c * n_bins) - 1`` clipped to ``[0, n_bins)``."""
    return np.clip(np.ceil(np.asarray(confidence) * n_bins).astype(np.int64) - 1, 0, n_bins - 1)


def _per_member_bins(confidence, correct, group_matrix, n_bins):
    """Counts, confidence sums and hits per (member, group, bin).

    Examples with the same group memberships (atoms) are summed first, by one ``bincount`` over
    (atom, bin) per member; the atoms' 0/1 map then gives every group.
    """
    n_members, n_examples = confidence.shape
    atom, r = group_atoms(group_matrix)
    n_atoms = r.shape[0]
    bins = bin_index(confidence, n_bins)
    shape = (n_members, r.shape[1], n_bins)
    counts, conf_sum, hits = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    size = n_atoms * n_bins
    for m in range(n_members):
        key = atom * n_bins + bins[m]
        for out, weights in ((counts, None), (conf_sum, confidence[m]), (hits, correct[m])):
            per_atom = np.bincount(key, weights=weights, minlength=size).reshape(n_atoms, n_bins)
            out[m] = r.T @ per_atom
    return counts, conf_sum, hits


def _direction(gap):
    return np.where(np.isnan(gap), "undefined",
                    np.where(gap > 0, "over-confident",
                             np.where(gap < 0, "under-confident", "calibrated")))


def calibration(probabilities, labels, group_names, group_masks, *, n_bins=DEFAULT_N_BINS,
                group_orders=None):
    """Per-member and per-group ECE, mean confidence, accuracy and their gap.

    Parameters
    ----------
    probabilities : ndarray of shape (n_members, n_examples, n_classes)
    labels : ndarray of int, shape (n_examples,)
    group_names : sequence of str, one per column of ``group_masks``
    group_masks : ndarray of bool, shape (n_examples, n_groups)
        An ``"all"`` group is added first.
    n_bins : int
    group_orders : sequence of int, optional (the ``order`` column; 0 for ``"all"``)

    Returns
    -------
    by_member : pandas.DataFrame, one row per (member, group): ``member, group, order,
        n_examples, n_bins, ece, mean_confidence, accuracy, gap`` (``mean_confidence -
        accuracy``; NaN for an empty group).
    summary : pandas.DataFrame, one row per group: ``group, order, n_examples, n_members,
        n_bins, ece_mean, ece_std, mean_confidence, accuracy, gap_mean, gap_std, direction``
        (``"over-confident"`` when the mean gap is positive, ``"under-confident"`` when negative),
        ``status``.
    """
    n_bins = check_n_bins(n_bins)
    confidence, correct = confidence_and_correct(probabilities, labels)
    n_members, n_examples = confidence.shape
    names = ["all"] + list(group_names)
    orders = [0] + (list(group_orders) if group_orders is not None else [1] * len(group_names))
    g = np.concatenate([np.ones((n_examples, 1), dtype=bool), np.asarray(group_masks, bool)
                        .reshape(n_examples, -1)], axis=1).astype(np.float64)
    counts, conf_sum, hits = _per_member_bins(confidence, correct, g, n_bins)
    size = counts.sum(axis=-1)                                         # (members, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        ece = np.abs(hits - conf_sum).sum(axis=-1) / size              # |B|(acc - conf) summed
        mean_conf = conf_sum.sum(axis=-1) / size
        accuracy = hits.sum(axis=-1) / size
    gap = mean_conf - accuracy
    n_group = g.sum(axis=0).astype(np.int64)
    by_member = pd.DataFrame({
        "member": np.repeat(np.arange(n_members), len(names)),
        "group": np.tile(names, n_members),
        "order": np.tile(orders, n_members),
        "n_examples": np.tile(n_group, n_members),
        "n_bins": n_bins,
        "ece": ece.ravel(), "mean_confidence": mean_conf.ravel(), "accuracy": accuracy.ravel(),
        "gap": gap.ravel(),
    })

    def std(x):
        return x.std(axis=0, ddof=1) if n_members > 1 else np.full(x.shape[1], np.nan)

    with np.errstate(invalid="ignore"):
        gap_mean = gap.mean(axis=0)
        summary = pd.DataFrame({
            "group": names, "order": orders, "n_examples": n_group, "n_members": n_members,
            "n_bins": n_bins, "ece_mean": ece.mean(axis=0), "ece_std": std(ece),
            "mean_confidence": mean_conf.mean(axis=0), "accuracy": accuracy.mean(axis=0),
            "gap_mean": gap_mean, "gap_std": std(gap), "direction": _direction(gap_mean),
            "status": np.where(n_group > 0, "ok", "empty group: no examples"),
        })
    return by_member, summary


def reliability(probabilities, labels, *, n_bins=DEFAULT_N_BINS):
    """The reliability diagram's points: every member's examples pooled per confidence bin.

    Returns
    -------
    pandas.DataFrame, one row per bin: ``bin, bin_low, bin_high, n`` (member-example pairs in
    the bin), ``mean_confidence, accuracy`` (NaN for an empty bin), ``share`` (n over all pairs).
    """
    n_bins = check_n_bins(n_bins)
    confidence, correct = confidence_and_correct(probabilities, labels)
    bins = bin_index(confidence, n_bins).ravel()
    n = np.bincount(bins, minlength=n_bins).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=confidence.ravel(), minlength=n_bins) / n
        accuracy = np.bincount(bins, weights=correct.ravel(), minlength=n_bins) / n
    edges = np.arange(n_bins + 1) / n_bins
    return pd.DataFrame({"bin": np.arange(n_bins), "bin_low": edges[:-1], "bin_high": edges[1:],
                         "n": n.astype(np.int64), "mean_confidence": mean_conf,
                         "accuracy": accuracy, "share": n / n.sum()})
