"""Figures of an audit, drawn with matplotlib's Agg backend (no display needed).

Each function takes the DataFrame the audit returned and draws it as it is: no statistic is
computed here (sorting and picking which rows to show are the only operations), so a figure
always says what the matching CSV table says.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; never a window, also on machines with a display

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


def class_change_figure(class_impact, *, value="normalized_change", significant="significant",
                        max_variants=6):
    """Per-class change of compressed against dense, significant classes marked.

    As Figure 2 of Hooker et al. (2019): classes sorted by their normalized change, bars of
    classes whose Welch t-test is significant in colour, the others grey.

    Parameters
    ----------
    class_impact : DataFrame
        One row per (variant, class) with columns ``class``, ``value`` and ``significant``
        (bool); ``variant`` when several compressed populations are audited.
    value : str
        Column to plot (``normalized_change`` as in the paper, or ``absolute_change``).
    significant : str
        Boolean column marking classes significant at the audit's level.
    max_variants : int
        At most this many variants get a panel (the first ones, in the audit's order).

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(class_impact, ["class", value, significant], "class_impact")
    variants = _variants(class_impact)[:max_variants]
    fig, axes = plt.subplots(len(variants), 1, figsize=(8, 2.4 * len(variants) + 0.6),
                             squeeze=False)
    for ax, variant in zip(axes[:, 0], variants):
        rows = _subset(class_impact, variant).sort_values(value)
        x = np.arange(len(rows))
        sig = rows[significant].astype(bool).to_numpy()
        colours = np.where(sig, _SIGNIFICANT, _NOT_SIGNIFICANT)
        ax.bar(x, rows[value].to_numpy(dtype=float), color=colours, width=0.85)
        ax.axhline(0.0, color="black", linewidth=0.6)
        if len(rows) <= 30:
            named = "class_name" in rows.columns and rows["class_name"].notna().all()
            names = rows["class_name"] if named else rows["class"]
            ax.set_xticks(x, [str(c) for c in names], rotation=90, fontsize=7)
        else:
            ax.set_xticks([])
            ax.set_xlabel("classes, sorted by change")
        name = "" if variant is None else f"{variant}: "
        ax.set_title(f"{name}{int(sig.sum())} of {len(rows)} classes significant", fontsize=9)
        ax.set_ylabel(value.replace("_", " "), fontsize=8)
    handles = [plt.Rectangle((0, 0), 1, 1, color=_SIGNIFICANT),
               plt.Rectangle((0, 0), 1, 1, color=_NOT_SIGNIFICANT)]
    fig.legend(handles, ["significant", "not significant"], loc="upper right", fontsize=8)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    return fig


def overindex_figure(overindex, *, ratio="overindex", low="ci_low", high="ci_high", group="group"):
    """Over-index ratio of each group among CIEs, with its confidence interval.

    A ratio above 1 means the group is more frequent among the exemplars than in the evaluation
    set (Hooker et al. 2020, Table 2).

    Parameters
    ----------
    overindex : DataFrame
        One row per (variant, group) with columns ``group``, ``overindex`` (the ratio),
        ``ci_low``, ``ci_high``; rows whose ratio is undefined (NaN: no CIEs, empty group)
        are drawn as gaps.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(overindex, [group, ratio, low, high], "overindex")
    variants = _variants(overindex)
    groups = list(pd.unique(overindex[group]))
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(groups) * max(1, len(variants)) ** 0.5 + 1.4))
    step = 0.8 / max(1, len(variants))
    cmap = plt.get_cmap("viridis", max(2, len(variants)))
    for k, variant in enumerate(variants):
        rows = _subset(overindex, variant).set_index(group).reindex(groups)
        y = np.arange(len(groups)) + (k - (len(variants) - 1) / 2) * step
        r = rows[ratio].to_numpy(dtype=float)
        err = np.vstack([r - rows[low].to_numpy(dtype=float),
                         rows[high].to_numpy(dtype=float) - r])
        ax.errorbar(r, y, xerr=np.abs(err), fmt="o", capsize=3, color=cmap(k),
                    label=str(variant) if variant is not None else None)
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_yticks(np.arange(len(groups)), [str(g) for g in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("share among CIEs / share in evaluation set")
    ax.set_title("Over-indexing of groups among compression-identified exemplars", fontsize=10)
    if variants != [None]:
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def group_rates_figure(group_rates, *, metrics=("false_positive_rate", "false_negative_rate"),
                       group="group"):
    """Per-group rates (FPR and FNR by default), dense against each compressed population.

    Parameters
    ----------
    group_rates : DataFrame
        As ``pie_tf.audit`` returns it: one row per (variant, group, metric) with columns
        ``group``, ``metric``, ``dense_mean``, ``compressed_mean`` and optional ``dense_std``,
        ``compressed_std`` (spread over members, drawn as error bars); ``variant`` when several
        compressed populations are audited against one dense population.
    metrics : sequence of str
        Values of ``metric`` to draw, one panel each; those absent are skipped (a multi-class
        target has ``error_rate`` only, which is then drawn instead).

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(group_rates, [group, "metric", "dense_mean", "compressed_mean"],
                    "group_rates")
    present = [m for m in metrics if m in set(group_rates["metric"])]
    if not present:
        present = list(pd.unique(group_rates["metric"]))[:1]
    groups = list(pd.unique(group_rates[group]))
    variants = _variants(group_rates)
    # The dense population is shared by every variant: its bars come from the first variant's rows.
    bars = [("dense", variants[0], "dense")] + [
        ("compressed" if v is None else str(v), v, "compressed") for v in variants]
    fig, axes = plt.subplots(1, len(present), figsize=(5 * len(present),
                                                       0.18 * len(groups) * len(bars) + 1.8),
                             squeeze=False)
    step = 0.8 / len(bars)
    colours = [_DENSE] + [plt.get_cmap("autumn", max(2, len(variants)))(k)
                          for k in range(len(variants))]
    for ax, metric in zip(axes[0], present):
        rows_m = group_rates[group_rates["metric"] == metric]
        for k, (label, variant, which) in enumerate(bars):
            rows = _subset(rows_m, variant).set_index(group).reindex(groups)
            y = np.arange(len(groups)) + (k - (len(bars) - 1) / 2) * step
            spread = rows.get(f"{which}_std")
            ax.barh(y, rows[f"{which}_mean"].to_numpy(dtype=float), height=step,
                    xerr=None if spread is None else spread.fillna(0).to_numpy(dtype=float),
                    color=colours[k], label=label, error_kw={"linewidth": 0.8})
        ax.set_yticks(np.arange(len(groups)), [str(g) for g in groups], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(metric.replace("_", " "))
        ax.set_title(f"{metric.replace('_', ' ')} per group", fontsize=10)
    axes[0, -1].legend(fontsize=7, loc="best")
    fig.tight_layout()
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
                         class_names=None, columns=6, title=None):
    """A grid of exemplar images captioned true / dense / compressed label.

    Parameters
    ----------
    images : array_like of shape (n, height, width) or (n, height, width, channels)
        uint8 or float in [0, 1]; one channel is drawn in grey.
    true_labels, dense_labels, compressed_labels : array_like of int, shape (n,)
        The true label and the modal labels of the dense and compressed populations.
    class_names : sequence of str, optional
        Names for the integer labels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(f"`images` must have shape (n, H, W) or (n, H, W, C) with n >= 1; got "
                         f"{images.shape}.")
    labels = [np.asarray(v).reshape(-1) for v in (true_labels, dense_labels, compressed_labels)]
    if any(len(v) != len(images) for v in labels):
        raise ValueError(f"labels must have one entry per image ({len(images)}); got "
                         f"{[len(v) for v in labels]}.")

    def name(label):
        return str(class_names[int(label)]) if class_names is not None else str(int(label))

    n = len(images)
    cols = min(columns, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols, 2.15 * rows), squeeze=False)
    for k, ax in enumerate(axes.reshape(-1)):
        ax.axis("off")
        if k >= n:
            continue
        image = images[k]
        if image.dtype != np.uint8:
            image = np.clip(image, 0.0, 1.0)
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None)
        t, d, c = (name(v[k]) for v in labels)
        ax.set_title(f"true {t}\ndense {d}\ncompr. {c}", fontsize=7,
                     color=_SIGNIFICANT if c != t else "black")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
