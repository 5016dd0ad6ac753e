"""Figures and page sections of the audit's statistics beyond the papers: the reliability
diagram, the forecast's AUROC with intervals, and the flip decomposition.

As in :mod:`pie_tf.report.figures`, every figure draws a table the audit returned as it is
(choosing rows and sorting are the only operations).
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pie_tf.report.figures import require_columns

__all__ = ["reliability_figure", "forecast_figure", "flips_figure", "STATISTICS_SECTIONS",
           "sort_exemplars"]


def _populations(frame, column, limit):
    names = list(pd.unique(frame[column]))
    if len(names) <= limit:
        return names
    # The reference population and the last ones (the most compressed, in the audit's order).
    return names[:1] + names[-(limit - 1):]


def reliability_figure(reliability, *, calibration=None, max_populations=6):
    """Reliability diagram: accuracy against mean confidence per confidence bin.

    Parameters
    ----------
    reliability : DataFrame
        ``Audit.reliability``: one row per (population, bin) with ``bin_low, bin_high, n,
        mean_confidence, accuracy``; empty bins (NaN) are gaps.
    calibration : DataFrame, optional
        ``Audit.calibration``: the legend then gives each population's ECE and direction
        (group ``"all"``).
    max_populations : int
        The first population (dense) and the last ``max_populations - 1`` are drawn.

    Returns
    -------
    matplotlib.figure.Figure
        Left: the diagram (points below the diagonal are over-confident bins). Right: the share
        of predictions per bin.
    """
    require_columns(reliability, ["population", "bin_low", "bin_high", "n", "mean_confidence",
                                  "accuracy"], "reliability")
    names = _populations(reliability, "population", max_populations)
    ece = {}
    if calibration is not None:
        require_columns(calibration, ["population", "group", "ece_mean", "direction", "n_bins"],
                        "calibration")
        overall = calibration[calibration["group"] == "all"].set_index("population")
        ece = {p: f" (ECE {overall.loc[p, 'ece_mean']:.3f}, {overall.loc[p, 'direction']})"
               for p in names if p in overall.index and np.isfinite(overall.loc[p, "ece_mean"])}
    fig, (ax, bar_ax) = plt.subplots(1, 2, figsize=(10, 4.2),
                                     gridspec_kw={"width_ratios": [3, 2]})
    ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=0.8, label="calibrated")
    cmap = plt.get_cmap("viridis", max(2, len(names)))
    width = 0.8 / max(1, len(names))
    for k, pop in enumerate(names):
        rows = reliability[reliability["population"] == pop]
        ax.plot(rows["mean_confidence"].to_numpy(dtype=float),
                rows["accuracy"].to_numpy(dtype=float), "o-", color=cmap(k), markersize=4,
                label=f"{pop}{ece.get(pop, '')}")
        centre = (rows["bin_low"].to_numpy(dtype=float) + rows["bin_high"].to_numpy(dtype=float))
        step = rows["bin_high"].to_numpy(dtype=float) - rows["bin_low"].to_numpy(dtype=float)
        total = max(float(rows["n"].sum()), 1.0)
        bar_ax.bar(centre / 2 + (k - (len(names) - 1) / 2) * width * step,
                   rows["n"].to_numpy(dtype=float) / total, width=width * step, color=cmap(k))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("mean confidence in bin")
    ax.set_ylabel("accuracy in bin")
    ax.set_title("Reliability (below the diagonal: over-confident)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    bar_ax.set_xlim(0, 1)
    bar_ax.set_xlabel("confidence bin")
    bar_ax.set_ylabel("share of predictions")
    bar_ax.set_title("Predictions per bin", fontsize=10)
    fig.tight_layout()
    return fig


def forecast_figure(forecast):
    """AUROC of each dense-only risk score for each variant's CIEs, with bootstrap intervals.

    Parameters
    ----------
    forecast : DataFrame
        ``Audit.forecast``: one row per (variant, score) with ``auroc, auroc_ci_low,
        auroc_ci_high``; undefined scores (NaN) are left out.

    Returns
    -------
    matplotlib.figure.Figure (0.5 marked: a score that knows nothing)
    """
    require_columns(forecast, ["variant", "score", "auroc", "auroc_ci_low", "auroc_ci_high"],
                    "forecast")
    rows = forecast[np.isfinite(forecast["auroc"].to_numpy(dtype=float))]
    variants = list(pd.unique(forecast["variant"]))
    scores = list(pd.unique(rows["score"]))
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(variants) + 3), 3.8))
    cmap = plt.get_cmap("tab10")
    step = 0.8 / max(1, len(scores))
    for k, score in enumerate(scores):
        sub = rows[rows["score"] == score].set_index("variant").reindex(variants)
        x = np.arange(len(variants)) + (k - (len(scores) - 1) / 2) * step
        a = sub["auroc"].to_numpy(dtype=float)
        err = np.abs(np.vstack([a - sub["auroc_ci_low"].to_numpy(dtype=float),
                                sub["auroc_ci_high"].to_numpy(dtype=float) - a]))
        ax.errorbar(x, a, yerr=np.nan_to_num(err), fmt="o", capsize=3, color=cmap(k % 10),
                    label=score.replace("_", " "))
    ax.axhline(0.5, color="black", linestyle="--", linewidth=0.8)
    ax.set_xticks(np.arange(len(variants)), [str(v) for v in variants], fontsize=8,
                  rotation=20)
    ax.set_ylabel("AUROC for the variant's CIEs")
    ax.set_ylim(0, 1)
    ax.set_title("Forecast from the dense population alone", fontsize=10)
    if scores:
        ax.legend(fontsize=7, loc="lower left")
    else:  # e.g. no CIEs, or every example one: the table's status says which
        ax.text(0.5, 0.75, "no AUROC defined (see the table's status)", ha="center",
                transform=ax.transAxes, fontsize=8)
    fig.tight_layout()
    return fig


def flips_figure(flips, *, max_variants=3, max_order=1):
    """Negative (left) and positive (right) flip rates per protected group and variant.

    Parameters
    ----------
    flips : DataFrame
        ``Audit.flips``: rows of ``kind == "group"`` with ``group, order, negative_flip_rate,
        positive_flip_rate``; groups up to ``max_order`` (1: single attributes) are drawn.
    max_variants : int
        The last ``max_variants`` variants (the most compressed, in the audit's order).

    Returns
    -------
    matplotlib.figure.Figure
    """
    require_columns(flips, ["variant", "kind", "group", "order", "negative_flip_rate",
                            "positive_flip_rate"], "flips")
    rows = flips[(flips["kind"] == "group") & (flips["order"] <= max_order)]
    variants = list(pd.unique(rows["variant"]))[-max_variants:]
    groups = list(pd.unique(rows["group"]))
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(groups) * max(1, len(variants)) ** 0.5 + 1.6))
    step = 0.8 / max(1, len(variants))
    cmap = plt.get_cmap("viridis", max(2, len(variants)))
    for k, variant in enumerate(variants):
        sub = rows[rows["variant"] == variant].set_index("group").reindex(groups)
        y = np.arange(len(groups)) + (k - (len(variants) - 1) / 2) * step
        ax.barh(y, -sub["negative_flip_rate"].to_numpy(dtype=float), height=step,
                color=cmap(k), label=str(variant))
        ax.barh(y, sub["positive_flip_rate"].to_numpy(dtype=float), height=step,
                color=cmap(k), alpha=0.45)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(np.arange(len(groups)), [str(g) for g in groups], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("← negative flips (right → wrong)   |   positive flips (wrong → right) →")
    ax.set_title("Flips of the modal label per group", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def sort_exemplars(pie, exemplar_scores):
    """The ``pie`` table's rows ordered most-changed first by the graded exemplar score.

    Rows of ``pie`` keep their columns; ``exemplar_score`` is added. Without a score table (or
    with one lacking the variant) the order is unchanged.
    """
    if exemplar_scores is None or exemplar_scores.empty:
        return pie
    require_columns(exemplar_scores, ["variant", "id", "exemplar_score"], "exemplar_scores")
    keys = ["variant", "id"] if "variant" in pie.columns else ["id"]
    scored = pie.merge(exemplar_scores[keys + ["exemplar_score"]].drop_duplicates(keys),
                       on=keys, how="left", sort=False)
    by, ascending = ["exemplar_score"], [False]
    if "variant" in scored.columns:  # variants stay in the audit's order, sorted within each
        rank = {v: i for i, v in enumerate(pd.unique(scored["variant"]))}
        scored["_variant_rank"] = scored["variant"].map(rank)
        by, ascending = ["_variant_rank", "exemplar_score"], [True, False]
    scored = scored.sort_values(by, ascending=ascending, kind="stable", na_position="last")
    return scored.drop(columns=["_variant_rank"], errors="ignore").reset_index(drop=True)


# (table, heading, text, figure(tables) or None), in page order; the page places them after the
# group rates.
STATISTICS_SECTIONS = (
    ("forecast", "Forecast from the dense population alone",
     "How well each risk score of the dense population (vote margin, member disagreement, "
     "margin, entropy and mutual information of the mean probabilities) ranks the examples "
     "that each variant then changed: AUROC (0.5 = no information) and average precision "
     "(chance = the CIE fraction), with percentile-bootstrap intervals over examples (Iofinova "
     "et al. 2023). These scores need no compressed model.",
     lambda tables: forecast_figure(tables["forecast"])),
    ("forecast_groups", "Groups the dense population flags in advance",
     "Each group's share among the examples a dense score flags (as many as the variant's "
     "CIEs) over its share of the evaluation set, next to its observed over-index among the "
     "CIEs.", None),
    ("calibration", "Calibration",
     "Expected calibration error with the stated number of equal-width bins of top-label "
     "confidence, per population and group (mean and spread over members); gap = mean "
     "confidence − accuracy, positive for an over-confident population.",
     lambda tables: reliability_figure(tables["reliability"],
                                       calibration=tables.get("calibration"))),
    ("flips", "Flips of the modal label",
     "Negative flips (dense right, compressed wrong) and positive flips (dense wrong, compressed "
     "right) per group and class; net = positive − negative, the change of the modal label's "
     "accuracy.", lambda tables: flips_figure(tables["flips"])),
    ("paired_tests", "Paired tests (exact McNemar)",
     "Per group and class, the exact McNemar test of the modal labels, dense against each "
     "variant (b: negative flips, c: positive flips), with Benjamini–Hochberg q-values over "
     "each variant's tests: a paired view next to the Welch test over members.", None),
    ("group_rate_intervals", "Group-rate changes with two-level bootstrap intervals",
     "Every change of the group-rate table with a percentile interval from resampling both the "
     "members of each population and the examples.", None),
)
