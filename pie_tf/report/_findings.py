"""Findings: what compression cost, in sentences generated from the audit's tables.

    from pie_tf.report import findings, findings_text, in_short

    for finding in findings(tables):            # tables: Audit.to_frames() (+ deployment)
        print(finding.variant, finding.table, finding.text)
    print(findings_text(tables))                # the same, as plain text for a console
    for line in in_short(findings(tables)):     # one sentence a variant, to decide on
        print(line.text)
    findings(tables, caveats=dataset_caveats(info))  # a stand-in dataset said first

The report's page opens with these sentences (each links to the table it reads); a study
script prints :func:`findings_text` at the end of a run. Like the rest of the report, this
module computes no statistic: every number in a sentence is a value of one of the tables
(differences of two values and means of a per-member column are the only arithmetic), and
:attr:`Finding.numbers` holds those values unrounded, so code and tests can check them.

Per compressed variant (the audit's order): top-1 accuracy change with the spread over members;
how many examples changed their modal label (CIEs) and how the dense population does on them;
classes significantly changed after Benjamini-Hochberg; the most over-indexed groups among the
CIEs *with enough support* (at least ``min_examples`` examples and ``min_cies`` CIEs) with their
bootstrap intervals; FPR / FNR (error rate for multi-class targets) per protected group, dense
against compressed; calibration and the exact McNemar test where the tables have them. Then each
TFLite export against its Keras source. Caveats follow the sentence they qualify (few members,
groups too small to report, undefined tests); ``caveats`` adds the study's own (e.g. a stand-in
dataset) at the top. :func:`in_short` condenses each variant's findings into one sentence
(top-1 change, share of CIEs, most harmed group, TFLite size) from the same numbers; the page
and :func:`findings_text` put that block above the per-variant findings.
"""
from __future__ import annotations

import dataclasses
import re
import textwrap
from collections.abc import Mapping
from typing import Optional

import numpy as np
import pandas as pd

from pie_tf.audit import rare_group
from pie_tf.errors import InvalidArgumentError

__all__ = ["Finding", "findings", "findings_text", "in_short", "dataset_caveats", "supported",
           "MIN_EXAMPLES", "MIN_CIES", "MIN_MEMBERS"]

MIN_EXAMPLES = 30   # a group's over-index or rate is stated only with this many examples ...
MIN_CIES = 5        # ... and (over-index) this many CIEs in the group
MIN_MEMBERS = 5     # fewer members per population than this is a caveat (the papers use 30)
_RATE_NAMES = {"false_positive_rate": "False positive rate", "false_negative_rate":
               "False negative rate", "error_rate": "Error rate"}
_SHORT_RATES = {"false_positive_rate": "FPR", "false_negative_rate": "FNR",
                "error_rate": "error rate"}
_SPARSITY = re.compile(r"@([0-9]*\.?[0-9]+)")
_KIND_ORDER = {"dense": 0, "pruned": 1, "mitigated": 2, "quantized": 3}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One sentence of the findings.

    Attributes
    ----------
    text : str
        The sentence (plain text).
    table : str
        Name of the table it reads; the report's section of that table has this id, so the
        page links the sentence to ``#<table>``.
    variant : str or None
        The compressed variant (or TFLite export) it is about; None for a study-wide note.
    kind : str
        ``accuracy``, ``cie``, ``classes``, ``overindex``, ``group_rates``, ``calibration``,
        ``paired``, ``deployment`` or ``caveat``; ``in_short`` for the one-sentence summary
        of a variant (:func:`in_short`).
    numbers : dict of str -> float
        The table values the sentence states, unrounded.
    """
    text: str
    table: str
    variant: Optional[str]
    kind: str
    numbers: dict = dataclasses.field(default_factory=dict)


def _pct(value, digits=2):
    return f"{100 * value:.{digits}f}%"


def _points(value, digits=2):
    return f"{100 * value:+.{digits}f} points"


def _count(n, noun):
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _finite(*values):
    return all(v is not None and np.isfinite(float(v)) for v in values)


# The columns each table needs for its sentences; a hand-built table without them gives none.
_NEEDS = {
    "pie_summary": ("variant", "n_dense_members", "n_compressed_members", "n_examples", "n_cie",
                    "cie_fraction", "dense_accuracy_all", "dense_accuracy_all_std",
                    "compressed_accuracy_all", "compressed_accuracy_all_std",
                    "dense_accuracy_cie", "compressed_accuracy_cie"),
    "class_impact_summary": ("variant", "n_classes", "n_classes_tested", "n_significant",
                             "n_significant_fdr", "alpha"),
    "class_impact": ("variant", "class", "normalized_change", "q_value", "significant_fdr"),
    "overindex": ("variant", "group", "n_examples", "n_cie", "overindex", "ci_low", "ci_high"),
    "group_rates": ("variant", "group", "order", "metric", "n_examples", "n_condition",
                    "dense_mean", "compressed_mean"),
    "group_rate_intervals": ("variant", "group", "metric", "change_ci_low", "change_ci_high"),
    "calibration": ("population", "group", "ece_mean", "direction", "n_bins"),
    "deployment_calibration": ("variant", "population", "group", "ece_mean", "direction",
                               "n_bins"),
    "paired_tests": ("variant", "kind", "group", "b", "c", "p_value", "significant_fdr"),
    "deployment_paired_tests": ("variant", "kind", "group", "b", "c", "p_value",
                                "significant_fdr"),
    "deployment": ("variant", "source", "keras_accuracy_all", "tflite_accuracy_all",
                   "n_deployment_exemplars", "deployment_exemplar_fraction"),
    "deployment_sizes": ("variant",),
}


def _kind(name):
    """``dense``, ``quantized`` (TFLite exports, QAT), ``mitigated`` or ``pruned``."""
    if name == "dense":
        return "dense"
    if "tflite" in name or name.startswith("qat"):
        return "quantized"
    if re.match(r"prune_(kd|rw|gw)@", name):
        return "mitigated"
    return "pruned"


def _x(name, sparsity=None):
    """A population's sparsity: from ``sparsity`` (a mapping), else its name (``@0.9``), else 0."""
    if sparsity is not None and name in sparsity:
        return float(sparsity[name])
    match = _SPARSITY.search(name)
    return float(match.group(1)) if match else 0.0


def _table(tables, name):
    frame = tables.get(name)
    if frame is None or frame.empty:
        return None
    return frame if set(_NEEDS.get(name, ())) <= set(frame.columns) else None


def _rows(frame, variant, column="variant"):
    return frame[frame[column] == variant] if frame is not None else None


def supported(overindex, *, min_examples=MIN_EXAMPLES, min_cies=MIN_CIES):
    """Boolean Series: rows of ``overindex`` with enough support for their ratio to be stated."""
    return ((overindex["n_examples"] >= min_examples) & (overindex["n_cie"] >= min_cies)
            & np.isfinite(overindex["overindex"].to_numpy(dtype=float)))


def _variants(tables):
    for name in ("pie_summary", "class_impact_summary"):
        frame = _table(tables, name)
        if frame is not None and "variant" in frame.columns:
            return list(pd.unique(frame["variant"]))
    return []


def _accuracy(ps, variant):
    r = ps.iloc[0]
    nums = {"dense_accuracy": float(r.dense_accuracy_all),
            "compressed_accuracy": float(r.compressed_accuracy_all),
            "change": float(r.compressed_accuracy_all - r.dense_accuracy_all),
            "dense_std": float(r.dense_accuracy_all_std),
            "compressed_std": float(r.compressed_accuracy_all_std),
            "n_dense_members": int(r.n_dense_members),
            "n_compressed_members": int(r.n_compressed_members)}
    text = (f"Top-1 accuracy {_pct(nums['compressed_accuracy'])} against dense "
            f"{_pct(nums['dense_accuracy'])} ({_points(nums['change'])}).")
    if _finite(nums["dense_std"], nums["compressed_std"]):
        text = text[:-1] + (f"; spread over members (sd) {100 * nums['compressed_std']:.2f} "
                            f"and {100 * nums['dense_std']:.2f} points, "
                            f"{nums['n_compressed_members']} and {nums['n_dense_members']} "
                            "members.")
    return [Finding(text, "pie_summary", variant, "accuracy", nums)]


def _members(pie_summary, min_members):
    """One study-wide caveat when a population has fewer than ``min_members`` members."""
    if pie_summary is None:
        return []
    fewest = int(min(pie_summary["n_dense_members"].min(),
                     pie_summary["n_compressed_members"].min()))
    if fewest >= min_members:
        return []
    return [Finding(f"Caveat: as few as {_count(fewest, 'member')} in a population; spreads and "
                    "tests over members rest on few seeds (the papers train 30).",
                    "pie_summary", None, "caveat", {"n_members": fewest})]


def _cies(ps, variant):
    r = ps.iloc[0]
    nums = {"n_cie": int(r.n_cie), "n_examples": int(r.n_examples),
            "cie_fraction": float(r.cie_fraction)}
    if nums["n_cie"] == 0:
        return [Finding(f"No example of {nums['n_examples']} changed its modal label (no CIEs).",
                        "pie_summary", variant, "cie", nums)]
    nums.update(dense_accuracy_cie=float(r.dense_accuracy_cie),
                compressed_accuracy_cie=float(r.compressed_accuracy_cie),
                dense_accuracy=float(r.dense_accuracy_all))
    text = (f"{nums['n_cie']} of {nums['n_examples']} examples "
            f"({_pct(nums['cie_fraction'])}) changed their modal label (CIEs); on them the dense "
            f"members are right {_pct(nums['dense_accuracy_cie'], 1)} of the time (overall "
            f"{_pct(nums['dense_accuracy'], 1)}), the compressed "
            f"{_pct(nums['compressed_accuracy_cie'], 1)}.")
    return [Finding(text, "pie_summary", variant, "cie", nums)]


def _class_name(row):
    name = getattr(row, "class_name", None)
    return str(name) if isinstance(name, str) and name else str(row._asdict()["class"])


def _classes(summary, impact, variant, max_classes):
    r = summary.iloc[0]
    alpha = float(r.alpha)
    nums = {"n_significant_fdr": int(r.n_significant_fdr),
            "n_significant": int(r.n_significant),
            "n_classes_tested": int(r.n_classes_tested), "n_classes": int(r.n_classes),
            "alpha": alpha}
    if nums["n_classes_tested"] == 0:
        status = ""
        if impact is not None and "status" in impact.columns and len(impact):
            status = f" ({impact['status'].iloc[0]})"
        return [Finding(f"Caveat: no class could be tested{status}.", "class_impact", variant,
                        "caveat", nums)]
    text = (f"{nums['n_significant_fdr']} of {nums['n_classes_tested']} classes changed "
            f"significantly after Benjamini-Hochberg (q <= {alpha:g}; "
            f"{nums['n_significant']} at p <= {alpha:g} uncorrected).")
    if impact is not None and nums["n_significant_fdr"]:
        sig = impact[impact["significant_fdr"].astype(bool)]
        hurt = sig[sig["normalized_change"] < 0].sort_values("normalized_change",
                                                             kind="stable")
        helped = len(sig) - len(hurt)
        shown = list(hurt.head(max_classes).itertuples(index=False))
        if shown:
            text = text[:-1] + "; most hurt: " + ", ".join(
                f"{_class_name(row)} ({_points(row.normalized_change)} normalized, "
                f"q {row.q_value:.2g})" for row in shown) + "."
            nums["most_hurt"] = [(_class_name(row), float(row.normalized_change),
                                  float(row.q_value)) for row in shown]
        if helped:
            text += f" {helped} significant class{'es' if helped != 1 else ''} improved."
    return [Finding(text, "class_impact", variant, "classes", nums)]


def _overindex(rows, variant, min_examples, min_cies, max_groups):
    ok = supported(rows, min_examples=min_examples, min_cies=min_cies)
    support = f"at least {min_examples} examples and {min_cies} CIEs"
    nums = {"min_examples": min_examples, "min_cies": min_cies,
            "n_groups": int(len(rows)), "n_supported": int(ok.sum())}
    if not ok.any():
        return [Finding(f"Caveat: no group has {support}, so no over-index is stated "
                        f"({len(rows)} groups in the table).", "overindex", variant, "caveat",
                        nums)]
    top = rows[ok & (rows["overindex"] > 1)].sort_values("overindex", ascending=False,
                                                          kind="stable").head(max_groups)
    if top.empty:
        text = (f"No group with {support} is over-represented among the CIEs (every "
                "over-index <= 1).")
    else:
        text = (f"Most over-indexed among the CIEs (groups with {support}): " + "; ".join(
            f"{row.group} {row.overindex:.2f}x (interval {row.ci_low:.2f}-{row.ci_high:.2f}, "
            f"{int(row.n_cie)} CIEs of {int(row.n_examples)} examples)"
            for row in top.itertuples(index=False)) + ".")
        nums["groups"] = [(str(row.group), float(row.overindex), float(row.ci_low),
                           float(row.ci_high), int(row.n_cie), int(row.n_examples))
                          for row in top.itertuples(index=False)]
    out = [Finding(text, "overindex", variant, "overindex", nums)]
    left = int((~ok).sum())
    if left:
        out.append(Finding(f"Caveat: {left} of {len(rows)} groups have less support and are "
                           "not stated (greyed in the figure; their ratios are in the table).",
                           "overindex", variant, "caveat", {"n_unsupported": left}))
    return out


def _rate_groups(rows, rare):
    """Single-attribute groups (and the rare intersection) that are real subgroups."""
    whole = rows[rows["group"] == "all"]
    full = set(whole["n_condition"]) if len(whole) else set()
    keep = (rows["order"] == 1) | (rows["group"] == rare)
    # a group whose condition set is the whole condition set is the target itself, not a
    # subgroup; an intersection with the target has the condition set of its other attribute
    # (FNR of Blond_Hair ∧ Male is the FNR of Male): each rate is stated once
    rows = rows[keep & ~rows["n_condition"].isin(full)]
    return rows.drop_duplicates(["n_condition", "dense_mean", "compressed_mean"])


def _group_rates(rates, intervals, variant, min_examples, rare):
    out = []
    metrics = [m for m in ("false_positive_rate", "false_negative_rate")
               if m in set(rates["metric"])] or ["error_rate"]
    for metric in metrics:
        rows = _rate_groups(rates[rates["metric"] == metric], rare)
        ok = (rows["n_condition"] >= min_examples) & np.isfinite(
            rows["dense_mean"].to_numpy(dtype=float)) & np.isfinite(
            rows["compressed_mean"].to_numpy(dtype=float))
        shown = rows[ok]
        if shown.empty:
            continue
        name = _RATE_NAMES.get(metric, metric.replace("_", " ").capitalize())
        per = [(str(r.group), float(r.dense_mean), float(r.compressed_mean),
                float(r.compressed_mean - r.dense_mean)) for r in shown.itertuples(index=False)]
        text = (f"{name} per group, dense -> compressed: " + "; ".join(
            f"{g} {_pct(d, 1)} -> {_pct(c, 1)} ({_points(ch, 1)})" for g, d, c, ch in per)
            + ".")
        worst = max(per, key=lambda item: item[3])
        nums = {"metric": metric, "groups": per, "worst_group": worst[0],
                "worst_change": worst[3]}
        if worst[3] > 0:
            text += f" Largest rise: {worst[0]}"
            iv = None if intervals is None else intervals[
                (intervals["group"] == worst[0]) & (intervals["metric"] == metric)]
            if iv is not None and len(iv) and _finite(iv["change_ci_low"].iloc[0],
                                                      iv["change_ci_high"].iloc[0]):
                lo, hi = float(iv["change_ci_low"].iloc[0]), float(iv["change_ci_high"].iloc[0])
                nums.update(worst_ci_low=lo, worst_ci_high=hi)
                text += (f" (interval {100 * lo:+.1f} to {100 * hi:+.1f} points over members "
                         "and examples)")
            text += "."
        out.append(Finding(text, "group_rates", variant, "group_rates", nums))
        left = rows[(rows["n_condition"] > 0) & (rows["n_condition"] < min_examples)]
        if len(left):
            out.append(Finding(
                f"Caveat: {name.lower()} not stated for {', '.join(map(str, left['group']))} "
                f"(fewer than {min_examples} examples in the condition).", "group_rates",
                variant, "caveat", {"groups": list(map(str, left["group"]))}))
    return out


def _ece(calibration, population):
    rows = calibration[(calibration["population"] == population)
                       & (calibration["group"] == "all")]
    if rows.empty or not _finite(rows["ece_mean"].iloc[0]):
        return None
    return float(rows["ece_mean"].iloc[0]), str(rows["direction"].iloc[0]), \
        int(rows["n_bins"].iloc[0])


def _calibration(calibration, reference, population, variant, table, labels):
    ref, comp = _ece(calibration, reference), _ece(calibration, population)
    if ref is None or comp is None:
        return []
    nums = {"ece_reference": ref[0], "ece": comp[0], "n_bins": comp[2]}
    text = (f"Calibration (ECE, {comp[2]} bins): {labels[1]} {comp[0]:.3f} ({comp[1]}) "
            f"against {labels[0]} {ref[0]:.3f} ({ref[1]}).")
    return [Finding(text, table, variant, "calibration", nums)]


def _paired(paired, variant, table, labels):
    rows = paired[(paired["kind"] == "group") & (paired["group"] == "all")]
    if rows.empty or not _finite(rows["p_value"].iloc[0]):
        return []
    r = rows.iloc[0]
    tested = paired[paired["status"] == "tested"] if "status" in paired.columns else paired
    nums = {"b": int(r.b), "c": int(r.c), "p_value": float(r.p_value),
            "n_significant_fdr": int(tested["significant_fdr"].astype(bool).sum()),
            "n_tests": int(len(tested))}
    text = (f"Exact McNemar test on all examples: {_count(nums['b'], 'negative flip')} "
            f"({labels[0]} right, {labels[1]} wrong) against {nums['c']} positive, "
            f"p = {nums['p_value']:.3g}; "
            f"{nums['n_significant_fdr']} of {nums['n_tests']} group and class tests "
            "significant after Benjamini-Hochberg.")
    return [Finding(text, table, variant, "paired", nums)]


def _sizes(tables, export):
    sizes = _table(tables, "deployment_sizes")
    if sizes is None or "variant" not in sizes.columns:
        return {}
    rows = sizes[sizes["variant"] == export]
    out = {}
    for column in ("tflite_gzip_bytes", "tflite_bytes"):
        if column in rows.columns:
            values = rows[column].to_numpy(dtype=float)
            if len(values) and np.isfinite(values).all():
                out[column] = float(values.mean())
    return out


def _deployment(row, tables):
    export, source = str(row.variant), str(row.source)
    nums = {"keras_accuracy": float(row.keras_accuracy_all),
            "tflite_accuracy": float(row.tflite_accuracy_all),
            "change": float(row.tflite_accuracy_all - row.keras_accuracy_all),
            "n_deployment_exemplars": int(row.n_deployment_exemplars),
            "deployment_exemplar_fraction": float(row.deployment_exemplar_fraction)}
    text = (f"Against its Keras source {source}: top-1 {_pct(nums['tflite_accuracy'])} against "
            f"{_pct(nums['keras_accuracy'])} ({_points(nums['change'])}); "
            f"{nums['n_deployment_exemplars']} examples "
            f"({_pct(nums['deployment_exemplar_fraction'])}) change their modal label on "
            "export")
    if _finite(getattr(row, "label_loyalty_mean", np.nan)):
        nums["label_loyalty"] = float(row.label_loyalty_mean)
        text += f"; label loyalty {nums['label_loyalty']:.4f}"
    size = _sizes(tables, export)
    nums.update(size)
    if "tflite_gzip_bytes" in size:
        text += f"; {size['tflite_gzip_bytes'] / 1024:.1f} KiB gzipped"
    elif "tflite_bytes" in size:
        text += f"; {size['tflite_bytes'] / 1024:.1f} KiB (flatbuffer)"
    out = [Finding(text + ".", "deployment", export, "deployment", nums)]
    calibration = _table(tables, "deployment_calibration")
    if calibration is not None:
        out += _calibration(_rows(calibration, export), source, export, export,
                            "deployment_calibration", ("Keras", "TFLite"))
    paired = _table(tables, "deployment_paired_tests")
    if paired is not None:
        out += _paired(_rows(paired, export), export, "deployment_paired_tests",
                       ("Keras", "TFLite"))
    return out


def findings(tables, *, min_examples=MIN_EXAMPLES, min_cies=MIN_CIES, min_members=MIN_MEMBERS,
             caveats=(), max_groups=3, max_classes=5):
    """The findings of an audit, variant by variant, as :class:`Finding` sentences.

    Parameters
    ----------
    tables : pie_tf.Audit or mapping of str -> pandas.DataFrame
        ``Audit.to_frames()``, optionally with the deployment tables of a study
        (``deployment``, ``deployment_sizes``, ``deployment_calibration``,
        ``deployment_paired_tests``). Tables that are absent or empty give no sentence.
    min_examples, min_cies : int
        Support a group needs for its over-index to be stated (examples and CIEs in the group);
        rates need ``min_examples`` examples in their condition (negatives for FPR, positives
        for FNR).
    min_members : int
        Fewer members than this in a population adds a caveat.
    caveats : sequence of str
        The study's own caveats (e.g. that the data are a stand-in), stated first.
    max_groups, max_classes : int
        Over-indexed groups and significantly hurt classes named per variant.

    Returns
    -------
    list of Finding

    Examples
    --------
    >>> import numpy as np, pie_tf
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 2, 400)
    >>> def members(accuracy):
    ...     return np.where(rng.random((3, 400)) < accuracy, labels, 1 - labels)
    >>> audit = pie_tf.audit(members(0.95), {"prune@0.9": members(0.85)}, labels,
    ...                      n_bootstrap=20)
    >>> [f.kind for f in findings(audit)][:3]
    ['caveat', 'accuracy', 'cie']
    """
    if callable(getattr(tables, "to_frames", None)):
        tables = tables.to_frames()
    if not isinstance(tables, Mapping):
        raise InvalidArgumentError(f"`tables` must be a pie_tf.Audit or a mapping of table name "
                                   f"-> DataFrame; got {type(tables).__name__}.")
    for name, value in (("min_examples", min_examples), ("min_cies", min_cies),
                        ("min_members", min_members), ("max_groups", max_groups),
                        ("max_classes", max_classes)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise InvalidArgumentError(f"`{name}` must be a non-negative int; got {value!r}.")
    if isinstance(caveats, str):
        caveats = [caveats]
    out = [Finding(f"Caveat: {text}", "summary", None, "caveat", {}) for text in caveats]
    pie_summary = _table(tables, "pie_summary")
    class_summary = _table(tables, "class_impact_summary")
    impact = _table(tables, "class_impact")
    overindex = _table(tables, "overindex")
    rates = _table(tables, "group_rates")
    intervals = _table(tables, "group_rate_intervals")
    calibration = _table(tables, "calibration")
    paired = _table(tables, "paired_tests")
    out += _members(pie_summary, min_members)
    rare = None if rates is None else rare_group(rates[rates["n_examples"] >= min_examples])
    for variant in _variants(tables):
        if pie_summary is not None and len(_rows(pie_summary, variant)):
            ps = _rows(pie_summary, variant)
            accuracy = _accuracy(ps, variant)
            size = _sizes(tables, variant)   # an audited TFLite variant (dense+tflite_int8)
            if "tflite_gzip_bytes" in size:
                first = accuracy[0]
                accuracy[0] = dataclasses.replace(
                    first, text=first.text[:-1] + f"; TFLite "
                    f"{size['tflite_gzip_bytes'] / 1024:.1f} KiB gzipped.",
                    numbers={**first.numbers, **size})
            out += accuracy + _cies(ps, variant)
        if class_summary is not None and len(_rows(class_summary, variant)):
            out += _classes(_rows(class_summary, variant), _rows(impact, variant), variant,
                            max_classes)
        if overindex is not None and len(_rows(overindex, variant)):
            out += _overindex(_rows(overindex, variant), variant, min_examples, min_cies,
                              max_groups)
        if rates is not None and len(_rows(rates, variant)):
            out += _group_rates(_rows(rates, variant), _rows(intervals, variant), variant,
                                min_examples, rare)
        if calibration is not None:
            out += _calibration(calibration, "dense", variant, variant, "calibration",
                                ("dense", "compressed"))
        if paired is not None and len(_rows(paired, variant)):
            out += _paired(_rows(paired, variant), variant, "paired_tests",
                           ("dense", "compressed"))
    deployment = _table(tables, "deployment")
    if deployment is not None:
        for row in deployment.itertuples(index=False):
            out += _deployment(row, tables)
    return out


def dataset_caveats(info):
    """The caveat a study states for its data: one sentence when they are a stand-in.

    ``info``: a :class:`pie_tf.data.DatasetInfo` (its ``name`` and ``description``).
    """
    description = str(getattr(info, "description", "") or "")
    if "stand-in" not in description.lower():
        return []
    short = description.split(":")[0].strip().rstrip(".")
    return [f"the data are {info.name}, a stand-in ({short}): these findings are about it, not "
            "about the dataset it stands in for."]


def _harm(by_kind):
    """The most harmed supported group the findings name, as (numbers, words): the largest rise
    of a group's FPR / FNR / error rate, else the most over-indexed group among the CIEs, else
    that no stated rate rose."""
    rises = [f.numbers for f in by_kind.get("group_rates", ())
             if f.numbers.get("worst_change", 0) > 0]
    if rises:
        worst = max(rises, key=lambda nums: nums["worst_change"])
        metric = worst["metric"]
        name = _SHORT_RATES.get(metric, metric.replace("_", " "))
        return ({"group": worst["worst_group"], "metric": metric,
                 "group_change": worst["worst_change"]},
                f"{name} of {worst['worst_group']} {_points(worst['worst_change'], 1)}")
    over = [f.numbers["groups"][0] for f in by_kind.get("overindex", ())
            if f.numbers.get("groups")]
    if over:
        group, ratio = over[0][:2]
        return ({"group": group, "metric": "overindex", "overindex": ratio},
                f"{group} {ratio:.2f}x over-indexed among the CIEs")
    if by_kind.get("group_rates"):
        return {}, "no supported group's rate rose"
    return {}, None


def _size_words(nums):
    return (f"; {nums['tflite_gzip_bytes'] / 1024:.1f} KiB gzipped"
            if "tflite_gzip_bytes" in nums else "")


def _short(variant, by_kind):
    """One sentence for a variant from its findings' numbers, or None without them."""
    if not by_kind.get("accuracy"):   # a TFLite export, against its Keras source
        if not by_kind.get("deployment"):
            return None
        d = by_kind["deployment"][0].numbers
        nums = {"change": d["change"], "cie_fraction": d["deployment_exemplar_fraction"]}
        nums.update({k: d[k] for k in ("tflite_gzip_bytes",) if k in d})
        text = (f"{variant}: {_points(nums['change'], 1)} top-1 against its Keras source, "
                f"{_pct(nums['cie_fraction'], 1)} of examples changed on export")
        return Finding(text + _size_words(nums) + ".", "findings", variant, "in_short", nums)
    a = by_kind["accuracy"][0].numbers
    nums = {"change": a["change"], "std": a["compressed_std"]}
    text = f"{variant}: {_points(nums['change'], 1)} top-1"
    if _finite(nums["std"]):
        text += f" (sd {100 * nums['std']:.1f})"
    if by_kind.get("cie"):
        nums["cie_fraction"] = by_kind["cie"][0].numbers["cie_fraction"]
        text += f", {_pct(nums['cie_fraction'], 1)} of examples changed"
    harm, words = _harm(by_kind)
    nums.update(harm)
    if words:
        text += ", " + words
    nums.update({k: a[k] for k in ("tflite_gzip_bytes",) if k in a})
    return Finding(text + _size_words(nums) + ".", "findings", variant, "in_short", nums)


def in_short(items, *, sparsity=None):
    """One sentence per compressed or deployed variant: what a reader needs to decide.

    Each states, from the numbers of the variant's :func:`findings` (no other computation):
    the top-1 change in points with the compressed members' spread (sd, points), the share of
    examples whose modal label changed (CIEs), the most harmed supported group (the largest
    rise of a group's FPR / FNR / error rate, else the most over-indexed group) and, for a
    TFLite model, its mean gzip size. A TFLite export is compared with its Keras source.

    Parameters
    ----------
    items : list of Finding or what :func:`findings` takes
        The findings (computed with the default options when tables are given).
    sparsity : mapping population -> float, optional
        The order: by sparsity (this mapping, else the ``@0.9`` in a name, else 0), then
        pruned, mitigated, quantized; the findings' order breaks ties.

    Returns
    -------
    list of Finding
        ``kind == "in_short"``, ``table == "findings"``; ``numbers`` holds ``change`` and
        ``cie_fraction`` (fractions, not points), ``std`` (accuracy's sd over members), and
        where stated ``group``, ``metric``, ``group_change`` or ``overindex``,
        ``tflite_gzip_bytes``.
    """
    items = items if isinstance(items, list) else findings(items)
    grouped = {}
    for item in items:
        if item.variant is not None:
            grouped.setdefault(item.variant, {}).setdefault(item.kind, []).append(item)
    order = sorted(enumerate(grouped), key=lambda pair: (
        _x(pair[1], sparsity), _KIND_ORDER[_kind(pair[1])], pair[0]))
    out = [_short(variant, grouped[variant]) for _, variant in order]
    return [item for item in out if item is not None]


def findings_text(tables, *, width=100, sparsity=None, **options):
    """The findings as plain text: study-wide notes, an "In short" block (:func:`in_short`,
    one sentence a variant), then one paragraph per variant; lines of at most ``width``.

    ``tables`` is what :func:`findings` takes, or the list it returned; ``options`` go to
    :func:`findings`, ``sparsity`` to :func:`in_short`.
    """
    items = tables if isinstance(tables, list) else findings(tables, **options)
    short = in_short(items, sparsity=sparsity)

    def wrap(text):
        return textwrap.wrap(text, width=width, initial_indent="  - ",
                             subsequent_indent="    ")
    lines, current = ["Findings"], object()
    for item in items:
        if item.variant != current:
            if item.variant is not None and short:
                lines += ["", "In short:"] + [line for s in short for line in wrap(s.text)]
                short = []
            current = item.variant
            lines += ["", f"{item.variant}:" if item.variant is not None else "Study:"]
        lines += wrap(item.text)
    if not items:
        lines.append("  (no audit tables with findings)")
    return "\n".join(lines)
