"""What the page shows of each table: its key columns and rows (the CSV linked beside has all).

A view never changes a value; it picks columns and rows and may sort them. Columns a table lacks
are skipped (a table with none of its view's columns is shown whole).
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Optional

import numpy as np
import pandas as pd

from pie_tf.audit._mitigation import rare_group
from pie_tf.report._findings import MIN_CIES, MIN_EXAMPLES, supported

__all__ = ["View", "VIEWS", "shown"]


@dataclasses.dataclass(frozen=True)
class View:
    columns: tuple
    rows: Optional[Callable] = None   # frame -> frame (a selection, maybe sorted)
    note: str = ""
    max_rows: int = 0                 # rows shown when more than the page's (per-variant views)


def _order_at_most(k):
    def rows(frame):
        return frame[frame["order"].fillna(0) <= k] if "order" in frame.columns else frame
    return rows


def _most_hurt_classes(per_variant=5, all_up_to=10):
    """Every class when there are at most ``all_up_to``, else the ``per_variant`` most hurt
    classes of each variant; sorted most hurt first."""
    def rows(frame):
        if "normalized_change" not in frame.columns:
            return frame
        n_classes = frame["class"].nunique() if "class" in frame.columns else len(frame)
        keep = n_classes if n_classes <= all_up_to else per_variant
        ordered = frame.sort_values("normalized_change", kind="stable")
        if "variant" not in frame.columns:
            return ordered.head(keep)
        rank = {v: i for i, v in enumerate(pd.unique(frame["variant"]))}
        ordered = ordered.assign(_r=ordered["variant"].map(rank)).sort_values("_r",
                                                                             kind="stable")
        return ordered.groupby("variant", sort=False).head(keep).drop(columns="_r")
    return rows


def _most_overindexed(per_variant=5):
    """Per variant, the supported groups (the findings' thresholds) by over-index, then the
    others."""
    def rows(frame):
        frame = _order_at_most(2)(frame)
        if not {"overindex", "n_examples", "n_cie", "variant"} <= set(frame.columns):
            return frame
        rank = {v: i for i, v in enumerate(pd.unique(frame["variant"]))}
        ordered = frame.assign(_r=frame["variant"].map(rank), _s=supported(frame)).sort_values(
            ["_r", "_s", "overindex"], ascending=[True, False, False], kind="stable")
        top = ordered.groupby("variant", sort=False).head(per_variant)
        rare = rare_group(frame) if "order" in frame.columns else None
        # and the rare group (CelebA: Blond_Hair ∧ Male), whatever its rank
        keep = ordered.index.isin(top.index) | (ordered["group"] == rare).to_numpy()
        return ordered[keep].drop(columns=["_r", "_s"])
    return rows


def _groups_only(k):
    def rows(frame):
        if "kind" in frame.columns:
            frame = frame[frame["kind"] == "group"]
        return _order_at_most(k)(frame)
    return rows


def _paired(frame):
    if "q_value" not in frame.columns:
        return frame
    groups = _groups_only(1)(frame)
    classes = frame[(frame.get("kind") == "class") & frame["significant_fdr"].fillna(False)
                    .astype(bool)] if "kind" in frame.columns else frame.iloc[:0]
    return pd.concat([groups, classes]).sort_index(kind="stable")


def _rates(frame):
    """Single attributes; FPR and FNR only where the target is binary (error rate in the CSV)."""
    frame = _order_at_most(1)(frame)
    if "order" not in frame.columns and "group" in frame.columns:
        frame = frame[~frame["group"].astype(str).str.contains("∧")]
    if "metric" in frame.columns and {"false_positive_rate", "false_negative_rate"} & set(
            frame["metric"]):
        frame = frame[frame["metric"] != "error_rate"]
    return frame


def _first_score(frame):
    frame = _order_at_most(1)(frame)
    if "score" in frame.columns and len(frame):
        frame = frame[frame["score"] == frame["score"].iloc[0]]
    return frame


def _cie_rows(frame):
    return frame[frame["cie"].astype(bool)] if "cie" in frame.columns else frame


def _sizes(frame):
    """Mean over seeds per variant (the CSV has every member)."""
    if "variant" not in frame.columns:
        return frame
    numeric = [c for c in frame.columns if c not in ("variant", "seed")
               and np.issubdtype(frame[c].dtype, np.number)]
    out = frame.groupby("variant", sort=False)[numeric].mean().round().reset_index()
    out.insert(1, "n_members", frame.groupby("variant", sort=False).size().to_numpy())
    return out


VIEWS = {
    "summary": View(("variant", "n_cie", "cie_fraction", "dense_accuracy_all",
                     "compressed_accuracy_all", "dense_accuracy_cie", "compressed_accuracy_cie",
                     "n_significant", "n_significant_fdr", "label_loyalty_mean",
                     "probability_loyalty_mean")),
    "pie_summary": View(("variant", "n_dense_members", "n_compressed_members", "n_examples",
                         "n_cie", "cie_fraction", "dense_accuracy_all", "dense_accuracy_all_std",
                         "compressed_accuracy_all", "compressed_accuracy_all_std",
                         "dense_accuracy_cie", "compressed_accuracy_cie")),
    "class_impact": View(("variant", "class", "class_name", "n_examples", "dense_recall",
                          "compressed_recall", "normalized_change", "p_value", "q_value",
                          "significant", "significant_fdr"), _most_hurt_classes(),
                         "Most hurt first; with more than 10 classes, the 5 most hurt of each "
                         "variant.", 60),
    "overindex": View(("variant", "group", "n_examples", "n_cie", "share_eval", "share_cie",
                       "overindex", "ci_low", "ci_high", "status"), _most_overindexed(),
                      "The 5 most over-indexed groups (at most two attributes) of each variant, "
                      f"those with at least {MIN_EXAMPLES} examples and {MIN_CIES} CIEs first, "
                      "and the rare group (the smallest intersection of two attributes).", 60),
    "group_rates": View(("variant", "group", "metric", "n_condition", "dense_mean", "dense_std",
                         "compressed_mean", "compressed_std", "absolute_change",
                         "relative_change_pct"), _rates,
                        "Single attributes, FPR and FNR (binary targets); intersections and "
                        "error rates are in the CSV."),
    "loyalty": View(("population", "n_members", "label_loyalty_mean", "label_loyalty_std",
                     "probability_loyalty_mean", "probability_loyalty_std")),
    "robustness": View(("population", "corruption", "n_members", "error_mean", "ce_mean",
                        "relative_ce_mean", "reference", "status")),
    "deployment": View(("variant", "source", "n_deployment_exemplars",
                        "deployment_exemplar_fraction", "keras_accuracy_all",
                        "tflite_accuracy_all", "keras_accuracy_cie", "tflite_accuracy_cie",
                        "label_loyalty_mean", "probability_loyalty_mean")),
    "deployment_sizes": View(("variant", "n_members", "tflite_bytes", "tflite_gzip_bytes"),
                             _sizes, "Mean over members; each member's size is in the CSV."),
    "deployment_calibration": View(("variant", "population", "group", "n_examples", "ece_mean",
                                    "ece_std", "gap_mean", "direction", "status"),
                                   _order_at_most(1), "Single attributes and all examples."),
    "deployment_paired_tests": View(("variant", "source", "kind", "group", "class", "b", "c",
                                     "p_value", "q_value", "significant_fdr", "status"),
                                    _paired, "Single attributes, all examples and the classes "
                                    "significant after Benjamini-Hochberg."),
    "deployment_exemplars": View(("variant", "source", "id", "label", "dense_mode",
                                  "compressed_mode", "dense_agreement", "compressed_agreement")),
    "pie": View(("variant", "id", "label", "dense_mode", "compressed_mode", "dense_agreement",
                 "compressed_agreement"), _cie_rows, "Exemplars only."),
    "forecast": View(("variant", "score", "n_cie", "cie_fraction", "auroc", "auroc_ci_low",
                      "auroc_ci_high", "average_precision", "status")),
    "forecast_groups": View(("variant", "score", "group", "n_examples", "flagged_overindex",
                             "cie_overindex", "cie_recall", "status"), _first_score,
                            "Single attributes, the first score; every score is in the CSV."),
    "calibration": View(("population", "group", "n_examples", "n_members", "n_bins", "ece_mean",
                         "ece_std", "gap_mean", "direction", "status"),
                        _order_at_most(1), "Single attributes and all examples."),
    "flips": View(("variant", "kind", "group", "class", "n_examples", "n_negative_flips",
                   "n_positive_flips", "negative_flip_rate", "positive_flip_rate",
                   "net_flip_rate"), _groups_only(1), "Single attributes; classes are in the CSV."),
    "paired_tests": View(("variant", "kind", "group", "class", "n_examples", "b", "c",
                          "p_value", "q_value", "significant_fdr", "status"), _paired,
                         "Single attributes, all examples and the classes significant after "
                         "Benjamini-Hochberg."),
    "group_rate_intervals": View(("variant", "group", "metric", "dense_rate", "absolute_change",
                                  "change_ci_low", "change_ci_high", "status"), _rates,
                                 "Single attributes, FPR and FNR (binary targets); "
                                 "intersections and error rates are in the CSV."),
    "forgetting_curve": View(("population", "kind", "sparsity", "top1", "top1_std",
                              "cie_fraction", "disagreement", "worst_group", "worst_rate",
                              "rare_group", "rare_overindex", "rare_ci_low", "rare_ci_high",
                              "tflite_gzip_bytes")),
}


def shown(name, frame, max_rows):
    """(the rows and columns of ``frame`` the page shows, a note on what was left out, the
    number of rows to show: ``max_rows`` or, for a per-variant view, up to its own)."""
    view = VIEWS.get(name)
    if view is None:
        return frame, "", max_rows
    rows = frame if view.rows is None else view.rows(frame)
    columns = [c for c in view.columns if c in rows.columns]
    left = len(frame.columns) - len(columns) if columns else 0
    note = view.note
    if left:
        note = (note + " " if note else "") + f"{left} more column{'s' if left != 1 else ''} " \
            "in the CSV."
    return (rows[columns] if columns else rows), note, max(max_rows, view.max_rows)
