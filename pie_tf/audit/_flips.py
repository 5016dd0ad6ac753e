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

__all__ = ["flip_table", "group_rate_change_interval", "group_rate_change_intervals",
           "rate_events", "rate_replicates"]


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


def group_atoms(g):
    """Examples with the same group memberships form one atom.

    Returns
    -------
    index : ndarray of int, shape (n_examples,): the atom of each example
    r : ndarray of float64, shape (n_atoms, n_groups): the 0/1 map from atoms to groups, so
        that ``g[i] == r[index[i]]``. CelebA's 27 groups of Male, Young and Blond_Hair come from
        8 atoms (at most 2^attributes and at most n_examples).
    """
    g = np.asarray(g) > 0
    n_examples, n_groups = g.shape
    index = np.zeros(n_examples, dtype=np.int64)
    # Rows packed into 64-bit keys, 64 groups at a time (np.unique(axis=0) sorts row by row as
    # byte strings, ~50x slower at CelebA scale).
    for start in range(0, n_groups, 64):
        packed = np.packbits(g[:, start:start + 64], axis=1, bitorder="little")
        packed = np.pad(packed, ((0, 0), (0, 8 - packed.shape[1])))
        _, key = np.unique(packed.view(np.uint64).ravel(), return_inverse=True)
        _, index = np.unique(index * (key.max() + 1) + key, return_inverse=True)
    _, first = np.unique(index, return_index=True)
    return index.ravel(), g[first].astype(np.float64)


def _atoms(g):
    """``g = U @ R`` with ``U`` the one-hot atom indicator; ``g`` itself (and the identity)
    when there are no fewer atoms than groups."""
    index, r = group_atoms(g)
    if r.shape[0] >= g.shape[1]:
        return g, np.eye(g.shape[1])
    u = np.zeros((g.shape[0], r.shape[0]))
    u[np.arange(g.shape[0]), index] = 1.0
    return u, r


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
    numer = _numerators(event, _atoms(g), member_w, example_w)
    denom = _denominators(condition, _atoms(g), example_w)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, numer / np.where(denom > 0, denom, 1.0), np.nan)


def _numerators(event, atoms, member_w, example_w):
    """``((a @ E) * w) @ g / sum(a)``, on the examples where some member has the event (the
    others add nothing), summed per atom first."""
    sub, hit, u_hit, r = _event_columns(event, atoms)
    # float32 is exact here: every term is an integer count and the sums stay below 2**24
    # (members x draws of one example x examples; 30 x 10 x 20,000 = 6e6).
    numer = ((member_w.astype(np.float32) @ sub) * example_w[:, hit].astype(np.float32)) @ u_hit
    return (numer.astype(np.float64) @ r) / member_w.sum(axis=1, keepdims=True)


def _event_columns(event, atoms):
    """The columns of ``event`` with some event and the atoms' rows of those examples."""
    if isinstance(event, tuple):  # already reduced by the caller, once for every chunk
        return event
    u, r = atoms
    hit = event.any(axis=0)
    return event[:, hit].astype(np.float32), hit, u[hit].astype(np.float32), r


def _denominators(condition, atoms, example_w):
    u, r = atoms
    keep = condition > 0
    return (example_w[:, keep] @ u[keep]) @ r


def group_rate_change_intervals(dense_predictions, compressed_predictions, labels, group_names,
                                group_masks, *, positive_label=None, n_bootstrap=1000,
                                confidence=0.95, seed=0, chunk=100):
    """:func:`group_rate_change_interval` for several variants against one dense population.

    The dense members' and the examples' draws are shared by every variant (so the dense
    replicates are computed once); each variant's members are drawn from
    ``numpy.random.default_rng([seed, 1])``, so a variant gets the same interval alone or among
    others.

    Parameters
    ----------
    compressed_predictions : mapping variant -> ndarray of int, shape (n_members, n_examples)

    Returns
    -------
    pandas.DataFrame: ``variant`` and the columns of :func:`group_rate_change_interval`.
    """
    check_bootstrap(n_bootstrap, confidence)
    labels = np.asarray(labels)
    n_examples = labels.size
    g = _group_matrix(n_examples, group_masks).astype(np.float64)
    atoms = _atoms(g)
    names = ["all"] + list(group_names)
    dense_events = rate_events(dense_predictions, labels, positive_label)
    n_dense = np.shape(dense_predictions)[0]
    rng = np.random.default_rng(seed)
    draws = []
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        draws.append((draw_counts(rng, n_dense, b), draw_counts(rng, n_examples, b)))
    member_draws = {}
    for variant, predictions in compressed_predictions.items():
        member_rng = np.random.default_rng([seed, 1])
        n_members = np.shape(predictions)[0]
        member_draws[variant] = [draw_counts(member_rng, n_members, len(w)) for w, _ in draws]
    tail = 100 * (1 - confidence) / 2
    frames = []
    for metric, (dense_event, condition) in dense_events.items():
        de, cond = dense_event.astype(np.float64), condition.astype(np.float64)
        denom = cond @ g
        with np.errstate(invalid="ignore", divide="ignore"):
            dense_rate = np.where(denom > 0, de.mean(axis=0) @ g / np.where(denom > 0, denom, 1),
                                  np.nan)
        rep_denom = [_denominators(cond, atoms, ew) for _, ew in draws]
        rep_dense = []
        de_columns = _event_columns(de, atoms)
        for (dw, ew), dn in zip(draws, rep_denom):
            with np.errstate(invalid="ignore", divide="ignore"):
                rep_dense.append(np.where(dn > 0, _numerators(de_columns, atoms, dw, ew)
                                          / np.where(dn > 0, dn, 1.0), np.nan))
        undefined = {"error_rate": "empty group: no examples",
                     "false_positive_rate": "no negatives in group: FPR undefined",
                     "false_negative_rate": "no positives in group: FNR undefined"}[metric]
        for variant, predictions in compressed_predictions.items():
            ce = rate_events(predictions, labels, positive_label)[metric][0].astype(np.float64)
            ce_columns = _event_columns(ce, atoms)
            with np.errstate(invalid="ignore", divide="ignore"):
                change = np.where(denom > 0, (ce.mean(axis=0) - de.mean(axis=0)) @ g
                                  / np.where(denom > 0, denom, 1), np.nan)
            changes, relative = [], []
            for (_, ew), cw, dn, rd in zip(draws, member_draws[variant], rep_denom, rep_dense):
                with np.errstate(invalid="ignore", divide="ignore"):
                    rep = np.where(dn > 0, _numerators(ce_columns, atoms, cw, ew)
                                   / np.where(dn > 0, dn, 1.0), np.nan) - rd
                    relative.append(np.where(rd > 0, 100 * rep / rd, np.nan))
                changes.append(rep)
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
            frames.append(pd.DataFrame({
                "variant": variant, "group": names, "metric": metric, "dense_rate": dense_rate,
                "absolute_change": change,
                "change_ci_low": lo, "change_ci_high": hi,
                "relative_change_pct_ci_low": rlo, "relative_change_pct_ci_high": rhi,
                "n_bootstrap_valid": valid,
                "status": np.where(denom > 0, "ok" if n_bootstrap else "no bootstrap requested",
                                   undefined),
            }))
    table = pd.concat(frames, ignore_index=True)
    # Variant-major order, as the rate table.
    order = {v: k for k, v in enumerate(compressed_predictions)}
    return table.sort_values("variant", key=lambda s: s.map(order), kind="stable") \
        .reset_index(drop=True)


def group_rate_change_interval(dense_predictions, compressed_predictions, labels, group_names,
                               group_masks, *, positive_label=None, n_bootstrap=1000,
                               confidence=0.95, seed=0):
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
        metric, so intervals of different groups come from the same resamples (dense members
        and examples from ``numpy.random.default_rng(seed)``, compressed members from
        ``default_rng([seed, 1])``).

    Returns
    -------
    pandas.DataFrame, one row per (group, metric): ``group, metric, dense_rate`` (the dense
    member-mean rate), ``absolute_change`` (the point estimate, compressed member-mean minus
    dense member-mean, as the rate table),
    ``change_ci_low, change_ci_high, relative_change_pct_ci_low, relative_change_pct_ci_high``
    (the replicates' ``100 * change / dense rate``; replicates with a zero dense rate left out),
    ``n_bootstrap_valid``, ``status``.
    """
    return group_rate_change_intervals(
        dense_predictions, {"compressed": compressed_predictions}, labels, group_names,
        group_masks, positive_label=positive_label, n_bootstrap=n_bootstrap,
        confidence=confidence, seed=seed).drop(columns="variant")
