"""Flips: which way compression changed the population's answers, per group and per class, and
two-level bootstrap intervals for the group-rate changes.

Flip decomposition, on the populations' modal labels (the labels the CIEs compare):

- a *negative flip* is an example the dense population gets right and the compressed one wrong;
- a *positive flip* is one the dense population gets wrong and the compressed one right;
- ``net_flip_rate = positive_flip_rate - negative_flip_rate`` is exactly the change of the
  modal label's accuracy in the group.

With more than two classes a CIE can also be neither (wrong to another wrong label:
``n_wrong_to_wrong``); with two classes every CIE is a flip. TFMA's ``BooleanFlipRates`` counts
the same events between a baseline and a candidate model for binary outcomes; here they are per
protected group and per true class, between populations.

Two-level bootstrap of a group-rate change. The audit reports, per group, the change of the
members' mean error rate / FPR / FNR (compressed minus dense). That figure varies with the seeds
(which members were trained) and with the evaluation sample (which examples were drawn). One
replicate resamples the dense members, the compressed members (each with replacement, within its
own population) and the examples (with replacement, one draw shared by both populations, since
they are evaluated on the same examples), and recomputes the change; the interval is the
percentile interval of the replicates. The member spread the rate table carries (``*_std``)
covers the first level only. Replicates in which a group has no example of the rate's condition
(no negatives for an FPR) are left out (``n_bootstrap_valid``).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from pie_tf.audit._resample import check_bootstrap, draw_counts

__all__ = ["flip_table", "group_rate_change_interval", "rate_events", "rate_replicates"]


def _group_matrix(n_examples, group_masks):
    return np.concatenate([np.ones((n_examples, 1), dtype=bool),
                           np.asarray(group_masks, dtype=bool).reshape(n_examples, -1)], axis=1)


def flip_table(dense_modes, compressed_modes, labels, group_names, group_masks, *,
               group_orders=None, n_classes=None, class_names=None):
    """Negative and positive flips of the modal labels per group and per true class.

    Parameters
    ----------
    dense_modes, compressed_modes : ndarray of int, shape (n_examples,)
    labels : ndarray of int, shape (n_examples,)
    group_names, group_masks : names and boolean masks (n_examples, n_groups); an ``"all"``
        group is added first.
    group_orders : sequence of int, optional
    n_classes : int, optional (default ``max(labels) + 1``)
    class_names : sequence of str, optional

    Returns
    -------
    pandas.DataFrame, one row per group then per class: ``kind`` (``"group"`` or ``"class"``),
    ``group`` (the group's name, or the class name), ``order`` (0 for "all", the intersection
    order, NaN for classes), ``class`` (NaN for groups), ``n_examples, n_cie,
    n_negative_flips, n_positive_flips, n_wrong_to_wrong, negative_flip_rate,
    positive_flip_rate, net_flip_rate`` (rates over the group's examples), ``dense_accuracy,
    compressed_accuracy`` (of the modal labels), ``status``.
    """
    dense_modes, compressed_modes = np.asarray(dense_modes), np.asarray(compressed_modes)
    labels = np.asarray(labels)
    n_examples = labels.size
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    dense_right = dense_modes == labels
    compressed_right = compressed_modes == labels
    events = np.stack([np.ones(n_examples, dtype=bool), dense_modes != compressed_modes,
                       dense_right & ~compressed_right, ~dense_right & compressed_right,
                       ~dense_right & ~compressed_right & (dense_modes != compressed_modes),
                       dense_right, compressed_right], axis=1).astype(np.float64)
    g = _group_matrix(n_examples, group_masks).astype(np.float64)
    by_group = g.T @ events                                         # (groups, events)
    by_class = np.zeros((n_classes, events.shape[1]))
    np.add.at(by_class, labels.astype(np.int64), events)
    names = ["all"] + list(group_names)
    orders = [0] + (list(group_orders) if group_orders is not None else [1] * len(group_names))
    class_labels = (list(class_names) if class_names is not None
                    else [str(c) for c in range(n_classes)])
    counts = np.concatenate([by_group, by_class])
    n = counts[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = counts / np.where(n > 0, n, np.nan)[:, None]
    table = pd.DataFrame({
        "kind": ["group"] * len(names) + ["class"] * n_classes,
        "group": names + class_labels,
        "order": np.array(orders + [np.nan] * n_classes, dtype=np.float64),
        "class": np.array([np.nan] * len(names) + list(range(n_classes)), dtype=np.float64),
        "n_examples": n.astype(np.int64),
        "n_cie": counts[:, 1].astype(np.int64),
        "n_negative_flips": counts[:, 2].astype(np.int64),
        "n_positive_flips": counts[:, 3].astype(np.int64),
        "n_wrong_to_wrong": counts[:, 4].astype(np.int64),
        "negative_flip_rate": rate[:, 2],
        "positive_flip_rate": rate[:, 3],
        "net_flip_rate": rate[:, 3] - rate[:, 2],
        "dense_accuracy": rate[:, 5],
        "compressed_accuracy": rate[:, 6],
        "status": np.where(n > 0, "ok", "empty: no examples"),
    })
    return table


def rate_events(predictions, labels, positive_label=None):
    """The event and condition of every group rate the audit reports.

    Returns
    -------
    dict metric -> (event ndarray of bool (n_members, n_examples), condition ndarray of bool
    (n_examples,)): the rate of a member on a set of examples is events / conditions there
    (``error_rate``; with ``positive_label`` also ``false_positive_rate`` and
    ``false_negative_rate``), the definitions of :func:`pie_tf.audit.group_rates`.
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    events = {"error_rate": (predictions != labels[None, :], np.ones(labels.size, dtype=bool))}
    if positive_label is not None:
        pred_pos = predictions == positive_label
        true_pos = labels == positive_label
        events["false_positive_rate"] = (pred_pos & ~true_pos[None, :], ~true_pos)
        events["false_negative_rate"] = (~pred_pos & true_pos[None, :], true_pos)
    return events


def rate_replicates(event, condition, g, member_w, example_w):
    """Member-mean rate per group in each bootstrap replicate (vectorised).

    A member's rate in group j is ``sum_i e_mi w_i g_ij / sum_i c_i w_i g_ij``; the denominator
    does not depend on the member, so the mean over resampled members is
    ``((a @ E) * w) @ g / (sum(a) * ((c * w) @ g))`` with ``a`` the members' draw counts.

    Parameters
    ----------
    event : ndarray (n_members, n_examples) of 0/1
    condition : ndarray (n_examples,) of 0/1
    g : ndarray (n_examples, n_groups) of 0/1
    member_w : ndarray (n_replicates, n_members) of draw counts
    example_w : ndarray (n_replicates, n_examples) of draw counts

    Returns
    -------
    ndarray (n_replicates, n_groups); NaN where the condition is absent in a replicate's group.
    """
    denom = (example_w * condition[None, :]) @ g                         # (B, groups)
    numer = ((member_w @ event) * example_w) @ g / member_w.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), np.nan)


def group_rate_change_interval(dense_predictions, compressed_predictions, labels, group_names,
                               group_masks, *, positive_label=None, n_bootstrap=1000,
                               confidence=0.95, seed=0, chunk=50):
    """Two-level (members and examples) percentile bootstrap of every group-rate change.

    Parameters
    ----------
    dense_predictions, compressed_predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    group_names, group_masks : an ``"all"`` group is added first, as in the rate table.
    positive_label : int, optional (FPR / FNR for a binary target)
    n_bootstrap : int (0: no interval)
    confidence : float in (0, 1)
    seed : int. One draw of members and examples per replicate is shared by every group and
        metric (``numpy.random.default_rng(seed)``), so intervals of different groups come from
        the same resamples.

    Returns
    -------
    pandas.DataFrame, one row per (group, metric): ``group, metric, dense_rate`` (the dense
    member-mean rate), ``absolute_change`` (the point estimate, compressed member-mean minus
    dense member-mean, as the rate table),
    ``change_ci_low, change_ci_high, relative_change_pct_ci_low, relative_change_pct_ci_high``
    (the replicates' ``100 * change / dense rate``; replicates with a zero dense rate left out),
    ``n_bootstrap_valid``, ``status``.
    """
    check_bootstrap(n_bootstrap, confidence)
    labels = np.asarray(labels)
    n_examples = labels.size
    g = _group_matrix(n_examples, group_masks).astype(np.float64)
    names = ["all"] + list(group_names)
    dense_events = rate_events(dense_predictions, labels, positive_label)
    compressed_events = rate_events(compressed_predictions, labels, positive_label)
    n_dense, n_compressed = np.shape(dense_predictions)[0], np.shape(compressed_predictions)[0]
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        draws.append((draw_counts(rng, n_dense, b), draw_counts(rng, n_compressed, b),
                      draw_counts(rng, n_examples, b)))
    tail = 100 * (1 - confidence) / 2
    frames = []
    for metric, (dense_event, condition) in dense_events.items():
        compressed_event = compressed_events[metric][0]
        de, ce = dense_event.astype(np.float64), compressed_event.astype(np.float64)
        cond = condition.astype(np.float64)
        denom = cond @ g
        with np.errstate(invalid="ignore", divide="ignore"):
            dense_rate = np.where(denom > 0, de.mean(axis=0) @ g / np.where(denom > 0, denom, 1),
                                  np.nan)
            change = np.where(denom > 0, (ce.mean(axis=0) - de.mean(axis=0)) @ g
                              / np.where(denom > 0, denom, 1), np.nan)
        changes, relative = [], []
        for dense_w, compressed_w, example_w in draws:
            rep_dense = rate_replicates(de, cond, g, dense_w, example_w)
            rep = rate_replicates(ce, cond, g, compressed_w, example_w) - rep_dense
            changes.append(rep)
            with np.errstate(invalid="ignore", divide="ignore"):
                relative.append(np.where(rep_dense > 0, 100 * rep / rep_dense, np.nan))
        lo = hi = rlo = rhi = np.full(len(names), np.nan)
        valid = np.zeros(len(names), dtype=np.int64)
        if draws:
            changes, relative = np.concatenate(changes), np.concatenate(relative)
            valid = np.isfinite(changes).sum(axis=0)
            with warnings.catch_warnings():
                # All-NaN columns are the undefined groups, NaN with a status already.
                warnings.simplefilter("ignore", RuntimeWarning)
                lo, hi = np.nanpercentile(changes, [tail, 100 - tail], axis=0)
                rlo, rhi = np.nanpercentile(relative, [tail, 100 - tail], axis=0)
        undefined = {"error_rate": "empty group: no examples",
                     "false_positive_rate": "no negatives in group: FPR undefined",
                     "false_negative_rate": "no positives in group: FNR undefined"}[metric]
        frames.append(pd.DataFrame({
            "group": names, "metric": metric, "dense_rate": dense_rate,
            "absolute_change": change,
            "change_ci_low": lo, "change_ci_high": hi,
            "relative_change_pct_ci_low": rlo, "relative_change_pct_ci_high": rhi,
            "n_bootstrap_valid": valid,
            "status": np.where(denom > 0, "ok" if n_bootstrap else "no bootstrap requested",
                               undefined),
        }))
    return pd.concat(frames, ignore_index=True)
