"""Protected attributes: which groups compression identified exemplars over-index, and how the
error rates of groups move under compression (Hooker et al., arXiv 2010.03058).

Groups. Every attribute gives two groups (``"Male"`` and ``"not Male"``); every intersection of
two or more protected attributes gives one group per combination of values
(``"Blond_Hair ∧ Male"``, ``"Blond_Hair ∧ not Male"``, ...). The target can take part in
intersections by passing it as an attribute (``Audit`` does this with ``target_name``).

Group rates are computed with confusion counts in one matrix product per population rather than
with fairlearn's ``MetricFrame``: at CelebA scale (30 members x 19,962 examples) one MetricFrame
call over (group, member) takes about 12 s on this 2-core machine, and sklearn's
``false_negative_rate`` returns 0.0 rather than "undefined" for a group with no positives. The
tests check these rates against ``MetricFrame`` on small data.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

__all__ = ["attribute_groups", "overindex", "group_rates", "group_rate_change"]

STATUS_OK = "ok"
STATUS_EMPTY = "empty group: no examples"
STATUS_NO_CIE = "no CIEs: shares among CIEs undefined"
AND, NOT = " ∧ ", "not "


def _default_intersections(attributes):
    return list(attributes.columns) if attributes.shape[1] <= 3 else []


def attribute_groups(attributes, protected=None, max_order=None):
    """Boolean masks of every attribute group and every intersection of protected attributes.

    Parameters
    ----------
    attributes : pandas.DataFrame of bool, shape (n_examples, n_attributes)
    protected : sequence of str, optional
        Attributes whose intersections are formed. Default: all attributes when there are at
        most 3 (e.g. Male, Young and the target), otherwise none (40 CelebA attributes would
        give 79,040 third-order groups); name them to get intersections.
    max_order : int, optional
        Largest intersection size (default ``len(protected)``).

    Returns
    -------
    groups : pandas.DataFrame with columns ``group`` (name), ``order`` (1 for a single
        attribute), ``attributes`` (the attribute names joined by ``" ∧ "``), ``n_examples``.
    masks : ndarray of bool, shape (n_examples, n_groups), column ``j`` for row ``j`` of groups.
    """
    if protected is None:
        protected = _default_intersections(attributes)
    protected = list(protected)
    missing = [p for p in protected if p not in attributes.columns]
    if missing:
        raise ValueError(f"`protected` names {missing} that are not in `attributes` "
                         f"(available: {list(attributes.columns)}).")
    if max_order is None:
        max_order = max(len(protected), 1)
    if isinstance(max_order, bool) or not isinstance(max_order, (int, np.integer)) \
            or max_order < 1:
        raise ValueError(f"`max_order` must be a positive integer; got {max_order!r}.")
    rows, masks = [], []
    for name in attributes.columns:
        values = attributes[name].to_numpy()
        for value in (True, False):
            rows.append((name if value else NOT + name, 1, name))
            masks.append(values if value else ~values)
    for order in range(2, min(max_order, len(protected)) + 1):
        for names in itertools.combinations(protected, order):
            columns = attributes[list(names)].to_numpy()
            for values in itertools.product((True, False), repeat=order):
                label = AND.join(n if v else NOT + n for n, v in zip(names, values))
                rows.append((label, order, AND.join(names)))
                masks.append(np.all(columns == np.array(values), axis=1))
    n_examples = len(attributes)
    masks = np.stack(masks, axis=1) if masks else np.zeros((n_examples, 0), dtype=bool)
    groups = pd.DataFrame(rows, columns=["group", "order", "attributes"])
    groups["n_examples"] = masks.sum(axis=0)
    return groups, masks


def overindex(cie, groups, masks, *, n_bootstrap=1000, confidence=0.95, seed=0):
    """Share of each group among CIEs against its share of the evaluation set.

    ``overindex = share_cie / share_eval``; above 1 the group is over-represented among the
    examples compression changed. The confidence interval is a percentile bootstrap over
    examples: a group's statistic depends only on its 2x2 table (in group x CIE), so resampling
    the n examples with replacement is exactly a multinomial draw of that table's four cells
    with the observed cell frequencies; we draw those (seeded, vectorised) instead of index
    arrays. Replicates with no CIEs or an empty group are undefined and are left out of the
    percentiles (``n_bootstrap_valid`` says how many remained).

    Parameters
    ----------
    cie : ndarray of bool, shape (n_examples,)
    groups, masks : from :func:`attribute_groups`
    n_bootstrap : int (0 skips the interval)
    confidence : float in (0, 1)
    seed : int. Group ``j`` draws from ``numpy.random.default_rng([seed, j])``, so a group's
        interval does not depend on which other groups are audited.

    Returns
    -------
    pandas.DataFrame: the columns of ``groups`` and ``n_cie`` (CIEs in the group),
    ``share_eval`` (n_examples / n), ``share_cie`` (n_cie / total CIEs), ``cie_rate``
    (n_cie / n_examples), ``overindex``, ``ci_low``, ``ci_high``, ``n_bootstrap_valid``,
    ``status`` (``"ok"``, ``"empty group: no examples"`` or ``"no CIEs: ..."``; the undefined
    figures are NaN exactly there).
    """
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) \
            or n_bootstrap < 0:
        raise ValueError(f"`n_bootstrap` must be a non-negative integer; got {n_bootstrap!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"`confidence` must be in (0, 1); got {confidence!r}.")
    cie = np.asarray(cie, dtype=bool)
    n = cie.size
    total_cie = int(cie.sum())
    n_group = masks.sum(axis=0)
    n_cie = (masks & cie[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        share_eval = n_group / n
        share_cie = n_cie / total_cie if total_cie else np.full(len(n_group), np.nan)
        ratio = share_cie / share_eval
        cie_rate = np.where(n_group > 0, n_cie / np.maximum(n_group, 1), np.nan)
    ratio = np.where((n_group > 0) & (total_cie > 0), ratio, np.nan)
    lo, hi, valid = (np.full(len(n_group), np.nan), np.full(len(n_group), np.nan),
                     np.zeros(len(n_group), dtype=int))
    tail = 100 * (1 - confidence) / 2
    for j in range(len(n_group)):
        if n_bootstrap == 0 or np.isnan(ratio[j]):
            continue
        # cells: group & CIE, other & CIE, group & not CIE, other & not CIE
        a, g = n_cie[j], n_group[j]
        cells = np.array([a, total_cie - a, g - a, n - g - total_cie + a]) / n
        draws = np.random.default_rng([seed, j]).multinomial(n, cells, size=n_bootstrap)
        with np.errstate(invalid="ignore", divide="ignore"):
            boot = (draws[:, 0] / (draws[:, 0] + draws[:, 1])) / \
                ((draws[:, 0] + draws[:, 2]) / n)
        boot = boot[np.isfinite(boot)]
        valid[j] = boot.size
        if boot.size:
            lo[j], hi[j] = np.percentile(boot, [tail, 100 - tail])
    table = groups.copy()
    table["n_cie"] = n_cie
    table["share_eval"] = share_eval
    table["share_cie"] = share_cie
    table["cie_rate"] = cie_rate
    table["overindex"] = ratio
    table["ci_low"] = lo
    table["ci_high"] = hi
    table["n_bootstrap_valid"] = valid
    table["status"] = np.where(n_group == 0, STATUS_EMPTY,
                               np.where(total_cie == 0, STATUS_NO_CIE, STATUS_OK))
    table.attrs.update(n_cie=total_cie, n_examples=n, confidence=confidence,
                       n_bootstrap=n_bootstrap, seed=seed)
    return table


RATE_METRICS = ("error_rate", "false_positive_rate", "false_negative_rate")


def group_rates(predictions, labels, groups, masks, *, positive_label=None):
    """Per-member, per-group error rate and, for a binary target, FPR and FNR.

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    groups, masks : from :func:`attribute_groups`; an ``"all"`` group is added first.
    positive_label : int, optional
        The positive class for FPR / FNR (e.g. 1 = Blond_Hair). None computes error rate only
        (multi-class targets).

    Returns
    -------
    pandas.DataFrame in long form, columns ``member, group, order, metric, value, n_examples,
    n_condition`` where ``n_condition`` is the denominator of the rate (examples, negatives or
    positives in the group); ``value`` is NaN exactly where ``n_condition`` is 0.
    """
    predictions = np.asarray(predictions)
    labels = np.asarray(labels)
    n_members, n_examples = predictions.shape
    names = ["all"] + list(groups["group"])
    orders = [0] + list(groups["order"])
    g = np.concatenate([np.ones((n_examples, 1), dtype=bool), masks], axis=1).astype(np.float32)
    # (event per member) @ (group membership) counts events per member per group in one product;
    # float32 is exact for counts below 2**24 examples.
    events = {"error_rate": (predictions != labels[None, :], np.ones(n_examples, dtype=bool))}
    if positive_label is not None:
        pred_pos = predictions == positive_label
        true_pos = labels == positive_label
        events["false_positive_rate"] = (pred_pos & ~true_pos[None, :], ~true_pos)
        events["false_negative_rate"] = (~pred_pos & true_pos[None, :], true_pos)
    frames = []
    for metric, (event, condition) in events.items():
        numer = event.astype(np.float32) @ g                          # (members, groups)
        denom = condition.astype(np.float32) @ g                      # (groups,)
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.where(denom > 0, numer / np.maximum(denom, 1), np.nan)
        frames.append(pd.DataFrame({
            "member": np.repeat(np.arange(n_members), len(names)),
            "group": np.tile(names, n_members),
            "order": np.tile(orders, n_members),
            "metric": metric,
            "value": value.ravel().astype(np.float64),
            "n_examples": np.tile(g.sum(axis=0).astype(np.int64), n_members),
            "n_condition": np.tile(denom.astype(np.int64), n_members),
        }))
    return pd.concat(frames, ignore_index=True)


def group_rate_change(dense_rates, compressed_rates):
    """Dense against compressed group rates, aggregated over members.

    Parameters
    ----------
    dense_rates, compressed_rates : DataFrames from :func:`group_rates` on the same groups.

    Returns
    -------
    pandas.DataFrame, one row per (group, metric): ``group, order, metric, n_examples,
    n_condition, dense_mean, dense_std, compressed_mean, compressed_std, absolute_change``
    (compressed_mean - dense_mean), ``relative_change_pct`` (100 * absolute_change /
    dense_mean: the CelebA paper's "% change relative to the dense model"; NaN where the dense
    rate is 0), ``status`` (``"ok"``, ``"empty group: no examples"`` or ``"no negatives in
    group: FPR undefined"`` / ``"no positives in group: FNR undefined"``). Standard deviations
    are over members (ddof=1; NaN for one member).
    """
    keys = ["group", "order", "metric", "n_examples", "n_condition"]

    def aggregate(rates, prefix):
        out = rates.groupby(keys, sort=False)["value"].agg(["mean", "std"])
        return out.rename(columns={"mean": f"{prefix}_mean", "std": f"{prefix}_std"})

    table = aggregate(dense_rates, "dense").join(aggregate(compressed_rates, "compressed"),
                                                 how="left").reset_index()
    table["absolute_change"] = table["compressed_mean"] - table["dense_mean"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["relative_change_pct"] = np.where(
            table["dense_mean"] > 0, 100 * table["absolute_change"] / table["dense_mean"], np.nan)
    undefined = {"error_rate": STATUS_EMPTY,
                 "false_positive_rate": "no negatives in group: FPR undefined",
                 "false_negative_rate": "no positives in group: FNR undefined"}
    table["status"] = np.where(table["n_examples"] == 0, STATUS_EMPTY,
                               np.where(table["n_condition"] == 0,
                                        table["metric"].map(undefined), STATUS_OK))
    return table
