"""The Audit: every statistic of the audit for one dense and several compressed populations.

In the spirit of fairlearn's ``MetricFrame``: built once from its inputs, it exposes pandas
DataFrames as properties, each computed on first access and cached. Every table is in long form
with a ``variant`` (or ``population``) column, so a report can filter, pivot or save it as is.

A new statistic is a new property here, reading the inputs (``self.clean``, ``self.groups``,
``self.corrupted``, ``self.subset``, ``self.options``); the constructor does not change.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np
import pandas as pd

from pie_tf.audit import _attributes, _class_impact, _pie, _robustness
from pie_tf.audit._inputs import (
    AuditOptions, CleanEvaluation, CorruptedEvaluations, Groups, SubsetEvaluation)
from pie_tf.audit._loyalty import member_loyalty
from pie_tf.audit._statistics import STATISTICS_TABLES, AuditStatistics
from pie_tf.errors import InvalidArgumentError

__all__ = ["Audit", "audit"]

# Column lists of every table, so empty tables keep their schema.
OVERINDEX_COLUMNS = ["variant", "group", "order", "attributes", "n_examples", "n_cie",
                     "share_eval", "share_cie", "cie_rate", "overindex", "ci_low", "ci_high",
                     "n_bootstrap_valid", "status"]
GROUP_RATE_COLUMNS = ["variant", "group", "order", "metric", "n_examples", "n_condition",
                      "dense_mean", "dense_std", "compressed_mean", "compressed_std",
                      "absolute_change", "relative_change_pct", "status"]
GROUP_RATE_MEMBER_COLUMNS = ["population", "member", "group", "order", "metric", "value",
                             "n_examples", "n_condition"]
CORRUPTION_ERROR_COLUMNS = ["population", "corruption", "severity", "member", "error"]
ROBUSTNESS_COLUMNS = ["population", "corruption", "n_members", "n_severities", "error_mean",
                      "ce_mean", "ce_std", "relative_ce_mean", "relative_ce_std", "reference",
                      "status"]
ROBUSTNESS_SUMMARY_COLUMNS = ["population", "n_members", "clean_error_mean", "mce_mean",
                              "mce_std", "relative_mce_mean", "relative_mce_std",
                              "n_corruptions", "reference"]
IMAGENET_A_COLUMNS = ["population", "n_members", "accuracy_mean", "accuracy_std"]


def _std(x):
    x = np.asarray(x, dtype=np.float64)
    return float(x.std(ddof=1)) if x.size > 1 else np.nan


def _check_input(value, cls, argname):
    if value is not None and not isinstance(value, cls):
        raise TypeError(f"`{argname}` must be a pie_tf.audit.{cls.__name__}; got "
                        f"{type(value).__name__}.")
    return value


class Audit(AuditStatistics):
    """PIE/CIE, class impact, attributes, group rates, loyalty and robustness of populations.

    Build it from arrays with :func:`pie_tf.audit` (keywords), from its input objects here, or
    from a prediction store with :meth:`from_store`.

    Parameters
    ----------
    clean : CleanEvaluation
        The dense and compressed populations' predictions on the evaluation set, its labels
        and ids (and optional probabilities).
    groups : Groups, optional
        Per-example attributes and the groups to form (over-indexing, group FPR/FNR).
    corrupted : CorruptedEvaluations, optional
        Predictions on corrupted copies of the data (corruption error, mCE).
    subset : SubsetEvaluation, optional
        Predictions on a class-subset evaluation set (ImageNet-A accuracy).
    options : AuditOptions, optional
        Voting mode, tie rule, significance level, bootstrap.

    Examples
    --------
    >>> import numpy as np
    >>> from pie_tf.audit import Audit, AuditOptions, CleanEvaluation, Groups
    >>> labels = np.array([0, 1, 1, 0])
    >>> dense = np.array([[0, 1, 1, 0], [0, 1, 1, 1], [0, 1, 1, 0]])
    >>> pruned = np.array([[0, 0, 1, 0], [0, 0, 1, 1], [1, 0, 1, 0]])
    >>> result = Audit(CleanEvaluation(dense, {"prune@0.9": pruned}, labels),
    ...                groups=Groups({"Male": [True, True, False, False]}),
    ...                options=AuditOptions(n_bootstrap=10))
    >>> result.pie["cie"].tolist()
    [False, True, False, False]
    >>> float(result.overindex.set_index("group").loc["Male", "overindex"])
    2.0
    """

    def __init__(self, clean, *, groups=None, corrupted=None, subset=None, options=None):
        if not isinstance(clean, CleanEvaluation):
            raise TypeError(f"`clean` must be a pie_tf.audit.CleanEvaluation; got "
                            f"{type(clean).__name__} (pie_tf.audit(dense, compressed, labels, "
                            f"...) builds an Audit from arrays).")
        self.clean = clean
        self.groups = (_check_input(groups, Groups, "groups") or Groups())._bind(clean)
        self.corrupted = None if corrupted is None else _check_input(
            corrupted, CorruptedEvaluations, "corrupted")._bind(clean)
        self.subset = None if subset is None else _check_input(
            subset, SubsetEvaluation, "subset")._bind(clean)
        self.options = (_check_input(options, AuditOptions, "options")
                        or AuditOptions())._bind(clean)

    @classmethod
    def from_store(cls, store, eval_set, *, dense="dense", variants=None, probabilities="auto",
                   corruption_sets="auto", imagenet_a_set=None, **kwargs):
        """Build an Audit from a :class:`pie_tf.store.PredictionStore` (read API only).

        Parameters
        ----------
        store : PredictionStore or str
            Read through ``eval_set``, ``eval_sets``, ``variants``, ``fields_for`` and ``read``;
            nothing of the trainer is imported. A path opens the store there
            (:meth:`PredictionStore.open_existing`: an error, never a new empty store, when the
            folder holds none).
        eval_set : str
            The evaluation set audited (ids, labels and attributes come from it).
        dense : str
            The variant name of the dense population in the store.
        variants : sequence of str, optional
            Compressed variants to audit (default: every other variant in the store).
        probabilities : {"auto", True, False}
            Read stored full probabilities (``probs``) for probability loyalty; "auto" reads them
            when the store holds them for ``eval_set`` (not for top-k storage, e.g. ImageNet).
        corruption_sets : "auto", mapping (corruption, severity) -> eval set name, or None
            "auto" takes every evaluation set whose ``info`` has ``corruption`` and ``severity``;
            a variant the store did not evaluate on a set is left out of that set.
        imagenet_a_set : str, optional
            An evaluation set stored with a ``class_subset``; its ``restricted_labels`` give
            ImageNet-A accuracy.
        **kwargs
            The keywords of :func:`pie_tf.audit` the store does not hold: ``protected``,
            ``target_name``, ``positive_label``, ``max_order``, ``class_names``, ``scores_kind``,
            ``corruption_reference``, ``reference_clean_error`` and the options (``tie_break``,
            ``alpha``, ...).
        """
        from pie_tf.errors import MissingEvaluationError

        given_by_store = sorted(set(kwargs) & _STORE_KEYWORDS)
        if given_by_store:
            raise TypeError(f"Audit.from_store reads {given_by_store} from the store; pass them "
                            f"to pie_tf.audit(...) to audit arrays of your own.")
        store = _as_store(store)
        evaluation = store.eval_set(eval_set)
        if variants is None:
            variants = [v for v in store.variants() if v != dense]
        if not variants:
            raise ValueError(f"The store has no compressed variants besides {dense!r}.")
        populations = [dense] + list(variants)
        with_probs = probabilities is True or (
            probabilities == "auto" and "probs" in store.fields_for(eval_set))
        fields = ("labels", "probs") if with_probs else ("labels",)
        read = {pop: store.read(pop, eval_set, fields) for pop in populations}

        def name(pop):
            return "dense" if pop == dense else pop

        if corruption_sets == "auto":
            corruption_sets = {}
            for set_name in store.eval_sets():
                info = store.eval_set(set_name).info or {}
                if "corruption" in info and "severity" in info:
                    corruption_sets[(str(info["corruption"]), int(info["severity"]))] = set_name
        corruption_predictions, corruption_labels = {}, {}
        for key, set_name in (corruption_sets or {}).items():
            corruption_labels[key] = store.eval_set(set_name).labels
            for pop in populations:
                try:
                    preds = store.read(pop, set_name, ("labels",)).labels
                except MissingEvaluationError:  # this variant was not evaluated on the set
                    continue
                corruption_predictions.setdefault(name(pop), {})[key] = preds
        if corruption_predictions:
            kwargs.update(corruption_predictions=corruption_predictions,
                          corruption_labels=corruption_labels)
        if imagenet_a_set is not None:
            subset = store.eval_set(imagenet_a_set)
            kwargs.update(
                imagenet_a_predictions={name(pop): store.read(
                    pop, imagenet_a_set, ("restricted_labels",)).restricted_labels
                    for pop in populations},
                imagenet_a_labels=subset.labels, imagenet_a_classes=subset.class_subset)
        return audit(
            read[dense].labels, {v: read[v].labels for v in variants}, evaluation.labels,
            ids=evaluation.ids, attributes=evaluation.attributes or None,
            n_classes=evaluation.n_classes,
            dense_probabilities=read[dense].probs if with_probs else None,
            compressed_probabilities={v: read[v].probs for v in variants} if with_probs
            else None, **kwargs)

    # ------------------------------------------------------------------ populations
    @property
    def variants(self):
        """Names of the compressed variants, in the order given."""
        return self.clean.variants

    @property
    def populations(self):
        """``["dense"] + variants``."""
        return self.clean.populations

    @property
    def labels(self):
        """True labels of the evaluation set, shape (n_examples,)."""
        return self.clean.labels

    @property
    def ids(self):
        """Example ids of the evaluation set, shape (n_examples,)."""
        return self.clean.ids

    @property
    def n_examples(self):
        return self.clean.n_examples

    @property
    def n_classes(self):
        return self.clean.n_classes

    @property
    def attributes(self):
        """Per-example attributes (the binary target included when named), DataFrame of bool."""
        return self.groups.attributes

    def predictions(self, population):
        """Top-1 labels of a population, shape (n_members, n_examples)."""
        return self.clean.predictions(population)

    def probabilities(self, population):
        """Probabilities of a population (n_members, n_examples, n_classes) or None."""
        return self.clean.probabilities(population)

    @functools.cached_property
    def modes(self):
        """Population label per example: dict population -> ndarray (n_examples,)."""
        tie_break = self.options.tie_break
        if self.options.mode == "vote":
            return {pop: _pie.modal_labels(self.predictions(pop), tie_break=tie_break)
                    for pop in self.populations}
        return {pop: _pie.mean_probability_labels(self.probabilities(pop), tie_break=tie_break)
                for pop in self.populations}

    def pie_mask(self, variant):
        """PIE/CIE mask of a variant, ndarray of bool (n_examples,)."""
        return _pie.pie_mask(self.modes["dense"], self.modes[variant])

    # ------------------------------------------------------------------ tables
    @functools.cached_property
    def pie(self):
        """Per-example table for every variant: ``variant`` + :func:`pie_table` columns."""
        frames = []
        for variant in self.variants:
            table = _pie.pie_table(
                self.predictions("dense"), self.predictions(variant), self.labels, ids=self.ids,
                attributes=self.attributes, dense_modes=self.modes["dense"],
                compressed_modes=self.modes[variant])
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def pie_summary(self):
        """One row per variant: PIE count and fraction, accuracy on all / PIE / non-PIE."""
        rows = []
        for variant in self.variants:
            dense, compressed = self.predictions("dense"), self.predictions(variant)
            row = {"variant": variant, "n_dense_members": dense.shape[0],
                   "n_compressed_members": compressed.shape[0]}
            row.update(_pie.pie_summary(dense, compressed, self.labels, self.pie_mask(variant)))
            rows.append(row)
        return pd.DataFrame(rows)

    @functools.cached_property
    def _class_impact_tables(self):
        tables, summaries = [], []
        for variant in self.variants:
            table = _class_impact.class_impact(
                self.predictions("dense"), self.predictions(variant), self.labels,
                self.n_classes, class_names=self.clean.class_names, alpha=self.options.alpha)
            summaries.append({"variant": variant,
                              **_class_impact.class_impact_summary(table)})
            table.insert(0, "variant", variant)
            table.attrs = {}
            tables.append(table)
        return pd.concat(tables, ignore_index=True), pd.DataFrame(summaries)

    @property
    def class_impact(self):
        """Per variant and class: Welch t-test of shifted recall; see :func:`class_impact`."""
        return self._class_impact_tables[0]

    @property
    def class_impact_summary(self):
        """One row per variant: classes tested, significant at p <= alpha and at q <= alpha."""
        return self._class_impact_tables[1]

    @functools.cached_property
    def overindex(self):
        """Per variant and group: share among CIEs vs share of the evaluation set."""
        groups, masks = self.groups.table, self.groups.masks
        if not len(groups):
            return pd.DataFrame(columns=OVERINDEX_COLUMNS)
        frames = []
        for variant in self.variants:
            table = _attributes.overindex(self.pie_mask(variant), groups, masks,
                                          n_bootstrap=self.options.n_bootstrap,
                                          confidence=self.options.confidence,
                                          seed=self.options.seed)
            table.insert(0, "variant", variant)
            table.attrs = {}
            frames.append(table)
        return pd.concat(frames, ignore_index=True)[OVERINDEX_COLUMNS]


    @functools.cached_property
    def group_rates_by_member(self):
        """Long table: population, member, group, metric, value (``"all"`` group included)."""
        groups, masks = self.groups.table, self.groups.masks
        frames = []
        for pop in self.populations:
            table = _attributes.group_rates(self.predictions(pop), self.labels, groups, masks,
                                            positive_label=self.groups.positive_label)
            table.insert(0, "population", pop)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)[GROUP_RATE_MEMBER_COLUMNS]

    @functools.cached_property
    def group_rates(self):
        """Per variant, group and metric: dense vs compressed mean/std, change, % change."""
        by_member = self.group_rates_by_member
        dense = by_member[by_member["population"] == "dense"]
        frames = []
        for variant in self.variants:
            table = _attributes.group_rate_change(
                dense, by_member[by_member["population"] == variant])
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)[GROUP_RATE_COLUMNS]

    @functools.cached_property
    def loyalty_by_member(self):
        """Per population and member: label and probability loyalty to the dense population."""
        reference = self.modes["dense"]
        mean_distribution = None if self.clean.dense_probabilities is None else \
            self.clean.dense_probabilities.mean(axis=0)
        frames = []
        for pop in self.populations:
            probs = self.probabilities(pop)
            table = member_loyalty(self.predictions(pop), reference,
                                   probs if mean_distribution is not None else None,
                                   mean_distribution if probs is not None else None)
            table.insert(0, "population", pop)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def loyalty(self):
        """One row per population: mean/std over members of label and probability loyalty.

        ``probability_loyalty_status`` says why probability loyalty is NaN when it is.
        """
        rows = []
        for pop, table in self.loyalty_by_member.groupby("population", sort=False):
            has_probs = self.clean.dense_probabilities is not None and \
                self.probabilities(pop) is not None
            rows.append({
                "population": pop, "n_members": len(table),
                "label_loyalty_mean": table["label_loyalty"].mean(),
                "label_loyalty_std": _std(table["label_loyalty"]),
                "probability_loyalty_mean": table["probability_loyalty"].mean(),
                "probability_loyalty_std": _std(table["probability_loyalty"]),
                "probability_loyalty_status": "ok" if has_probs else
                "no probabilities for this population or the dense one",
            })
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ robustness
    def clean_error(self, population):
        """Each member's top-1 error on the evaluation set, shape (n_members,)."""
        return 1.0 - _pie.population_accuracy(self.predictions(population), self.labels)

    @functools.cached_property
    def corruption_errors(self):
        """Long table: population, corruption, severity, member, error."""
        frames = []
        corrupted = self.corrupted
        for pop, preds in ({} if corrupted is None else corrupted.predictions).items():
            table = _robustness.corruption_errors(preds, corrupted.labels)
            table.insert(0, "population", pop)
            frames.append(table)
        if not frames:
            return pd.DataFrame(columns=CORRUPTION_ERROR_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def _resolved_reference(self):
        if self.corrupted.reference != "auto":
            return self.corrupted.reference
        names = set(self.corruption_errors["corruption"])
        if self.n_classes == 1000 and names <= set(_robustness.ALEXNET_MEAN_ERRORS):
            return "alexnet"
        return "population"

    @functools.cached_property
    def _robustness_tables(self):
        errors = self.corruption_errors
        if errors.empty:
            return (pd.DataFrame(columns=ROBUSTNESS_COLUMNS),
                    pd.DataFrame(columns=ROBUSTNESS_SUMMARY_COLUMNS))
        reference = self._resolved_reference()
        kwargs = {"reference": "alexnet",
                  "reference_clean_error": self.corrupted.reference_clean_error}
        if reference == "population":
            if "dense" not in self.corrupted.predictions:
                raise ValueError("A population reference needs `corruption_predictions['dense']`.")
            kwargs = {"reference": "population",
                      "reference_errors": errors[errors["population"] == "dense"],
                      "reference_clean_error": float(self.clean_error("dense").mean())}
        by_corruption, by_summary = [], []
        for pop in self.corrupted.predictions:
            per_c, per_m = _robustness.corruption_error(
                errors[errors["population"] == pop], self.clean_error(pop), **kwargs)
            agg = per_c.groupby("corruption", sort=False).agg(
                n_members=("member", "size"), n_severities=("n_severities", "max"),
                error_mean=("error", "mean"), ce_mean=("ce", "mean"), ce_std=("ce", "std"),
                relative_ce_mean=("relative_ce", "mean"),
                relative_ce_std=("relative_ce", "std"),
                status=("status", _first_not_ok)).reset_index()
            agg.insert(0, "population", pop)
            agg["reference"] = reference
            by_corruption.append(agg)
            by_summary.append({
                "population": pop, "n_members": len(per_m),
                "clean_error_mean": per_m["clean_error"].mean(),
                "mce_mean": per_m["mce"].mean(), "mce_std": _std(per_m["mce"]),
                "relative_mce_mean": per_m["relative_mce"].mean(),
                "relative_mce_std": _std(per_m["relative_mce"]),
                "n_corruptions": int(per_m["n_corruptions"].max()), "reference": reference})
        return (pd.concat(by_corruption, ignore_index=True)[ROBUSTNESS_COLUMNS],
                pd.DataFrame(by_summary)[ROBUSTNESS_SUMMARY_COLUMNS])

    @property
    def robustness(self):
        """Per population and corruption: mean error, CE and relative CE (mean/std)."""
        return self._robustness_tables[0]

    @property
    def robustness_summary(self):
        """Per population: clean error, mCE and relative mCE (mean/std over members)."""
        return self._robustness_tables[1]

    @functools.cached_property
    def imagenet_a_by_member(self):
        """Per population and member: ImageNet-A top-1 accuracy over its classes."""
        frames, subset, accuracies = [], self.subset, {}
        if subset is not None:
            accuracies = {pop: _robustness.imagenet_a_accuracy(scores, subset.labels,
                                                               subset.classes)
                          for pop, scores in subset.scores.items()}
            accuracies.update({pop: _robustness.restricted_accuracy(preds, subset.labels,
                                                                    subset.classes)
                               for pop, preds in subset.predictions.items()})
        for pop in self.populations:  # report in population order
            if pop not in accuracies:
                continue
            acc = accuracies[pop]
            frames.append(pd.DataFrame({"population": pop, "member": np.arange(acc.size),
                                        "accuracy": acc}))
        if not frames:
            return pd.DataFrame(columns=["population", "member", "accuracy"])
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def imagenet_a(self):
        """Per population: ImageNet-A accuracy (mean/std over members)."""
        rows = [{"population": pop, "n_members": len(t), "accuracy_mean": t["accuracy"].mean(),
                 "accuracy_std": _std(t["accuracy"])}
                for pop, t in self.imagenet_a_by_member.groupby("population", sort=False)]
        return pd.DataFrame(rows, columns=IMAGENET_A_COLUMNS)

    # ------------------------------------------------------------------ overview
    def summary(self):
        """One row per variant joining the headline numbers of every table."""
        table = self.pie_summary[["variant", "n_cie", "cie_fraction", "dense_accuracy_all",
                                  "compressed_accuracy_all", "dense_accuracy_cie",
                                  "compressed_accuracy_cie"]]
        table = table.merge(self.class_impact_summary[["variant", "n_classes_tested",
                                                       "n_significant", "n_significant_fdr"]],
                            on="variant")
        loyal = self.loyalty.rename(columns={"population": "variant"})
        table = table.merge(loyal[["variant", "label_loyalty_mean", "probability_loyalty_mean"]],
                            on="variant", how="left")
        if not self.robustness_summary.empty:
            rob = self.robustness_summary.rename(columns={"population": "variant"})
            table = table.merge(rob[["variant", "mce_mean", "relative_mce_mean"]], on="variant",
                                how="left")
        return table

    def to_frames(self):
        """Every table by name (for saving or rendering): dict str -> DataFrame."""
        names = ["pie", "pie_summary", "class_impact", "class_impact_summary", "overindex",
                 "group_rates", "group_rates_by_member", "loyalty", "loyalty_by_member",
                 "corruption_errors", "robustness", "robustness_summary", "imagenet_a",
                 "imagenet_a_by_member", *STATISTICS_TABLES]
        frames = {name: getattr(self, name) for name in names}
        frames["summary"] = self.summary()
        return frames

    def __repr__(self):
        members = ", ".join(f"{p}: {self.predictions(p).shape[0]}" for p in self.populations)
        return (f"Audit(n_examples={self.n_examples}, n_classes={self.n_classes}, mode="
                f"{self.options.mode!r}, tie_break={self.options.tie_break!r}, "
                f"members={{{members}}})")


# Keyword -> input object, for the keyword path; every constructor keyword of every input.
_INPUT_CLASSES = {"clean": CleanEvaluation, "groups": Groups, "corrupted": CorruptedEvaluations,
                  "subset": SubsetEvaluation, "options": AuditOptions}
_KEYWORDS = {name: role for role, cls in _INPUT_CLASSES.items()
             for name in inspect.signature(cls).parameters}
# What Audit.from_store reads from the store rather than from its caller.
_STORE_READ_API = ("eval_set", "eval_sets", "variants", "fields_for", "read")


def _as_store(store):
    """``store`` itself when it has the store's read API; a path opened as an existing store."""
    import os

    if isinstance(store, (str, os.PathLike)):
        from pie_tf.store import PredictionStore
        return PredictionStore.open_existing(os.fspath(store), argname="store")
    lacking = [name for name in _STORE_READ_API if not callable(getattr(store, name, None))]
    if lacking:
        raise InvalidArgumentError(f"`store` must be a pie_tf.store.PredictionStore or the path "
                                   f"of one; got {type(store).__name__} {store!r:.60} (it has no "
                                   f"{', '.join(lacking)}).")
    return store


_STORE_KEYWORDS = {"dense_predictions", "compressed_predictions", "labels", "ids", "n_classes",
                   "dense_probabilities", "compressed_probabilities", "attributes",
                   "corruption_predictions", "corruption_labels", "imagenet_a_predictions",
                   "imagenet_a_scores", "imagenet_a_labels", "imagenet_a_classes"}
# The input built only when its first keyword is given; its other keywords need that one.
_REQUIRED = {"corrupted": ("corruption_predictions",),
             "subset": ("imagenet_a_scores", "imagenet_a_predictions")}


def _first_not_ok(statuses):
    """One status for a population's members: ``ok`` unless one says why a figure is NaN."""
    others = [s for s in statuses if s != _robustness.STATUS_OK]
    return others[0] if others else _robustness.STATUS_OK


def audit(dense_predictions, compressed_predictions, labels, **kwargs):
    """Build an :class:`Audit` from arrays; tables are computed on first access.

    Every keyword goes to the input object that takes it (:class:`CleanEvaluation`,
    :class:`Groups`, :class:`CorruptedEvaluations`, :class:`SubsetEvaluation`,
    :class:`AuditOptions`; see their parameters), so ``audit(dense, compressed, labels,
    attributes=..., tie_break="highest")`` equals ``Audit(CleanEvaluation(dense, compressed,
    labels), groups=Groups(attributes=...), options=AuditOptions(tie_break="highest"))``.

    Parameters
    ----------
    dense_predictions : array_like of int, shape (n_dense_members, n_examples)
    compressed_predictions : mapping str -> array_like of int, shape (n_members, n_examples)
    labels : array_like of int, shape (n_examples,)
    **kwargs
        ``ids``, ``n_classes``, ``class_names``, ``dense_probabilities``,
        ``compressed_probabilities``, ``scores_kind``, ``population_ids`` (clean evaluation);
        ``attributes``, ``protected``, ``target_name``, ``positive_label``, ``max_order``
        (groups); ``corruption_predictions``, ``corruption_labels``, ``corruption_reference``,
        ``reference_clean_error`` (corrupted); ``imagenet_a_scores`` or
        ``imagenet_a_predictions``, ``imagenet_a_labels``, ``imagenet_a_classes`` (subset);
        ``mode``, ``tie_break``, ``alpha``, ``n_bootstrap``, ``confidence``, ``seed`` (options).

    Returns
    -------
    Audit

    Examples
    --------
    >>> import numpy as np, pie_tf
    >>> labels = np.array([0, 1, 2, 2])
    >>> dense = np.array([[0, 1, 2, 2], [0, 1, 2, 1], [0, 1, 2, 2]])
    >>> pruned = np.array([[0, 2, 2, 2], [0, 2, 2, 1], [1, 2, 2, 2]])
    >>> result = pie_tf.audit(dense, {"prune@0.9": pruned}, labels)
    >>> result.pie["cie"].tolist()
    [False, True, False, False]
    >>> int(result.pie_summary.loc[0, "n_cie"])
    1
    """
    unknown = sorted(set(kwargs) - set(_KEYWORDS))
    if unknown:
        raise TypeError(f"pie_tf.audit got unknown keywords {unknown}; known: "
                        f"{sorted(_KEYWORDS)}.")
    by_role = {role: {} for role in _INPUT_CLASSES}
    for name, value in kwargs.items():
        by_role[_KEYWORDS[name]][name] = value
    inputs = {}
    for role in ("groups", "corrupted", "subset", "options"):
        given = by_role[role]
        required = _REQUIRED.get(role, ())
        if required and all(given.get(name) is None for name in required):
            extra = sorted(name for name, value in given.items() if value is not None)
            if extra:
                raise InvalidArgumentError(f"{extra} given without any of {list(required)}.")
        elif given:
            inputs[role] = _INPUT_CLASSES[role](**given)
    clean = CleanEvaluation(dense_predictions, compressed_predictions, labels,
                            **by_role["clean"])
    return Audit(clean, **inputs)
