"""The report's mitigation section: each mitigated variant against plain pruning, in words.

Renders the ``mitigation_summary`` and ``mitigation`` tables that
``pie_tf.audit.mitigation_comparison`` / ``mitigation_summary`` returned (the studies add them
with ``--mitigations``); it computes nothing. :func:`mitigation_section` takes a section
renderer's page (``page.table(name)``, ``page.table_html(name, columns=, rows=, note=)``) and
returns ``{"text": ..., "parts": [html, ...]}``, or None when no mitigation was run.
"""
from __future__ import annotations

import html

import numpy as np

__all__ = ["mitigation_section", "mitigation_sentences", "HEADING", "TEXT"]

HEADING = "Mitigations against plain pruning"
TEXT = ("Each mitigated variant (prune_kd: distillation from the dense member; prune_rw: Meyer & "
        "Wong's performance weights; prune_gw: Kamiran & Calders' group weights) against plain "
        "pruning by fine-tuning (prune_ft) at the same sparsity, both audited against the same "
        "dense population. The bar: cut the number of CIEs, or the rise of the rare group's "
        "false negative rate, by at least 30% while losing at most 0.5 point of top-1. "
        "Intervals are 95%: Welch's t over members for top-1 and the rate rises, a paired "
        "bootstrap over evaluation examples for the CIE count and the over-index (it covers "
        "the sampling of the evaluation set, not the choice of seeds).")

_SUMMARY_COLUMNS = ["variant", "baseline", "top1_change_points", "top1_ci_low_points",
                    "top1_ci_high_points", "n_cie_baseline", "n_cie_mitigated", "cie_cut_pct",
                    "rare_group", "rare_fnr_rise_baseline", "rare_fnr_rise_mitigated",
                    "rare_fnr_rise_cut_pct", "rare_overindex_baseline",
                    "rare_overindex_mitigated", "meets_bar", "verdict"]
_DETAIL_COLUMNS = ["variant", "baseline", "quantity", "group", "metric", "baseline_value",
                   "mitigated_value", "difference", "ci_low", "ci_high", "cut_pct", "status"]


def _interval(lo, hi, scale=1.0, fmt="{:+.2f}"):
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "no interval"
    return f"95% CI {fmt.format(scale * lo)} to {fmt.format(scale * hi)}"


def _row(detail, variant, quantity, metric=None, group=None):
    sel = detail[(detail["variant"] == variant) & (detail["quantity"] == quantity)]
    if metric is not None:
        sel = sel[sel["metric"] == metric]
    if group is not None:
        sel = sel[sel["group"] == group]
    return None if sel.empty else sel.iloc[0]


def mitigation_sentences(summary, detail):
    """One plain sentence per mitigated variant: the verdict, then the figures behind it.

    Parameters
    ----------
    summary, detail : the ``mitigation_summary`` and ``mitigation`` tables.

    Returns
    -------
    list of (str variant, bool meets_bar, str sentence)
    """
    out = []
    for row in summary.itertuples(index=False):
        parts = [f"{row.variant} against {row.baseline}: {row.verdict}."]
        top1 = _row(detail, row.variant, "top1_accuracy")
        if top1 is not None:
            parts.append(f"Top-1 {100 * top1.difference:+.2f} points "
                         f"({_interval(top1.ci_low, top1.ci_high, 100)}).")
        cie = _row(detail, row.variant, "n_cie")
        if cie is not None:
            parts.append(f"CIEs {cie.baseline_value:.0f} → {cie.mitigated_value:.0f} "
                         f"({_interval(cie.ci_low, cie.ci_high, fmt='{:+.0f}')} for the "
                         "difference).")
        if isinstance(row.rare_group, str):
            fnr = _row(detail, row.variant, "rate_rise", "false_negative_rate", row.rare_group)
            if fnr is not None and np.isfinite(fnr.baseline_value):
                parts.append(f"FNR rise of {row.rare_group} over dense "
                             f"{100 * fnr.baseline_value:+.1f} → {100 * fnr.mitigated_value:+.1f}"
                             f" points ({_interval(fnr.ci_low, fnr.ci_high, 100, '{:+.1f}')} "
                             "for the difference).")
            over = _row(detail, row.variant, "overindex", group=row.rare_group)
            if over is not None and np.isfinite(over.baseline_value) \
                    and np.isfinite(over.mitigated_value):
                parts.append(f"Its over-index among CIEs {over.baseline_value:.2f} → "
                             f"{over.mitigated_value:.2f} "
                             f"({_interval(over.ci_low, over.ci_high)} for the difference).")
        out.append((row.variant, bool(row.meets_bar), " ".join(parts)))
    return out


def mitigation_section(page):
    """The section's content for a report page, or None without mitigation tables."""
    summary = page.table("mitigation_summary")
    detail = page.table("mitigation")
    if summary is None or detail is None:
        return None
    items = "".join(
        f'<li data-variant="{html.escape(variant)}" data-meets-bar="{str(meets).lower()}">'
        f"{html.escape(sentence)}</li>"
        for variant, meets, sentence in mitigation_sentences(summary, detail))
    reached = int(summary["meets_bar"].astype(bool).sum())
    headline = (f"{reached} of {len(summary)} mitigated variants meet the bar." if reached else
                f"None of the {len(summary)} mitigated variants meets the bar.")
    single = detail[(detail["quantity"] != "rate_rise")
                    | detail["group"].isin(summary["rare_group"].dropna())]
    parts = [f'<p class="mitigation-headline"><strong>{html.escape(headline)}</strong></p>',
             f'<ul class="mitigation-verdicts">{items}</ul>',
             page.table_html("mitigation_summary", columns=_SUMMARY_COLUMNS),
             page.table_html("mitigation", columns=_DETAIL_COLUMNS, rows=single,
                             note="Top-1, CIEs, the rare group's over-index and FPR/FNR rise; "
                                  "every protected group's rate rises are in the CSV.")]
    return {"text": TEXT, "parts": parts}
