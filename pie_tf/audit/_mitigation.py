"""Did a mitigation work? Each mitigated variant against the plain pruned variant it replaces.

Reads only the audit's own tables (``Audit.to_frames()``): the per-example ``pie`` table (CIE
flags and attributes) and ``group_rates_by_member``. For every (mitigated, baseline) pair it
compares, with intervals,

* top-1 accuracy: mean over members; interval of the difference by Welch's t over members;
* the number of CIEs and the over-index of the rare group among them: a paired percentile
  bootstrap over evaluation examples (both variants' CIE flags resampled together, seeded). It
  covers the sampling of the evaluation set, not the choice of seeds: the CIE set of a
  population is one number per population, so seed-to-seed variation would need populations
  of populations;
* the rise of each protected group's FPR and FNR over the dense population (the CelebA paper's
  quantity): ``rate(variant) - rate(dense)``, means over members; interval of the difference
  between the two rises (the dense term cancels) by Welch's t over members.

The verdict applies the bar the mitigations are judged by: cut the CIE count, or the rise of
the rare group's FNR, by at least ``min_cut`` (30%) while losing at most ``max_top1_cost``
(0.5 points) of top-1 accuracy. Point estimates decide; the intervals say how sure that is.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from pie_tf.errors import InvalidArgumentError

__all__ = ["mitigation_comparison", "mitigation_summary", "group_mask", "rare_group"]

COMPARISON_COLUMNS = ["variant", "baseline", "quantity", "group", "metric", "baseline_value",
                      "mitigated_value", "difference", "ci_low", "ci_high", "cut_pct",
                      "interval", "status"]
AND, NOT = " ∧ ", "not "


def group_mask(table, group):
    """Boolean mask of ``group`` (e.g. ``"Male ∧ not Young"``) over the rows of ``table``,
    whose columns hold the attributes (as the audit's ``pie`` table does)."""
    if group == "all":
        return np.ones(len(table), dtype=bool)
    mask = np.ones(len(table), dtype=bool)
    for token in group.split(AND):
        negated = token.startswith(NOT)
        name = token[len(NOT):] if negated else token
        if name not in table.columns:
            raise InvalidArgumentError(f"group {group!r} names attribute {name!r}, which is not "
                                       f"a column of the pie table ({list(table.columns)}).")
        values = table[name].to_numpy().astype(bool)
        mask &= ~values if negated else values
    return mask


def rare_group(group_rates_by_member):
    """The smallest intersection of two attributes with examples (CelebA: Blond ∧ Male)."""
    groups = group_rates_by_member.drop_duplicates("group")
    pairs = groups[(groups["order"] == 2) & (groups["n_examples"] > 0)]
    if pairs.empty:
        return None
    return str(pairs.sort_values("n_examples", kind="stable").iloc[0]["group"])


def _welch(a, b, confidence):
    """Mean difference a - b and its Welch interval (NaN with fewer than 2 members a side)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) == 0 or len(b) == 0:
        return np.nan, np.nan, np.nan, "undefined: no members with a defined rate"
    diff = a.mean() - b.mean()
    if len(a) < 2 or len(b) < 2:
        return diff, np.nan, np.nan, "no interval: fewer than 2 members"
    if np.var(a) == 0 and np.var(b) == 0:
        return diff, diff, diff, "ok"
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(confidence)
    return diff, float(ci.low), float(ci.high), "ok"


def _cut(baseline, mitigated):
    """Per cent by which ``mitigated`` cuts a positive ``baseline`` (NaN where undefined)."""
    if not np.isfinite(baseline) or not np.isfinite(mitigated) or baseline <= 0:
        return np.nan
    return 100.0 * (1.0 - mitigated / baseline)


def _rates(by_member, population, group, metric):
    rows = by_member[(by_member["population"] == population) & (by_member["group"] == group)
                     & (by_member["metric"] == metric)]
    return rows["value"].to_numpy(dtype=float)


def mitigation_comparison(tables, pairs, *, rare=None, groups=None, confidence=0.95,
                          n_bootstrap=1000, seed=0):
    """Each mitigated variant against its baseline, quantity by quantity, with intervals.

    Parameters
    ----------
    tables : dict of str -> DataFrame
        ``Audit.to_frames()`` (``pie`` and ``group_rates_by_member`` are read).
    pairs : sequence of (str, str)
        (mitigated variant, baseline variant), both audited against the same dense population,
        e.g. ``[("prune_kd@0.8", "prune_ft@0.8")]``.
    rare : str, optional
        The rare group (default :func:`rare_group`: the smallest two-attribute intersection).
    groups : sequence of str, optional
        Groups whose FPR / FNR rise is compared; default every single-attribute group and the
        rare group.
    confidence : float in (0, 1)
    n_bootstrap : int >= 0
        Paired bootstrap replicates for the CIE count and the rare group's over-index (0: none).
    seed : int

    Returns
    -------
    pandas.DataFrame, columns :data:`COMPARISON_COLUMNS`: one row per pair and quantity
    (``top1_accuracy``, ``n_cie``, ``overindex`` of the rare group, ``rate_rise`` per group and
    metric). ``difference`` is mitigated - baseline; ``cut_pct`` is the per cent by which the
    mitigation cuts the baseline's CIE count, rate rise, or the over-index's excess over 1 (NaN
    where the baseline's is not positive, with ``status`` saying so).
    """
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"`confidence` must be in (0, 1); got {confidence!r}.")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) \
            or n_bootstrap < 0:
        raise InvalidArgumentError(f"`n_bootstrap` must be a non-negative int; got "
                                   f"{n_bootstrap!r}.")
    pie, by_member = tables["pie"], tables["group_rates_by_member"]
    known = set(pie["variant"])
    for mitigated, baseline in pairs:
        for name in (mitigated, baseline):
            if name not in known:
                raise InvalidArgumentError(f"`pairs` names {name!r}, which the audit did not "
                                           f"compare with dense (audited: {sorted(known)}).")
    rare = rare_group(by_member) if rare is None else rare
    if groups is None:
        singles = by_member.loc[by_member["order"] == 1, "group"].drop_duplicates().tolist()
        groups = singles + ([rare] if rare is not None and rare not in singles else [])
    metrics = [m for m in ("false_positive_rate", "false_negative_rate")
               if m in set(by_member["metric"])]
    tail = 100 * (1 - confidence) / 2
    rows = []
    for index, (mitigated, baseline) in enumerate(pairs):
        def row(quantity, group, metric, base, mit, diff, lo, hi, cut, interval, status):
            rows.append(dict(variant=mitigated, baseline=baseline, quantity=quantity,
                             group=group, metric=metric, baseline_value=base,
                             mitigated_value=mit, difference=diff, ci_low=lo, ci_high=hi,
                             cut_pct=cut, interval=interval, status=status))

        acc_b = 1 - _rates(by_member, baseline, "all", "error_rate")
        acc_m = 1 - _rates(by_member, mitigated, "all", "error_rate")
        diff, lo, hi, status = _welch(acc_m, acc_b, confidence)
        row("top1_accuracy", "all", "accuracy", acc_b.mean(), acc_m.mean(), diff, lo, hi,
            np.nan, "Welch t over members", status)

        table_b = pie[pie["variant"] == baseline].reset_index(drop=True)
        table_m = pie[pie["variant"] == mitigated].reset_index(drop=True)
        if not np.array_equal(table_b["id"].to_numpy(), table_m["id"].to_numpy()):
            raise InvalidArgumentError(f"the pie rows of {baseline!r} and {mitigated!r} are not "
                                       "the same examples in the same order.")
        cie_b = table_b["cie"].to_numpy(bool)
        cie_m = table_m["cie"].to_numpy(bool)
        in_rare = group_mask(table_b, rare) if rare is not None else None
        n = len(cie_b)
        boot_counts = boot_ratio = None
        if n_bootstrap:
            # the same resampled examples for both variants (paired); seeded per pair
            idx = np.random.default_rng([seed, index]).integers(0, n, size=(n_bootstrap, n))
            cb, cm = cie_b[idx], cie_m[idx]
            boot_counts = cm.sum(axis=1) - cb.sum(axis=1)
            if in_rare is not None:
                g = in_rare[idx]
                with np.errstate(invalid="ignore", divide="ignore"):
                    share = g.mean(axis=1)
                    ob = ((cb & g).sum(axis=1) / cb.sum(axis=1)) / share
                    om = ((cm & g).sum(axis=1) / cm.sum(axis=1)) / share
                boot_ratio = (om - ob)[np.isfinite(om - ob)]
        nb, nm = int(cie_b.sum()), int(cie_m.sum())
        lo = hi = np.nan
        if boot_counts is not None:
            lo, hi = np.percentile(boot_counts, [tail, 100 - tail])
        row("n_cie", "all", "count", nb, nm, nm - nb, lo, hi, _cut(nb, nm),
            "paired bootstrap over examples" if n_bootstrap else "none",
            "ok" if nb > 0 else "baseline has no CIEs: cut undefined")

        if in_rare is not None:
            def ratio(cie):
                if cie.sum() == 0 or in_rare.sum() == 0:
                    return np.nan
                return ((cie & in_rare).sum() / cie.sum()) / in_rare.mean()
            ob, om = ratio(cie_b), ratio(cie_m)
            lo = hi = np.nan
            if boot_ratio is not None and boot_ratio.size:
                lo, hi = np.percentile(boot_ratio, [tail, 100 - tail])
            status = "ok" if np.isfinite(ob) and np.isfinite(om) else \
                "undefined: a variant has no CIEs or the group no examples"
            row("overindex", rare, "overindex", ob, om, om - ob, lo, hi, _cut(ob - 1, om - 1),
                "paired bootstrap over examples" if n_bootstrap else "none", status)

        for group in groups:
            for metric in metrics:
                dense = _rates(by_member, "dense", group, metric)
                rb = _rates(by_member, baseline, group, metric)
                rm = _rates(by_member, mitigated, group, metric)
                dense_mean = np.nanmean(dense) if np.isfinite(dense).any() else np.nan
                rise_b = np.nanmean(rb) - dense_mean if np.isfinite(rb).any() else np.nan
                rise_m = np.nanmean(rm) - dense_mean if np.isfinite(rm).any() else np.nan
                diff, lo, hi, status = _welch(rm, rb, confidence)
                if status == "ok" and not rise_b > 0:
                    status = "baseline rate did not rise: cut undefined"
                row("rate_rise", group, metric, rise_b, rise_m, diff, lo, hi,
                    _cut(rise_b, rise_m), "Welch t over members", status)
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def mitigation_summary(comparison, *, min_cut=30.0, max_top1_cost=0.5):
    """One row per mitigated variant: the headline numbers and a plain-words verdict.

    Parameters
    ----------
    comparison : DataFrame from :func:`mitigation_comparison`
    min_cut : float
        Per cent by which the CIE count or the rare group's FNR rise must fall.
    max_top1_cost : float
        Points of top-1 accuracy the mitigation may lose.

    Returns
    -------
    pandas.DataFrame with ``variant, baseline, top1_change_points, top1_ci_low_points,
    top1_ci_high_points, n_cie_baseline, n_cie_mitigated, cie_cut_pct, rare_group,
    rare_fnr_rise_baseline, rare_fnr_rise_mitigated, rare_fnr_rise_cut_pct,
    rare_overindex_baseline, rare_overindex_mitigated, meets_bar, verdict``.
    """
    rows = []
    for (variant, baseline), part in comparison.groupby(["variant", "baseline"], sort=False):
        def pick(quantity, metric=None, group=None):
            sel = part[part["quantity"] == quantity]
            if metric is not None:
                sel = sel[sel["metric"] == metric]
            if group is not None:
                sel = sel[sel["group"] == group]
            return sel.iloc[0] if len(sel) else None

        top1, cie, over = pick("top1_accuracy"), pick("n_cie"), pick("overindex")
        rare = over["group"] if over is not None else None
        fnr = pick("rate_rise", "false_negative_rate", rare) if rare is not None else None
        cost = -100 * top1["difference"]
        cuts = {"CIEs": cie["cut_pct"],
                "rare-group FNR rise": fnr["cut_pct"] if fnr is not None else np.nan}
        affordable = bool(np.isfinite(cost) and cost <= max_top1_cost)
        reached = [k for k, v in cuts.items() if np.isfinite(v) and v >= min_cut]
        meets = affordable and bool(reached)
        described = ", ".join(f"{k} {'cut' if v >= 0 else 'raised'} {abs(v):.0f}%"
                              for k, v in cuts.items() if np.isfinite(v))
        top1_text = f"top-1 {-cost:+.2f} points"
        if meets:
            verdict = f"meets the bar: {described}; {top1_text}"
        elif reached:
            verdict = (f"cuts enough ({described}) but costs too much: {top1_text} "
                       f"(bar: at most {max_top1_cost} points)")
        elif any(np.isfinite(v) and v > 0 for v in cuts.values()):
            verdict = f"helped less than the bar ({min_cut:.0f}%): {described}; {top1_text}"
        elif not described:
            verdict = (f"nothing to compare: the baseline left no CIEs and no rise of the "
                       f"rare group's FNR; {top1_text}")
        else:
            verdict = f"did not help: {described}; {top1_text}"
        rows.append(dict(
            variant=variant, baseline=baseline, top1_change_points=-cost,
            top1_ci_low_points=100 * top1["ci_low"], top1_ci_high_points=100 * top1["ci_high"],
            n_cie_baseline=cie["baseline_value"], n_cie_mitigated=cie["mitigated_value"],
            cie_cut_pct=cie["cut_pct"], rare_group=rare,
            rare_fnr_rise_baseline=fnr["baseline_value"] if fnr is not None else np.nan,
            rare_fnr_rise_mitigated=fnr["mitigated_value"] if fnr is not None else np.nan,
            rare_fnr_rise_cut_pct=cuts["rare-group FNR rise"],
            rare_overindex_baseline=over["baseline_value"] if over is not None else np.nan,
            rare_overindex_mitigated=over["mitigated_value"] if over is not None else np.nan,
            meets_bar=meets, verdict=verdict))
    return pd.DataFrame(rows)
