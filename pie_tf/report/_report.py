"""write_report: the audit's tables as CSV, its figures as PNG, and one self-contained HTML page."""
from __future__ import annotations

import dataclasses
import html
import os
import pathlib
from collections.abc import Mapping
from typing import Callable, Optional

import numpy as np
import pandas as pd

from pie_tf.audit import rare_group
from pie_tf.report import _curve, _findings, _statistics, _views
from pie_tf.report import figures as _fig
from pie_tf.report import mitigation as _mitigation
from pie_tf.report.html import figure_png, page_html, table_html

__all__ = ["write_report", "Report", "SECTIONS"]


@dataclasses.dataclass(frozen=True)
class _Section:
    table: str                  # key of the audit table the section shows
    heading: str
    text: str
    # callable(tables, options) -> Figure, or None for a table only
    figure: Optional[Callable] = None


def _class_figure(tables, options):
    return _fig.class_change_figure(tables["class_impact"])


def _overindex_figure(tables, options):
    return _fig.overindex_figure(tables["overindex"], min_examples=options["min_examples"],
                                 min_cies=options["min_cies"])


def _group_rates_figure(tables, options):
    rates = tables["group_rates"]
    rare = rare_group(rates[rates["n_examples"] >= options["min_examples"]]) \
        if {"order", "n_examples"} <= set(rates.columns) else None
    return _fig.group_rates_figure(rates, extra_groups=[rare] if rare else (),
                                   min_condition=options["min_examples"])


def _statistics_figure(draw, needs):
    def figure(tables, options):
        if any(tables.get(n) is None or tables[n].empty for n in needs):
            return None
        return draw(tables)
    return figure


def _robustness_figure(tables, options):
    return _fig.corruption_error_figure(tables["robustness"],
                                        summary=tables.get("robustness_summary"),
                                        x=options.get("sparsity"))


# The order of the page, in the names of ``pie_tf.Audit.to_frames()`` plus the deployment tables
# of ``compare_deployment``. Per-member tables are saved as CSV and linked, not shown; any other
# table the audit returns is shown under "Other tables", so nothing computed is left out.
SECTIONS = (
    _Section("summary", "Summary",
             "One row per compressed variant: exemplars, accuracy of the dense and compressed "
             "populations on all examples and on the exemplars, classes significantly changed, "
             "loyalty to the dense population and, where measured, corruption error."),
    _Section("pie_summary", "Exemplars: accuracy on PIE / CIE and elsewhere",
             "PIE (CIE for any compression): examples where the compressed population's modal "
             "label differs from the dense population's (Hooker et al. 2019, 2020)."),
    _Section("class_impact", "Class impact",
             "Per class, the change of compressed against dense recall, each shifted by its "
             "population's mean top-1 accuracy (Hooker et al. 2019); red classes differ "
             "significantly (two-sided Welch t-test over the members, p <= alpha; q-values "
             "after Benjamini-Hochberg are in the table).", _class_figure),
    _Section("class_impact_summary", "Classes significantly changed", ""),
    _Section("overindex", "Over-indexing of protected groups among exemplars",
             "Share of each attribute and intersection among the compression-identified "
             "exemplars, divided by its share in the evaluation set, with a bootstrap "
             "confidence interval (Hooker et al. 2020), on a log scale. Above 1: the group is "
             "over-represented among what compression changed. Groups with too few examples or "
             "CIEs to mean something are grey (hollow points, and apart below the line when no "
             "variant has the support).", _overindex_figure),
    _Section("group_rates", "Error rates per group, dense against compressed",
             "False positive and false negative rate of each group, mean over members: the "
             "figure shows the change from dense to each compressed population (points), with "
             "the compressed members' spread (standard deviation) as error bars, and each "
             "group's dense rate beside its name; relative_change_pct is the change relative to "
             "the dense population, as the CelebA paper reports it.", _group_rates_figure),
    *(_Section(table, heading, text, None if figure is None else
               _statistics_figure(figure, needs))
      for (table, heading, text, figure), needs in zip(
          _statistics.STATISTICS_SECTIONS,
          (("forecast",), (), ("reliability",), ("flips",), (), ()))),
    _Section("loyalty", "Loyalty to the dense population",
             "Label loyalty (agreement with the dense modal label) and probability loyalty "
             "(1 - sqrt of the Jensen-Shannon divergence, base 2), mean over members."),
    _Section("robustness", "Robustness to corruptions",
             "Error under each corruption (mean over severities and members) against sparsity; "
             "the bold line is the clean error. Corruption error (CE) is normalized by the "
             "reference named in the table.", _robustness_figure),
    _Section("robustness_summary", "Mean corruption error (mCE)", ""),
    _Section("imagenet_a", "ImageNet-A",
             "Top-1 accuracy on ImageNet-A with the logits restricted to its 200 classes."),
    _Section("deployment", "Deployed (TFLite) models against their Keras source",
             "Each compressed variant exported to TFLite and run with the LiteRT interpreter: "
             "accuracy of both, label and probability loyalty, file sizes and the number of "
             "deployment-identified exemplars (examples on which the two disagree)."),
    _Section("deployment_sizes", "TFLite file sizes",
             "The flatbuffer and its gzip -9 length (the download size: gzip captures a pruned "
             "model's zeros), as the population recorded them at export."),
    _Section("deployment_calibration", "Calibration of the TFLite models against their source",
             "Expected calibration error of each export and of its Keras source, per group; "
             "gap = mean confidence − accuracy (positive: over-confident)."),
    _Section("deployment_paired_tests", "Paired tests of the TFLite models against their "
             "source (exact McNemar)",
             "Per group and class, the exact McNemar test of the export's modal labels against "
             "its Keras source's (b: source right, export wrong; c: the reverse), with "
             "Benjamini–Hochberg q-values."),
    _Section("deployment_exemplars", "Deployment-identified exemplars",
             "Examples on which a TFLite model and the Keras model it came from disagree."),
    _Section("pie", "Compression-identified exemplars (PIE / CIE)",
             "The exemplars of each variant, with the true label and the two modal labels."),
)
_CSV_ONLY = ("_by_member", "corruption_errors")
_OTHER_COLUMNS = 10


class _Page:
    """What a section renderer reads: the tables and a compact table helper."""

    def __init__(self, tables, max_rows):
        self.tables, self.max_rows = tables, max_rows

    def table(self, name):
        frame = self.tables.get(name)
        return None if frame is None or frame.empty else frame

    def table_html(self, name, *, columns=None, rows=None, note=""):
        shown = self.tables[name] if rows is None else rows
        if columns is not None:
            shown = shown[[c for c in columns if c in shown.columns] or list(shown.columns)]
        out = table_html(shown, max_rows=self.max_rows, csv_name=f"tables/{name}.csv")
        return out + (f"<p>{html.escape(note)}</p>" if note else "")


# Sections rendered by a function of the page: (id, heading, render, tables it shows, the id of
# the section it follows).
RENDERED_SECTIONS = (
    ("mitigation_summary", _mitigation.HEADING, _mitigation.mitigation_section,
     ("mitigation_summary", "mitigation"), "summary"),
)


@dataclasses.dataclass(frozen=True)
class Report:
    """Where a report was written.

    Attributes
    ----------
    html : pathlib.Path
        The self-contained page.
    tables : dict of str -> pathlib.Path
        One CSV per audit table.
    figures : dict of str -> pathlib.Path
        One PNG per figure (the same images the page holds inline).
    """
    html: pathlib.Path
    tables: dict
    figures: dict


def _as_tables(audit):
    if isinstance(audit, Mapping):
        tables = dict(audit)
    elif callable(getattr(audit, "to_frames", None)):
        tables = dict(audit.to_frames())
    else:
        raise TypeError("`audit` must be a pie_tf.Audit (anything with `to_frames()`) or a "
                        "mapping of table name -> pandas DataFrame; got "
                        f"{type(audit).__name__}.")
    for name, frame in tables.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"`audit` table names must be identifiers (they name files); got "
                             f"{name!r}.")
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"`audit` table {name!r} must be a pandas DataFrame; got "
                            f"{type(frame).__name__}.")
    return {k: v for k, v in tables.items() if v is not None}


def _protected_columns(pie, overindex):
    """The pie table's columns of the audit's single attributes, less the target itself."""
    if overindex is None or not {"order", "attributes"} <= set(overindex.columns):
        return []
    names = [str(a) for a in pd.unique(overindex.loc[overindex["order"] == 1, "attributes"])]
    out = []
    for name in names:
        if name in pie.columns:
            values = pie[name].astype(bool).to_numpy()
            if not np.array_equal(values, pie["label"].to_numpy() == 1):  # not the target
                out.append(name)
    return out


def _exemplar_figures(pie, images, class_names, max_exemplars, variants, protected=()):
    """One grid per variant of the first ``max_exemplars`` exemplars whose image is known,
    each captioned with its labels and its protected attributes."""
    if images is None or pie is None or pie.empty:
        return []
    _fig.require_columns(pie, ["id", "label", "dense_mode", "compressed_mode", "cie"], "pie")
    if "variant" in pie.columns:
        names = list(pd.unique(pie["variant"]))
        chosen = variants if variants is not None else names[-1:]
    else:
        chosen = [None]
    out = []
    for variant in chosen:
        rows = pie if variant is None else pie[pie["variant"] == variant]
        rows = rows[rows["cie"].astype(bool)]
        rows = rows[[i in images for i in rows["id"]]].head(max_exemplars)
        if rows.empty:
            continue
        notes = None
        if protected:
            notes = [", ".join(name if row[name] else f"not {name}" for name in protected)
                     for _, row in rows.iterrows()]
        fig = _fig.exemplar_grid_figure(
            [np.asarray(images[i]) for i in rows["id"]], rows["label"],  # sizes may differ
            rows["dense_mode"], rows["compressed_mode"], class_names=class_names,
            title=None if variant is None else f"exemplars of {variant}", notes=notes)
        caption = (f"{len(rows)} exemplars" + ("" if variant is None else f" of {variant}")
                   + ", most changed first: true / dense modal / compressed modal label (red: "
                   "compressed is wrong)" + (f", then {', '.join(protected)}." if protected
                                             else "."))
        out.append((f"exemplars{'' if variant is None else '_' + _slug(variant)}", fig, caption))
    return out


def _slug(value):
    return "".join(c if c.isalnum() else "_" for c in str(value)).strip("_")


def _in_short_html(short):
    """The "In short" block: one sentence a variant, each linking to its detailed findings."""
    rows = "".join(
        f'<li class="in-short" data-variant="{html.escape(f.variant)}">{html.escape(f.text)} '
        f'<a class="to-variant" href="#findings-{_slug(f.variant)}">[details]</a></li>'
        for f in short)
    return f'<h3 id="in_short">In short</h3><ul class="in-short">{rows}</ul>'


def _findings_section(items, anchors, min_examples, min_cies, short=()):
    """The findings as HTML: study-wide notes, the "In short" block (``short``), then a list
    per variant; each sentence links to the section of its table (or to its CSV when the page
    has no such section)."""
    def item(f):
        target = f"#{f.table}" if f.table in anchors else f"tables/{f.table}.csv"
        kind = " caveat" if f.kind == "caveat" else ""
        return (f'<li class="finding{kind}" data-kind="{html.escape(f.kind)}" '
                f'data-table="{html.escape(f.table)}" '
                f'data-variant="{html.escape(f.variant or "")}">{html.escape(f.text)} '
                f'<a class="to-table" href="{html.escape(target)}">[{html.escape(f.table)}]</a>'
                "</li>")
    parts, current, short, seen = [], object(), list(short), set()
    for f in items:
        if f.variant != current:
            if parts:
                parts.append("</ul>")
            current = f.variant
            if f.variant is not None:
                if short:
                    parts.append(_in_short_html(short))
                    short = []
                anchor = f"findings-{_slug(f.variant)}"
                id_ = "" if anchor in seen else f' id="{anchor}"'  # the first one is the target
                seen.add(anchor)
                parts.append(f'<h3 class="finding-variant"{id_}>{html.escape(f.variant)}</h3>')
            parts.append('<ul class="findings">')
        parts.append(item(f))
    if parts:
        parts.append("</ul>")
    text = ("Generated from the tables of this page: first one sentence a variant (in short), "
            "then variant by variant in full; each sentence links to the table it reads. "
            f"A group's over-index is stated when it has at least "
            f"{min_examples} examples and {min_cies} CIEs, a group's rate when its condition has "
            f"at least {min_examples} examples.")
    return dict(id="findings", heading="Findings", text=text,
                tables=['<div class="findings">' + "".join(parts) + "</div>"], figures=[])


def write_report(audit, out_dir, *, title="pie_tf audit", intro="", images=None,
                 class_names=None, sparsity=None, max_exemplars=24, exemplar_variants=None,
                 max_rows=15, dpi=100, caveats=(), min_examples=_findings.MIN_EXAMPLES,
                 min_cies=_findings.MIN_CIES):
    """Write an audit as CSV tables, PNG figures and one self-contained HTML page.

    The report renders what the audit returned and computes nothing: every number on the page
    is in one of the CSV tables. The page opens with the findings (one sentence a variant,
    :func:`in_short`, then :func:`findings`, each sentence linked to its table) and the
    forgetting curve (``tables/forgetting_curve.csv``, gathered from the audit's tables by
    ``pie_tf.report._curve.curve_table``); each table then shows its key columns and rows,
    with the full CSV linked.

    Parameters
    ----------
    audit : pie_tf.Audit, or mapping of str -> pandas.DataFrame
        The audit's tables by name (``Audit.to_frames()``; add ``deployment`` and
        ``deployment_exemplars`` tables from :func:`pie_tf.compare_deployment` results to a
        mapping). Known names (``SECTIONS``) get a section, with a figure where one applies;
        per-member tables (``*_by_member``, ``corruption_errors``) are saved and linked; any
        other table is shown under "Other tables".
    out_dir : str or os.PathLike
        Created if missing; ``report.html``, ``tables/<name>.csv`` and ``figures/<name>.png``
        are (over)written there.
    title, intro : str
        Page title and a plain-text introduction (paragraphs separated by blank lines).
    images : mapping of id -> ndarray of shape (H, W) or (H, W, C), optional
        Images of (at least) the exemplars to draw; the grid shows exemplars found here.
    class_names : sequence of str, optional
        Names of the integer labels for captions.
    sparsity : mapping population -> float, optional
        x position of each population in the robustness figure and the forgetting curve (0 for
        dense); default the populations in order, by name, in the robustness figure, and the
        sparsity in the variant's name (``@0.9``; 0 without one) in the forgetting curve.
    max_exemplars : int
        Images per exemplar grid.
    exemplar_variants : list, optional
        Variants (values of the ``pie`` table's ``variant`` column) that get a grid; default the
        last one (the most compressed, in the audit's order).
    max_rows : int
        Rows of each table shown on the page, after its view picked the key rows and columns
        (the linked CSV has all).
    caveats : sequence of str
        The study's own caveats, stated first among the findings (e.g.
        :func:`pie_tf.report.dataset_caveats` of a stand-in dataset).
    min_examples, min_cies : int
        Support a group needs for the findings to state its over-index (examples and CIEs) or
        rate (examples in the condition); the figures grey groups below it.

    Returns
    -------
    Report
    """
    tables = _as_tables(audit)
    if not isinstance(max_exemplars, int) or max_exemplars < 1:
        raise ValueError(f"`max_exemplars` must be a positive int; got {max_exemplars!r}.")
    items = _findings.findings(tables, min_examples=min_examples, min_cies=min_cies,
                               caveats=caveats)
    curve = _curve.curve_table(tables, sparsity=sparsity, min_examples=min_examples,
                               min_cies=min_cies)
    if not curve.empty:
        tables["forgetting_curve"] = curve
    out = pathlib.Path(os.fspath(out_dir))
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)

    table_paths = {}
    for name, frame in tables.items():
        path = out / "tables" / f"{name}.csv"
        frame.to_csv(path, index=False)
        table_paths[name] = path

    figure_paths = {}

    def save(name, fig, caption):
        png = figure_png(fig, dpi=dpi)
        path = out / "figures" / f"{name}.png"
        path.write_bytes(png)
        figure_paths[name] = path
        return png, caption

    def compact(name, frame=None):
        shown, note, rows = _views.shown(name, tables[name] if frame is None else frame,
                                         max_rows)
        return table_html(shown, max_rows=rows, csv_name=f"tables/{name}.csv", note=note)

    options = {"sparsity": sparsity, "min_examples": min_examples, "min_cies": min_cies}
    sections = []
    if not curve.empty:
        sections.append(dict(
            id="forgetting_curve", heading="Forgetting curve",
            text="Each variant's cost against its sparsity: top-1 accuracy, the share of CIEs, "
                 "the worst protected group's FNR (error rate for a multi-class target) and the "
                 "rare group's over-index, with the spread over members (standard deviation; "
                 "the over-index: its bootstrap interval), and TFLite size against harm where "
                 "the study recorded sizes. Pruned variants are lines from dense; quantized "
                 "variants are diamonds at their sparsity (0 for a quantized dense model).",
            figures=[save("forgetting_curve", _curve.forgetting_curve_figure(curve),
                          "Forgetting curve")],
            tables=[compact("forgetting_curve")]))
    known = {s.table for s in SECTIONS} | {"forgetting_curve"}
    for spec in SECTIONS:
        frame = tables.get(spec.table)
        if frame is None or frame.empty:  # not measured in this study (CSV still written)
            continue
        figs = []
        if spec.figure is not None:
            fig = spec.figure(tables, options)
            if fig is not None:
                figs.append(save(spec.table, fig, spec.heading))
        if spec.table == "pie":
            ordered = _statistics.sort_exemplars(frame, tables.get("exemplar_scores"))
            figs.extend(save(*item) for item in _exemplar_figures(
                ordered, images, class_names, max_exemplars, exemplar_variants,
                _protected_columns(ordered, tables.get("overindex"))))
            frame = ordered
        sections.append(dict(id=spec.table, heading=spec.heading, text=spec.text, figures=figs,
                             tables=[compact(spec.table, frame)]))
    page = _Page(tables, max_rows)
    for section_id, heading, render, shows, after in RENDERED_SECTIONS:
        known.update(shows)
        content = render(page)
        if content is None:
            continue
        where = next((i + 1 for i, sec in enumerate(sections) if sec["id"] == after),
                     len(sections))
        sections.insert(where, dict(id=section_id, heading=heading, text=content["text"],
                                    figures=[], tables=content["parts"]))
    csv_only = [name for name in tables if name not in known and name.endswith(_CSV_ONLY)]
    if csv_only:
        links = "".join(f'<li><a href="tables/{n}.csv">tables/{n}.csv</a> '
                        f'({len(tables[n])} rows)</li>' for n in csv_only)
        sections.append(dict(id="per_member", heading="Per-member tables (CSV)",
                             text="Every member's figures behind the means above.",
                             tables=[f"<ul>{links}</ul>"]))
    others = [name for name in tables
              if name not in known and name not in csv_only and not tables[name].empty]
    if others:  # the first columns only: the page stays narrower than a window
        sections.append(dict(id="other_tables", heading="Other tables", tables=[
            f'<h3 id="{name}">{name}</h3>' + table_html(
                tables[name].iloc[:, :_OTHER_COLUMNS], max_rows=max_rows,
                csv_name=f"tables/{name}.csv",
                note=f"{tables[name].shape[1] - _OTHER_COLUMNS} more columns in the CSV."
                if tables[name].shape[1] > _OTHER_COLUMNS else "")
            for name in others]))
    anchors = {sec["id"] for sec in sections} | set(others)
    sections.insert(0, _findings_section(items, anchors, min_examples, min_cies,
                                         _findings.in_short(items, sparsity=sparsity)))
    html_path = out / "report.html"
    tmp = html_path.with_suffix(".html.tmp")
    tmp.write_text(page_html(title, sections, intro=intro), encoding="utf-8")
    os.replace(tmp, html_path)  # a reader never sees half a page
    return Report(html=html_path, tables=table_paths, figures=figure_paths)
