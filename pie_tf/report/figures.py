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
            ax.set_xticks(x, [str(c) for c in rows["class"]], rotation=90, fontsize=7)
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


def overindex_figure(overindex, *, ratio="ratio", low="ci_low", high="ci_high", group="group"):
    """Over-index ratio of each group among CIEs, with its confidence interval.

    A ratio above 1 means the group is more frequent among the exemplars than in the evaluation
    set (Hooker et al. 2020, Table 2).

    Parameters
    ----------
    overindex : DataFrame
        One row per (variant, group) with columns ``group``, ``ratio``, ``ci_low``, ``ci_high``.

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


def group_rates_figure(group_rates, *, rates=("fpr", "fnr"), group="group",
                       population="population", spread_suffix="_std"):
    """False positive and false negative rate per group, dense against compressed.

    Parameters
    ----------
    group_rates : DataFrame
        Long format: one row per (population, group) with columns ``group``, ``population``
        (e.g. ``"dense"`` and each compressed variant) and one column per rate; optional
        ``<rate>_std`` columns are drawn as error bars (spread over members).
    rates : sequence of str
        Rate columns, one panel each.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(group_rates, [group, population, *rates], "group_rates")
    groups = list(pd.unique(group_rates[group]))
    populations = list(pd.unique(group_rates[population]))
    fig, axes = plt.subplots(1, len(rates), figsize=(5 * len(rates), 0.5 * len(groups) + 2.0),
                             squeeze=False)
    step = 0.8 / len(populations)
    colours = [_DENSE] + [plt.get_cmap("autumn", max(2, len(populations)))(k)
                          for k in range(len(populations) - 1)]
    for ax, rate in zip(axes[0], rates):
        for k, pop in enumerate(populations):
            rows = group_rates[group_rates[population] == pop].set_index(group).reindex(groups)
            y = np.arange(len(groups)) + (k - (len(populations) - 1) / 2) * step
            spread = rows.get(rate + spread_suffix)
            ax.barh(y, rows[rate].to_numpy(dtype=float), height=step,
                    xerr=None if spread is None else spread.to_numpy(dtype=float),
                    color=colours[k], label=str(pop), error_kw={"linewidth": 0.8})
        ax.set_yticks(np.arange(len(groups)), [str(g) for g in groups], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(rate.upper())
        ax.set_title(f"{rate.upper()} per group", fontsize=10)
    axes[0, -1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def corruption_error_figure(corruption_error, *, x="sparsity", error="error",
                            corruption="corruption"):
    """Error under each corruption against sparsity (one line per corruption).

    Parameters
    ----------
    corruption_error : DataFrame
        One row per (variant, corruption) with columns ``x`` (e.g. sparsity, 0 for dense),
        ``corruption`` and ``error`` as the audit aggregated it (mean over severities).
        A ``clean`` corruption, if present, is drawn bold.

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(corruption_error, [x, error, corruption], "corruption_error")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    names = list(pd.unique(corruption_error[corruption]))
    cmap = plt.get_cmap("tab20", max(2, len(names)))
    for k, name in enumerate(names):
        rows = corruption_error[corruption_error[corruption] == name].sort_values(x)
        bold = str(name) == "clean"
        ax.plot(rows[x].to_numpy(dtype=float), rows[error].to_numpy(dtype=float),
                marker="o", markersize=3, linewidth=2.5 if bold else 1.0,
                color="black" if bold else cmap(k), label=str(name))
    ax.set_xlabel(x)
    ax.set_ylabel(error.replace("_", " "))
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
