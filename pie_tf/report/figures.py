"""Figures of an audit, drawn with matplotlib's Agg backend (no display needed).

Each function takes the DataFrame the audit returned and draws it as it is: no statistic is
computed here (sorting and picking which rows to show are the only operations), so a figure
always says what the matching CSV table says.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never a window, also on machines with a display

import matplotlib.lines  # noqa: E402
import matplotlib.ticker  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

__all__ = ["class_change_figure", "overindex_figure", "group_rates_figure",
           "corruption_error_figure", "exemplar_grid_figure", "require_columns"]

_SIGNIFICANT = "#c0392b"
_NOT_SIGNIFICANT = "#b0b0b0"
_DENSE = "#34495e"
_COMPRESSED = "#e67e22"


def require_columns(frame, columns, argname):
    """Raise a ValueError naming ``argname`` when ``frame`` lacks any of ``columns``."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"`{argname}` must be a pandas DataFrame; got {type(frame).__name__}.")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"`{argname}` lacks column(s) {missing}; it has {list(frame.columns)}.")


def _variants(frame, column="variant"):
    # Keep the audit's own order (e.g. increasing sparsity), not alphabetical order.
    return list(pd.unique(frame[column])) if column in frame.columns else [None]


def _subset(frame, variant, column="variant"):
    return frame if variant is None else frame[frame[column] == variant]


def _class_names(rows):
    named = "class_name" in rows.columns and rows["class_name"].notna().all()
    return [str(c) for c in (rows["class_name"] if named else rows["class"])]


def _class_bars(ax, rows, value, sig):
    x = np.arange(len(rows))
    ax.bar(x, rows[value].to_numpy(dtype=float), color=np.where(sig, _SIGNIFICANT,
                                                                 _NOT_SIGNIFICANT), width=0.85)
    ax.axhline(0.0, color="black", linewidth=0.6)
    ax.set_xticks(x, _class_names(rows), rotation=90 if len(rows) > 4 else 0, fontsize=7)


def _class_distribution(ax, hurt_ax, rows, value, sig, most_hurt):
    """Many classes: the distribution of the change (stacked by significance) and, beside it,
    the ``most_hurt`` classes by name."""
    values = rows[value].to_numpy(dtype=float)
    finite = np.isfinite(values)
    bins = np.histogram_bin_edges(values[finite], bins=40) if finite.any() else 10
    ax.hist([values[finite & ~sig], values[finite & sig]], bins=bins, stacked=True,
            color=[_NOT_SIGNIFICANT, _SIGNIFICANT])
    ax.axvline(0.0, color="black", linewidth=0.6)
    ax.set_xlabel(value.replace("_", " "), fontsize=8)
    ax.set_ylabel("classes", fontsize=8)
    worst = rows.head(most_hurt)  # rows are sorted by the change, most hurt first
    y = np.arange(len(worst))
    hurt_ax.barh(y, worst[value].to_numpy(dtype=float),
                 color=np.where(sig[:len(worst)], _SIGNIFICANT, _NOT_SIGNIFICANT))
    hurt_ax.set_yticks(y, _class_names(worst), fontsize=7)
    hurt_ax.invert_yaxis()
    hurt_ax.axvline(0.0, color="black", linewidth=0.6)
    hurt_ax.set_title(f"{len(worst)} most hurt classes", fontsize=8)
    hurt_ax.tick_params(axis="x", labelsize=7)


def class_change_figure(class_impact, *, value="normalized_change", significant="significant",
                        max_variants=6, max_bars=40, most_hurt=15):
    """Per-class change of compressed against dense, significant classes marked.

    As Figure 2 of Hooker et al. (2019): classes sorted by their normalized change, bars of
    classes whose Welch t-test is significant in colour, the others grey. With more than
    ``max_bars`` classes (ImageNet's 1000) a bar per class is unreadable: each variant then gets
    the distribution of the change over its classes (significant ones stacked in colour) and
    the ``most_hurt`` classes by name.

    Parameters
    ----------
    class_impact : DataFrame
        One row per (variant, class) with columns ``class``, ``value`` and ``significant``
        (bool); ``variant`` when several compressed populations are audited; ``class_name``
        labels the bars; ``significant_fdr`` (after Benjamini-Hochberg) is counted in the
        titles when present.
    value : str
        Column to plot (``normalized_change`` as in the paper, or ``absolute_change``).
    significant : str
        Boolean column marking classes significant at the audit's level.
    max_variants : int
        At most this many variants get a panel (the first ones, in the audit's order).
    max_bars, most_hurt : int
        Bars drawn per variant before switching to distribution and most hurt classes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(class_impact, ["class", value, significant], "class_impact")
    variants = _variants(class_impact)[:max_variants]
    n_classes = max(len(_subset(class_impact, v)) for v in variants)
    many, few = n_classes > max_bars, n_classes <= 4
    if many:    # a row per variant: distribution | most hurt classes
        fig, axes = plt.subplots(len(variants), 2, figsize=(10, 3.0 * len(variants) + 0.6),
                                 squeeze=False, gridspec_kw={"width_ratios": [3, 2]})
        height = 3.0 * len(variants) + 0.6
    elif few:   # small panels side by side, one scale so variants compare at a glance
        cols = min(3, len(variants))
        rows_n = int(np.ceil(len(variants) / cols))
        height = 2.3 * rows_n + 0.6
        fig, grid = plt.subplots(rows_n, cols, figsize=(3.4 * cols, height), squeeze=False,
                                 sharey=True)
        for ax in grid.reshape(-1)[len(variants):]:
            fig.delaxes(ax)
        axes = grid.reshape(-1)[:len(variants), None]
    else:
        height = 2.9 * len(variants) + 0.6
        fig, axes = plt.subplots(len(variants), 1, figsize=(min(10, max(4.5, 0.22 * n_classes
                                                                        + 2.5)), height),
                                 squeeze=False)
    for row_axes, variant in zip(axes, variants):
        rows = _subset(class_impact, variant).sort_values(value, kind="stable")
        sig = rows[significant].fillna(False).astype(bool).to_numpy()
        if many:
            _class_distribution(row_axes[0], row_axes[1], rows, value, sig, most_hurt)
        else:
            _class_bars(row_axes[0], rows, value, sig)
            row_axes[0].set_ylabel(value.replace("_", " "), fontsize=8)
        name = "" if variant is None else f"{variant}: "
        fdr = ""
        if "significant_fdr" in rows.columns:
            fdr = f", {int(rows['significant_fdr'].fillna(False).astype(bool).sum())} after BH"
        title = f"{int(sig.sum())} of {len(rows)} classes significant{fdr}"
        row_axes[0].set_title(f"{variant}\n{title}" if few and variant is not None
                              else f"{name}{title}", fontsize=9)
        row_axes[0].tick_params(labelsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_SIGNIFICANT),
               plt.Rectangle((0, 0), 1, 1, color=_NOT_SIGNIFICANT)]
    fig.legend(handles, ["significant", "not significant"], loc="upper right", fontsize=7,
               ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / height))
    return fig


def _support(frame, min_examples, min_cies):
    """Rows with enough examples and CIEs (all rows when the table lacks the counts)."""
    if not {"n_examples", "n_cie"} <= set(frame.columns):
        return np.ones(len(frame), dtype=bool)
    return ((frame["n_examples"] >= min_examples) & (frame["n_cie"] >= min_cies)).to_numpy()


def overindex_figure(overindex, *, ratio="overindex", low="ci_low", high="ci_high", group="group",
                     min_examples=30, min_cies=5, max_order=2):
    """Over-index ratio of each group among CIEs, with its confidence interval, on a log scale.

    A ratio above 1 means the group is more frequent among the exemplars than in the evaluation
    set (Hooker et al. 2020, Table 2). Groups with fewer than ``min_examples`` examples or
    ``min_cies`` CIEs (for every variant) are drawn apart, below a line, in grey; the axis is
    scaled to the supported ones, so one variant with a single CIE in a small group (ratio near
    200, interval from 0 to 600) does not squash the rest onto 1. Ratios of 0 and bounds beyond
    the axis are drawn at its edge (arrow heads).

    Parameters
    ----------
    overindex : DataFrame
        One row per (variant, group) with columns ``group``, ``overindex`` (the ratio),
        ``ci_low``, ``ci_high`` and, for the support rule, ``n_examples`` and ``n_cie``;
        ``order`` limits the groups to intersections of at most ``max_order`` attributes.
        Rows whose ratio is undefined (NaN: no CIEs, empty group) are gaps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(overindex, [group, ratio, low, high], "overindex")
    if "order" in overindex.columns and max_order is not None:
        overindex = overindex[overindex["order"] <= max_order]
    variants = _variants(overindex)
    ok = _support(overindex, min_examples, min_cies)
    strong = set(overindex.loc[ok, group])
    # supported groups first (largest ratio first), then the others
    order = overindex.assign(_ok=ok).groupby(group, sort=False).agg(
        _ok=("_ok", "max"), _r=(ratio, "max"))
    order = order.sort_values(["_ok", "_r"], ascending=[False, False], kind="stable")
    groups = list(order.index)
    n_strong = int(order["_ok"].sum())
    values = overindex.loc[ok, [ratio, low, high]].to_numpy(dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    lo_lim, hi_lim = (min(values.min(), 1.0) / 1.3, max(values.max(), 1.0) * 1.3) \
        if values.size else (0.1, 10.0)
    lo_lim, hi_lim = min(lo_lim, 0.5), max(hi_lim, 2.0)
    per = max(1, len(variants))
    # supported groups get a row per variant; the others share one compact row each
    height = 0.085 * per + 0.12
    y_of = {g: i * height * 1.0 for i, g in enumerate(groups[:n_strong])}
    base = n_strong * height + 0.25
    y_of.update({g: base + 0.22 * i for i, g in enumerate(groups[n_strong:])})
    span = max(y_of.values()) if y_of else 1.0
    fig, ax = plt.subplots(figsize=(10, span + 1.9))
    step = 0.085
    cmap = plt.get_cmap("viridis", max(2, len(variants)))
    for k, variant in enumerate(variants):
        rows = _subset(overindex, variant).set_index(group).reindex(groups)
        strong_row = np.array([g in strong for g in groups])
        y = np.array([y_of[g] for g in groups]) + np.where(
            strong_row, (k - (per - 1) / 2) * step, 0.0)
        r = rows[ratio].to_numpy(dtype=float)
        lo = np.clip(rows[low].to_numpy(dtype=float), lo_lim, hi_lim)
        hi = np.clip(rows[high].to_numpy(dtype=float), lo_lim, hi_lim)
        shown = np.clip(r, lo_lim, hi_lim)
        sup = strong_row & np.isfinite(r)
        if "n_examples" in rows.columns and "n_cie" in rows.columns:
            sup &= ((rows["n_examples"] >= min_examples) & (rows["n_cie"] >= min_cies)).to_numpy()
        colour = cmap(k)
        if sup.any():
            ax.errorbar(shown[sup], y[sup], xerr=np.abs(np.vstack([shown - lo, hi - shown])
                                                        [:, sup]),
                        fmt="o", capsize=2, color=colour, markersize=5, linewidth=1,
                        label=str(variant) if variant is not None else None)
        weak = ~sup & np.isfinite(r)
        inside = weak & (r >= lo_lim) & (r <= hi_lim)
        ax.plot(shown[inside], y[inside], linestyle="none", marker="o", markersize=5,
                markerfacecolor="white", markeredgecolor="#aaaaaa")
        for mask, marker in ((weak & (r < lo_lim), "<"), (weak & (r > hi_lim), ">"),
                             (sup & ((r < lo_lim) | (r > hi_lim)), "D")):
            if mask.any():
                ax.plot(shown[mask], y[mask], linestyle="none", marker=marker, markersize=5,
                        color="#999999")
    ax.set_xscale("log")
    ax.set_xlim(lo_lim, hi_lim)
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500)
             if lo_lim <= t <= hi_lim]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=8)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
    if 0 < n_strong < len(groups):
        line = base - 0.17
        ax.axhline(line, color="#888888", linewidth=0.8)
        ax.text(hi_lim, line + 0.03, f"below: under {min_examples} examples or {min_cies} CIEs "
                "for every variant (grey, no interval)", ha="right", va="top", fontsize=7,
                color="#666666")
    ax.set_yticks([y_of[g] for g in groups], groups, fontsize=8)
    ax.set_ylim(span + 0.3, -0.3 - 0.06 * per)
    for label, name in zip(ax.get_yticklabels(), groups):
        if name not in strong:
            label.set_color("#888888")
    ax.set_xlabel("share among CIEs / share in evaluation set (log scale)")
    ax.set_title("Over-indexing of groups among compression-identified exemplars", fontsize=10)
    if variants != [None]:  # every variant, also one without a supported group
        handles = [matplotlib.lines.Line2D([], [], marker="o", linestyle="none", color=cmap(k))
                   for k in range(len(variants))]
        ax.legend(handles, [str(v) for v in variants], fontsize=7, loc="upper left",
                  bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(axis="x", alpha=0.3, which="both")
    fig.tight_layout()
    return fig


def _rate_rows(rows, group, max_order, extra_groups):
    """The groups a rate panel shows: ``all``, groups of at most ``max_order`` attributes and
    ``extra_groups``; not a group whose condition set is the whole one (the target itself), nor
    one with an empty condition, nor one repeating another's rate (FNR of Blond_Hair ∧ Male is
    the FNR of Male)."""
    if "order" in rows.columns and max_order is not None:
        rows = rows[(rows["order"] <= max_order) | rows[group].isin(list(extra_groups))]
    if "n_condition" not in rows.columns:
        return rows
    whole = set(rows.loc[rows[group] == "all", "n_condition"])
    keep = (rows[group] == "all") | ~rows["n_condition"].isin(whole)
    rows = rows[keep & (rows["n_condition"] > 0)]
    firsts = rows.drop_duplicates(group)
    firsts = firsts.drop_duplicates(["n_condition", "dense_mean"])
    return rows[rows[group].isin(firsts[group])]


def group_rates_figure(group_rates, *, metrics=("false_positive_rate", "false_negative_rate"),
                       group="group", max_order=1, extra_groups=(), min_condition=30):
    """Per-group rates (FPR and FNR by default) as the change from dense to each compressed
    population, group by group (the papers' presentation).

    One bar per (group, variant): compressed minus dense rate in points, with the compressed
    population's spread (sd over members) as the error bar; each group's label gives the dense
    rate. Groups with fewer than ``min_condition`` examples in the condition (negatives for
    FPR, positives for FNR) are grey.

    Parameters
    ----------
    group_rates : DataFrame
        As ``pie_tf.audit`` returns it: one row per (variant, group, metric) with columns
        ``group``, ``metric``, ``dense_mean``, ``compressed_mean`` and optional
        ``compressed_std``, ``order``, ``n_condition``; ``variant`` when several compressed
        populations are audited against one dense population.
    metrics : sequence of str
        Values of ``metric`` to draw, one panel each; those absent are skipped (a multi-class
        target has ``error_rate`` only, which is then drawn instead).
    max_order, extra_groups
        Groups of at most ``max_order`` attributes (``"all"`` is order 0) and those named in
        ``extra_groups`` (e.g. the rare intersection) are drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(group_rates, [group, "metric", "dense_mean", "compressed_mean"],
                    "group_rates")
    present = [m for m in metrics if m in set(group_rates["metric"])]
    if not present:
        present = list(pd.unique(group_rates["metric"]))[:1]
    variants = _variants(group_rates)
    per = max(1, len(variants))
    panels = [_rate_rows(group_rates[group_rates["metric"] == m], group, max_order,
                         extra_groups) for m in present]
    n_groups = max([len(pd.unique(p[group])) for p in panels] + [1])
    fig, axes = plt.subplots(1, len(present), figsize=(5.6 * len(present),
                                                       (0.12 * per + 0.2) * n_groups + 1.6),
                             squeeze=False)
    step = 0.8 / per
    cmap = plt.get_cmap("plasma", max(2, per + 1))
    for ax, metric, rows_m in zip(axes[0], present, panels):
        groups = list(pd.unique(rows_m[group]))
        first = _subset(rows_m, variants[0]).set_index(group).reindex(groups)
        weak = (first["n_condition"] < min_condition).to_numpy() \
            if "n_condition" in first.columns else np.zeros(len(groups), bool)
        for k, variant in enumerate(variants):
            rows = _subset(rows_m, variant).set_index(group).reindex(groups)
            y = np.arange(len(groups)) + (k - (per - 1) / 2) * step
            change = 100 * (rows["compressed_mean"] - rows["dense_mean"]).to_numpy(dtype=float)
            spread = 100 * rows["compressed_std"].fillna(0).to_numpy(dtype=float) \
                if "compressed_std" in rows.columns else None
            colours = [("#cccccc" if w else cmap(k)) for w in weak]
            ax.barh(y, change, height=step, color=colours, xerr=spread,
                    error_kw={"linewidth": 0.8, "ecolor": "#555555"},
                    label="compressed" if variant is None else str(variant))
        ax.axvline(0.0, color="black", linewidth=0.8)
        dense = first["dense_mean"].to_numpy(dtype=float)
        ax.set_yticks(np.arange(len(groups)),
                      [f"{g}\n(dense {100 * d:.1f}%)" for g, d in zip(groups, dense)],
                      fontsize=7)
        for label, w in zip(ax.get_yticklabels(), weak):
            if w:
                label.set_color("#999999")
        ax.invert_yaxis()
        name = metric.replace("_", " ")
        ax.set_xlabel(f"change of {name}, compressed - dense, points (± sd over members)",
                      fontsize=8)
        ax.set_title(f"{name}: change from dense, per group", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(6, len(labels)),
               frameon=False)
    height = fig.get_size_inches()[1]
    fig.tight_layout(rect=(0, 0.35 / height, 1, 1))
    return fig


def corruption_error_figure(robustness, *, summary=None, x=None, error="error_mean"):
    """Error under each corruption against sparsity (one line per corruption).

    Parameters
    ----------
    robustness : DataFrame
        As ``Audit.robustness``: one row per (population, corruption) with columns
        ``population``, ``corruption`` and ``error`` (mean over severities and members).
    summary : DataFrame, optional
        As ``Audit.robustness_summary``: its ``clean_error_mean`` is drawn as a bold line.
    x : mapping population -> float, optional
        Where each population sits on the x axis (its sparsity; 0 for dense); populations it
        does not name (e.g. quantized ones) are left out of the figure, not of the tables.
        Default: every population in the audit's order, evenly spaced and labelled by name.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(robustness, ["population", "corruption", error], "robustness")
    populations = list(pd.unique(robustness["population"]))
    if x is None:
        positions = {p: float(k) for k, p in enumerate(populations)}
    else:
        positions = {p: float(x[p]) for p in populations if p in x}
        if not positions:
            raise ValueError(f"`x` places none of the populations {populations}.")
        robustness = robustness[robustness["population"].isin(positions)]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(pd.unique(robustness["corruption"]))
    cmap = plt.get_cmap("tab20", max(2, len(names)))

    def line(rows, column, **style):
        rows = rows.assign(_x=rows["population"].map(positions)).sort_values("_x")
        ax.plot(rows["_x"].to_numpy(dtype=float), rows[column].to_numpy(dtype=float),
                marker="o", markersize=3, **style)

    for k, name in enumerate(names):
        line(robustness[robustness["corruption"] == name], error, linewidth=1.0,
             color=cmap(k), label=str(name))
    if summary is not None and not summary.empty:
        require_columns(summary, ["population", "clean_error_mean"], "summary")
        line(summary[summary["population"].isin(positions)], "clean_error_mean",
             linewidth=2.5, color="black", label="clean")
    if x is None:
        ax.set_xticks(list(positions.values()), [str(p) for p in positions], rotation=20,
                      fontsize=8)
    ax.set_xlabel("sparsity" if x is not None else "population")
    ax.set_ylabel("top-1 error (mean over severities and members)")
    ax.set_title("Error under each corruption against sparsity", fontsize=10)
    ax.legend(fontsize=6, ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def exemplar_grid_figure(images, true_labels, dense_labels, compressed_labels, *,
                         class_names=None, columns=6, title=None, notes=None):
    """A grid of exemplar images captioned true / dense / compressed label (and ``notes``, one
    line per image, e.g. its protected attributes).

    Parameters
    ----------
    images : array_like of shape (n, height, width) or (n, height, width, channels), or a
        sequence of n images of their own sizes (raw ImageNet JPEGs differ)
        uint8 or float in [0, 1]; one channel is drawn in grey.
    true_labels, dense_labels, compressed_labels : array_like of int, shape (n,)
        The true label and the modal labels of the dense and compressed populations.
    class_names : sequence of str, optional
        Names for the integer labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = [np.asarray(image) for image in images]
    images = [image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
              for image in images]
    if not images or any(image.ndim not in (2, 3) for image in images):
        raise ValueError("`images` must be n >= 1 images of shape (H, W) or (H, W, C) (an array "
                         "(n, H, W[, C]) or a sequence); got "
                         f"{[image.shape for image in images][:5] or 'none'}.")
    labels = [np.asarray(v).reshape(-1) for v in (true_labels, dense_labels, compressed_labels)]
    if any(len(v) != len(images) for v in labels):
        raise ValueError(f"labels must have one entry per image ({len(images)}); got "
                         f"{[len(v) for v in labels]}.")
    if notes is not None and len(notes) != len(images):
        raise ValueError(f"`notes` must have one entry per image ({len(images)}); got "
                         f"{len(notes)}.")

    def name(label):
        return str(class_names[int(label)]) if class_names is not None else str(int(label))

    n = len(images)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, (2.6 if notes else 2.2) * rows),
                             squeeze=False)
    for k, ax in enumerate(axes.reshape(-1)):
        ax.axis("off")
        if k >= n:
            continue
        image = images[k]
        if image.dtype != np.uint8:
            image = np.clip(image, 0.0, 1.0)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        t, d, c = (name(v[k]) for v in labels)
        note = f"\n{notes[k]}" if notes is not None else ""
        ax.set_title(f"true {t}\ndense {d}\ncompr. {c}{note}", fontsize=7,
                     color=_SIGNIFICANT if c != t else "black")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
