"""The forgetting curve: what each compressed variant costs against how compressed it is.

:func:`curve_table` gathers, from the audit's tables, one row per population (dense first, then
the variants in the audit's order): its sparsity (x), top-1 accuracy and its spread over members,
the share of CIEs, the members' disagreement with the dense modal label (1 - label loyalty, with
its spread), the worst protected group's FNR (error rate for a multi-class target), the rare
group's over-index with its bootstrap interval, and the TFLite size where the study recorded
one. The report writes it as ``tables/forgetting_curve.csv`` and :func:`forgetting_curve_figure`
draws it, so the figure, like every other, shows a table of the report as it is.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from pie_tf.audit import rare_group
from pie_tf.report import _findings

__all__ = ["curve_table", "forgetting_curve_figure"]

_COLUMNS = ["population", "family", "kind", "sparsity", "top1", "top1_std", "cie_fraction",
            "disagreement", "disagreement_std", "worst_group", "worst_metric", "worst_rate",
            "worst_rate_std", "rare_group", "rare_overindex", "rare_ci_low", "rare_ci_high",
            "rare_supported", "size_of", "tflite_gzip_bytes", "tflite_bytes"]
_kind, _x, _SPARSITY = _findings._kind, _findings._x, _findings._SPARSITY


def _value(frame, key, value, column, default=np.nan):
    if frame is None or column not in frame.columns:
        return default
    rows = frame[frame[key] == value]
    return rows[column].iloc[0] if len(rows) else default


def _worst(rates, variants, min_examples, rare):
    """(metric, group): the supported group with the highest compressed rate over the variants."""
    metric = "false_negative_rate" if "false_negative_rate" in set(rates["metric"]) \
        else "error_rate"
    rows = _findings._rate_groups(rates[rates["metric"] == metric], rare)
    rows = rows[(rows["n_condition"] >= min_examples)
                & np.isfinite(rows["compressed_mean"].to_numpy(dtype=float))]
    rows = rows[rows["variant"].isin(variants)]
    if rows.empty:
        return metric, None
    return metric, str(rows.groupby("group", sort=False)["compressed_mean"].mean().idxmax())


def _sizes(tables):
    sizes = tables.get("deployment_sizes")
    if sizes is None or sizes.empty or "variant" not in sizes.columns:
        return {}
    out = {}
    for variant, rows in sizes.groupby("variant", sort=False):
        out[variant] = {c: float(np.round(rows[c].astype(float).mean())) if c in rows.columns
                        else np.nan for c in ("tflite_gzip_bytes", "tflite_bytes")}  # whole bytes
    return out


def curve_table(tables, *, sparsity=None, min_examples=_findings.MIN_EXAMPLES,
                min_cies=_findings.MIN_CIES):
    """One row per population: the points of the forgetting curve (see the module docstring).

    Parameters
    ----------
    tables : mapping of str -> DataFrame
        ``Audit.to_frames()`` (``pie_summary`` is needed; ``loyalty``, ``group_rates``,
        ``overindex`` and ``deployment_sizes`` add their columns).
    sparsity : mapping population -> float, optional
        x of each population; others are placed at the sparsity in their name (``@0.9``), or 0
        (post-training quantized dense models).
    min_examples, min_cies : int
        Support a group needs: in the condition of its rate, and (examples and CIEs) for the
        rare group's over-index (``rare_supported``).

    Returns
    -------
    DataFrame with columns ``population, family, kind, sparsity, top1, top1_std,
    cie_fraction, disagreement, disagreement_std, worst_group, worst_metric, worst_rate,
    worst_rate_std, rare_group, rare_overindex, rare_ci_low, rare_ci_high, rare_supported,
    size_of, tflite_gzip_bytes, tflite_bytes``; empty without a ``pie_summary``.
    """
    ps = tables.get("pie_summary")
    if ps is None or ps.empty:
        return pd.DataFrame(columns=_COLUMNS)
    variants = list(pd.unique(ps["variant"]))
    loyalty = tables.get("loyalty")
    rates = tables.get("group_rates")
    overindex = tables.get("overindex")
    rare = metric = worst = None
    if rates is not None and not rates.empty:
        rare = rare_group(rates[rates["n_examples"] >= min_examples])
        metric, worst = _worst(rates, variants, min_examples, rare)
    sizes = _sizes(tables)
    first = ps.iloc[0]
    rows = [{"population": "dense", "top1": first.dense_accuracy_all,
             "top1_std": first.dense_accuracy_all_std, "cie_fraction": 0.0}]
    rows += [{"population": r.variant, "top1": r.compressed_accuracy_all,
              "top1_std": r.compressed_accuracy_all_std, "cie_fraction": r.cie_fraction}
             for r in ps.itertuples(index=False)]
    for row in rows:
        name = row["population"]
        row.update(family=_SPARSITY.sub("", name), kind=_kind(name), sparsity=_x(name, sparsity))
        loyal = _value(loyalty, "population", name, "label_loyalty_mean")
        row["disagreement"] = 1.0 - float(loyal)
        row["disagreement_std"] = float(_value(loyalty, "population", name, "label_loyalty_std"))
        row.update(worst_group=worst or np.nan, worst_metric=metric if worst else np.nan,
                   rare_group=rare or np.nan)
        if worst is not None:
            sel = rates[(rates["metric"] == metric) & (rates["group"] == worst)]
            if name == "dense":
                sel, which = sel.head(1), "dense"
            else:
                sel, which = sel[sel["variant"] == name], "compressed"
            row["worst_rate"] = float(sel[f"{which}_mean"].iloc[0]) if len(sel) else np.nan
            row["worst_rate_std"] = float(sel[f"{which}_std"].iloc[0]) if len(sel) else np.nan
        if rare is not None and overindex is not None and name != "dense":
            sel = overindex[(overindex["variant"] == name) & (overindex["group"] == rare)]
            if len(sel):
                r = sel.iloc[0]
                row.update(rare_overindex=r.overindex, rare_ci_low=r.ci_low,
                           rare_ci_high=r.ci_high,
                           rare_supported=bool(_findings.supported(
                               sel, min_examples=min_examples, min_cies=min_cies).iloc[0]))
        # the size of the population itself, or of the export it deploys as
        own = name if name in sizes else None
        if own is None and name != "dense":  # dense is the float Keras model, not an export
            own = next((v for v in sizes if v.startswith(name + "+")), None)
        if own is not None:
            row.update(size_of=own, **sizes[own])
    return pd.DataFrame(rows).reindex(columns=_COLUMNS)


_MARKERS = {"dense": "o", "pruned": "o", "mitigated": "s", "quantized": "D"}


def _series(ax, curve, y, err=None, *, lower=None, upper=None, skip_dense=False, muted=None):
    """One line per pruned family (joined to dense at 0), marked points for the others."""
    dense = curve[curve["kind"] == "dense"]
    families = [f for f in pd.unique(curve["family"]) if f != "dense"]
    cmap = plt.get_cmap("tab10")
    marked = 0
    for k, family in enumerate(families):
        rows = curve[curve["family"] == family].sort_values("sparsity", kind="stable")
        kind = rows["kind"].iloc[0]
        if kind == "pruned" and not skip_dense:
            rows = pd.concat([dense, rows])
        x = rows["sparsity"].to_numpy(dtype=float)
        if kind != "pruned":  # marked points beside (not on top of) the line's points
            marked += 1
            x = x + 0.015 * marked
        values = rows[y].to_numpy(dtype=float)
        if lower is not None:
            yerr = np.abs(np.vstack([values - rows[lower].to_numpy(dtype=float),
                                     rows[upper].to_numpy(dtype=float) - values]))
        elif err is not None:
            yerr = rows[err].to_numpy(dtype=float)
        else:
            yerr = None
        if yerr is not None:
            yerr = np.nan_to_num(yerr)
        style = dict(color=cmap(k % 10), marker=_MARKERS[kind], markersize=6, capsize=3,
                     linestyle="-" if kind == "pruned" else "none", label=family)
        ax.errorbar(x, values, yerr=yerr, **style)
        if muted is not None:  # hollow grey markers over points without enough support
            weak = ~rows[muted].fillna(False).astype(bool).to_numpy()
            if weak.any():
                ax.plot(x[weak], values[weak], linestyle="none", marker=_MARKERS[kind],
                        markersize=9, markerfacecolor="white", markeredgecolor="#999999")
    if skip_dense or dense.empty:
        return
    ax.errorbar(dense["sparsity"], dense[y], yerr=None if err is None else
                np.nan_to_num(dense[err].to_numpy(dtype=float)), color="black", marker="o",
                markersize=7, linestyle="none", capsize=3, label="dense")


def _neighbours_before(x, y, radius=0.06):
    """For each point, how many earlier points lie within ``radius`` of it, in axis fractions."""
    def scaled(values):
        values = np.asarray(values, dtype=float)
        finite = values[np.isfinite(values)]
        span = finite.max() - finite.min() if finite.size else 0.0
        return (values - (finite.min() if finite.size else 0.0)) / (span or 1.0)
    sx, sy = scaled(x), scaled(y)
    return [int(np.sum(np.hypot(sx[:i] - sx[i], sy[:i] - sy[i]) < radius))
            for i in range(len(sx))]


def _size_panel(ax, curve, y, err, label):
    rows = curve[np.isfinite(curve["tflite_gzip_bytes"].to_numpy(dtype=float))
                 | np.isfinite(curve["tflite_bytes"].to_numpy(dtype=float))]
    gzip = np.isfinite(rows["tflite_gzip_bytes"].to_numpy(dtype=float)).all()
    size = rows["tflite_gzip_bytes" if gzip else "tflite_bytes"].to_numpy(dtype=float) / 1024
    values = rows[y].to_numpy(dtype=float)
    ax.errorbar(size, values, yerr=None if err is None else
                np.nan_to_num(rows[err].to_numpy(dtype=float)), linestyle="none", marker="D",
                color="#8e44ad", capsize=3)
    for (s, v, name), nearby in zip(zip(size, values, rows["population"]),
                                    _neighbours_before(size, values)):
        # a name whose point lies close to an earlier one goes below it, not over its name
        ax.annotate(str(name), (s, v), xytext=(4, 4 - 9 * nearby), textcoords="offset points",
                    fontsize=6)
    ax.margins(x=0.25, y=0.15)  # room for the names
    ax.set_xlabel(f"TFLite size, KiB ({'gzip -9' if gzip else 'flatbuffer, no gzip recorded'})",
                  fontsize=8)
    ax.set_ylabel(label, fontsize=8)
    ax.set_title(f"Size against {label}", fontsize=9)


def _top1(ax, curve):
    _series(ax, curve.assign(top1=100 * curve["top1"], top1_std=100 * curve["top1_std"]),
            "top1", "top1_std")
    ax.set_title("Top-1 accuracy (± sd over members)", fontsize=9)
    ax.set_ylabel("top-1 accuracy, %", fontsize=8)


def _cie_share(ax, curve):
    scaled = curve.assign(cie_fraction=100 * curve["cie_fraction"],
                          disagreement=100 * curve["disagreement"],
                          disagreement_std=100 * curve["disagreement_std"])
    _series(ax, scaled, "cie_fraction")
    if np.isfinite(scaled["disagreement"].to_numpy(dtype=float)).any():
        rows = scaled[scaled["kind"] != "dense"]
        ax.errorbar(rows["sparsity"], rows["disagreement"],
                    yerr=np.nan_to_num(rows["disagreement_std"].to_numpy(dtype=float)),
                    linestyle="none", marker="_", markersize=12, color="#7f8c8d", capsize=2,
                    label="members' disagreement with dense mode")
    ax.set_title("Share of CIEs (bars: member disagreement ± sd)", fontsize=9)
    ax.set_ylabel("% of evaluation examples", fontsize=8)


def _worst_rate(ax, curve):
    metric = str(curve["worst_metric"].dropna().iloc[0])
    _series(ax, curve.assign(worst_rate=100 * curve["worst_rate"],
                             worst_rate_std=100 * curve["worst_rate_std"]),
            "worst_rate", "worst_rate_std")
    short = {"false_negative_rate": "FNR", "error_rate": "error rate"}.get(metric, metric)
    ax.set_title(f"{short} of the worst group: {curve['worst_group'].dropna().iloc[0]}",
                 fontsize=9)
    ax.set_ylabel(f"{short}, % (± sd over members)", fontsize=8)


def _rare(ax, curve):
    _series(ax, curve, "rare_overindex", lower="rare_ci_low", upper="rare_ci_high",
            skip_dense=True, muted="rare_supported")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_title(f"Over-index of the rare group {curve['rare_group'].dropna().iloc[0]}",
                 fontsize=9)
    ax.set_ylabel("share among CIEs / share overall (interval)", fontsize=8)


def _finite_any(curve, column):
    return np.isfinite(pd.to_numeric(curve[column], errors="coerce").to_numpy(dtype=float)).any()


def forgetting_curve_figure(curve):
    """The forgetting curve of :func:`curve_table`'s rows.

    Panels against sparsity: top-1 accuracy (± sd over members), the share of CIEs (and the
    members' disagreement with the dense modal label, ± sd), the worst protected group's FNR or
    error rate (± sd) and the rare group's over-index among the CIEs (bootstrap interval;
    hollow grey where its support is under the threshold); then, where sizes were recorded,
    TFLite size against top-1 accuracy and against the share of CIEs. A panel whose table
    columns are empty (no groups, no sizes) is left out. Pruned variants are lines from dense;
    quantized (diamonds) and mitigated (squares) variants are marked points at their sparsity
    (0 for a quantized dense model).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if curve.empty:
        raise ValueError("`curve` has no rows (the audit had no pie_summary table).")
    panels = [(_top1, True), (_cie_share, True)]
    if curve["worst_group"].notna().any() and _finite_any(curve, "worst_rate"):
        panels.append((_worst_rate, True))
    if curve["rare_group"].notna().any() and _finite_any(curve, "rare_overindex"):
        panels.append((_rare, True))
    if _finite_any(curve, "tflite_gzip_bytes") or _finite_any(curve, "tflite_bytes"):
        panels.append((lambda ax, c: _size_panel(
            ax, c.assign(top1=100 * c["top1"], top1_std=100 * c["top1_std"]), "top1",
            "top1_std", "top-1 accuracy, %"), False))
        panels.append((lambda ax, c: _size_panel(
            ax, c.assign(cie_fraction=100 * c["cie_fraction"]), "cie_fraction", None,
            "share of CIEs, %"), False))
    cols = 3 if len(panels) > 4 else 2 if len(panels) > 1 else 1
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows + 0.8), squeeze=False)
    for ax in axes.reshape(-1)[len(panels):]:
        fig.delaxes(ax)
    for ax, (draw, against_sparsity) in zip(axes.reshape(-1), panels):
        draw(ax, curve)
        if against_sparsity:
            ax.set_xlabel("sparsity", fontsize=8)
            ax.set_xlim(-0.05, 1.0)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    h2, l2 = axes[0, 1].get_legend_handles_labels() if cols > 1 else ([], [])
    extra = [(h, lab) for h, lab in zip(h2, l2) if lab not in labels]
    fig.legend(handles + [h for h, _ in extra], labels + [lab for _, lab in extra],
               loc="lower center", ncol=min(6, len(labels) + len(extra)), fontsize=7,
               frameon=False)
    fig.suptitle("Forgetting curve: harm against sparsity (quantized variants as diamonds)",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.6 / (3.4 * rows + 0.8), 1, 0.97))
    return fig
