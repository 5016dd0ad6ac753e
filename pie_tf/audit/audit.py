"""The Audit: every statistic of the audit for one dense and several compressed populations.

In the spirit of fairlearn's ``MetricFrame``: built once from arrays, it exposes pandas
DataFrames as properties, each computed on first access and cached. Every table is in long form
with a ``variant`` (or ``population``) column, so a report can filter, pivot or save it as is.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np
import pandas as pd

from pie_tf.audit import attributes as _attributes
from pie_tf.audit import class_impact as _class_impact
from pie_tf.audit import pie as _pie
from pie_tf.audit import robustness as _robustness
from pie_tf.audit._validation import (
    check_attributes, check_ids, check_labels, check_mapping, check_population_name,
    check_predictions, check_same_ids, check_scores, check_tie_break)
from pie_tf.audit.loyalty import member_loyalty

__all__ = ["Audit", "audit"]

MODES = ("vote", "mean_probability")

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
                      "ce_mean", "ce_std", "relative_ce_mean", "relative_ce_std", "reference"]
ROBUSTNESS_SUMMARY_COLUMNS = ["population", "n_members", "clean_error_mean", "mce_mean",
                              "mce_std", "relative_mce_mean", "relative_mce_std",
                              "n_corruptions", "reference"]
IMAGENET_A_COLUMNS = ["population", "n_members", "accuracy_mean", "accuracy_std"]


def _std(x):
    x = np.asarray(x, dtype=np.float64)
    return float(x.std(ddof=1)) if x.size > 1 else np.nan


class Audit:
    """PIE/CIE, class impact, attributes, group rates, loyalty and robustness of populations.

    Parameters
    ----------
    dense_predictions : array_like of int, shape (n_dense_members, n_examples)
        Top-1 labels of the dense (uncompressed) population, one row per member. A 1-D array
        is a one-member population.
    compressed_predictions : mapping str -> array_like of int, shape (n_members, n_examples)
        One entry per compressed variant (e.g. ``{"prune_0.9": ..., "int8": ...}``); a bare
        array is taken as one variant named ``"compressed"``. Members may differ in number.
    labels : array_like of int, shape (n_examples,)
        True labels in ``[0, n_classes)``.
    ids : array_like, shape (n_examples,), optional
        Unique example ids (default ``0 .. n_examples - 1``).
    attributes : mapping str -> array of bool, or DataFrame of bool, optional
        Per-example (protected) attributes, e.g. ``{"Male": ..., "Young": ...}``.
    protected : sequence of str, optional
        Attributes to intersect (see :func:`pie_tf.audit.attributes.attribute_groups`).
    target_name : str, optional
        For a binary target: adds ``labels == positive_label`` as an attribute of this name (and
        to ``protected``), giving groups like ``"Blond_Hair ∧ Male"``.
    positive_label : int, optional
        Positive class for FPR/FNR; default 1 when there are exactly 2 classes, else only error
        rates are computed.
    n_classes : int, optional (default: ``max(labels) + 1`` or the probabilities' class axis)
    class_names : sequence of str, optional
    dense_probabilities : array_like of shape (n_dense_members, n_examples, n_classes), optional
    compressed_probabilities : mapping str -> array_like of shape (n_members, n_examples,
        n_classes), optional. Logits are accepted (softmax applied; see ``scores_kind``); NaN or
        infinite values are refused.
    scores_kind : {"auto", "logits", "probabilities"}
    mode : {"vote", "mean_probability"}
        How a population's label is formed: the modal top-1 label (the paper) or the argmax of
        the mean distribution (needs probabilities for every population).
    tie_break : {"lowest", "highest"}
        Tie rule of the mode. Ours is "lowest"; the paper's code (pandas mode) breaks to
        "highest".
    alpha : float
        Significance level of the class t-tests (p <= alpha and BH q <= alpha).
    n_bootstrap, confidence, seed :
        Bootstrap of the over-index ratio (seeded; deterministic).
    max_order : int, optional
        Largest intersection of protected attributes.
    population_ids : mapping str -> array_like, optional
        The example ids each population was evaluated on as recorded (e.g. by a prediction
        store), keyed "dense" or a variant; each must equal ``ids`` (same order).
    corruption_predictions : mapping population -> mapping (corruption, severity) -> array,
        optional. Top-1 labels (n_members, n_corrupt_examples) on corrupted data, for "dense" and
        any variants.
    corruption_labels : array_like of int or mapping (corruption, severity) -> array
    corruption_reference : {"auto", "alexnet", "population"}
        "auto" picks AlexNet's published errors when there are 1000 classes and every corruption
        has an AlexNet figure, the dense population otherwise.
    reference_clean_error : float, optional
        Clean error of AlexNet for relative mCE (default ``ALEXNET_CLEAN_ERROR``).
    imagenet_a_scores : mapping population -> array of shape (n_members, n_a_examples,
        n_classes), optional
    imagenet_a_predictions : mapping population -> array of int, shape (n_members,
        n_a_examples), optional. Labels already restricted to the subset's classes (the store's
        ``restricted_labels``), in the full class space; an alternative to the scores.
    imagenet_a_labels : array_like of int, shape (n_a_examples,), in the full class space
    imagenet_a_classes : array_like of int, shape (200,)
        ImageNet-A's classes in the full space (the data layer provides them).

    Examples
    --------
    >>> import numpy as np, pie_tf
    >>> labels = np.array([0, 1, 2, 2])
    >>> dense = np.array([[0, 1, 2, 2], [0, 1, 2, 1], [0, 1, 2, 2]])
    >>> pruned = np.array([[0, 2, 2, 2], [0, 2, 2, 1], [1, 2, 2, 2]])
    >>> result = pie_tf.audit(dense, {"prune_0.9": pruned}, labels)
    >>> result.pie["pie"].tolist()
    [False, True, False, False]
    """

    def __init__(self, dense_predictions, compressed_predictions, labels, *, ids=None,
                 attributes=None, protected=None, target_name=None, positive_label=None,
                 n_classes=None, class_names=None, dense_probabilities=None,
                 compressed_probabilities=None, scores_kind="auto", mode="vote",
                 tie_break="lowest", alpha=0.05, n_bootstrap=1000, confidence=0.95, seed=0,
                 max_order=None, population_ids=None, corruption_predictions=None,
                 corruption_labels=None, corruption_reference="auto",
                 reference_clean_error=None, imagenet_a_scores=None,
                 imagenet_a_predictions=None, imagenet_a_labels=None, imagenet_a_classes=None):
        self.tie_break = check_tie_break(tie_break)
        if mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES}; got {mode!r}.")
        self.mode = mode
        if not 0 < alpha < 1:
            raise ValueError(f"`alpha` must be in (0, 1); got {alpha!r}.")
        self.alpha, self.n_bootstrap, self.confidence, self.seed = (
            alpha, n_bootstrap, confidence, seed)

        if not isinstance(compressed_predictions, Mapping):
            compressed_predictions = {"compressed": compressed_predictions}
        check_mapping(compressed_predictions, "compressed_predictions")
        for name in compressed_predictions:
            check_population_name(name, "compressed_predictions")

        # Probabilities first: they can fix n_classes.
        self.dense_probabilities = None
        self.compressed_probabilities = {}
        if dense_probabilities is not None:
            self.dense_probabilities = check_scores(dense_probabilities, "dense_probabilities",
                                                    scores_kind)
        if compressed_probabilities is not None:
            check_mapping(compressed_probabilities, "compressed_probabilities")
            unknown = set(compressed_probabilities) - set(compressed_predictions)
            if unknown:
                raise ValueError(f"`compressed_probabilities` has variants {sorted(unknown)} "
                                 f"missing from `compressed_predictions`.")
            self.compressed_probabilities = {
                k: check_scores(v, f"compressed_probabilities[{k!r}]", scores_kind)
                for k, v in compressed_probabilities.items()}
        class_axes = {p.shape[-1] for p in self._all_probabilities()}
        if len(class_axes) > 1:
            raise ValueError(f"The probabilities disagree on the number of classes: "
                             f"{sorted(class_axes)}.")
        if n_classes is None and class_axes:
            n_classes = class_axes.pop()
        elif class_axes and class_axes != {n_classes}:
            raise ValueError(f"`n_classes`={n_classes} but the probabilities have "
                             f"{class_axes.pop()} classes.")
        if n_classes is None:
            # Validate first (integers, no NaN, non-negative), then infer from the largest label.
            unbounded = np.iinfo(np.int32).max
            largest = [int(check_labels(labels, "labels", unbounded)[0].max()),
                       int(check_predictions(dense_predictions, "dense_predictions",
                                             unbounded).max())]
            largest += [int(check_predictions(v, f"compressed_predictions[{k!r}]",
                                              unbounded).max())
                        for k, v in compressed_predictions.items()]
            n_classes = max(largest) + 1
        self.labels, self.n_classes = check_labels(labels, "labels", n_classes)
        n_examples = self.labels.shape[0]
        self.n_examples = n_examples
        self.ids = check_ids(ids, n_examples)
        self.dense_predictions = check_predictions(dense_predictions, "dense_predictions",
                                                   self.n_classes, n_examples)
        self.compressed_predictions = {
            k: check_predictions(v, f"compressed_predictions[{k!r}]", self.n_classes, n_examples)
            for k, v in compressed_predictions.items()}
        self._check_probability_shapes()
        if mode == "mean_probability":
            missing = [k for k in self.compressed_predictions
                       if k not in self.compressed_probabilities]
            if self.dense_probabilities is None or missing:
                raise ValueError("mode='mean_probability' needs `dense_probabilities` and "
                                 "`compressed_probabilities` for every variant"
                                 + (f" (missing: {missing})." if missing else "."))
        if population_ids is not None:
            for name, pop_ids in population_ids.items():
                if name != "dense" and name not in self.compressed_predictions:
                    raise ValueError(f"`population_ids` names an unknown population {name!r}.")
                check_same_ids(pop_ids, self.ids, f"population_ids[{name!r}]")

        if class_names is not None and len(class_names) != self.n_classes:
            raise ValueError(f"`class_names` has {len(class_names)} names for {self.n_classes} "
                             f"classes.")
        self.class_names = class_names
        if positive_label is None and self.n_classes == 2:
            positive_label = 1
        if positive_label is not None and not 0 <= positive_label < self.n_classes:
            raise ValueError(f"`positive_label` must be in [0, {self.n_classes}); got "
                             f"{positive_label!r}.")
        self.positive_label = positive_label

        self.attributes = check_attributes(attributes, n_examples)
        protected = None if protected is None else list(protected)
        if target_name is not None:
            if self.n_classes != 2 or positive_label is None:
                raise ValueError("`target_name` needs a binary target (n_classes == 2).")
            if target_name in self.attributes.columns:
                raise ValueError(f"`target_name` {target_name!r} is already an attribute.")
            self.attributes[target_name] = self.labels == positive_label
            if protected is None:
                protected = list(self.attributes.columns) if self.attributes.shape[1] <= 3 \
                    else [target_name]
            elif target_name not in protected:
                protected.append(target_name)
        self.protected = protected
        self.max_order = max_order
        self._groups = _attributes.attribute_groups(self.attributes, protected, max_order)

        self._corruption_predictions = self._check_population_mapping(
            corruption_predictions, "corruption_predictions")
        if self._corruption_predictions and corruption_labels is None:
            raise ValueError("`corruption_predictions` needs `corruption_labels`.")
        self._corruption_predictions, self._corruption_labels = self._check_corruptions(
            self._corruption_predictions, corruption_labels)
        if corruption_reference not in ("auto", "alexnet", "population"):
            raise ValueError(f"`corruption_reference` must be 'auto', 'alexnet' or "
                             f"'population'; got {corruption_reference!r}.")
        self._corruption_reference = corruption_reference
        self._reference_clean_error = reference_clean_error
        self._imagenet_a_scores = self._check_population_mapping(imagenet_a_scores,
                                                                 "imagenet_a_scores")
        self._imagenet_a_predictions = self._check_population_mapping(
            imagenet_a_predictions, "imagenet_a_predictions")
        if (self._imagenet_a_scores or self._imagenet_a_predictions) and (
                imagenet_a_labels is None or imagenet_a_classes is None):
            raise ValueError("ImageNet-A scores or predictions need `imagenet_a_labels` and "
                             "`imagenet_a_classes`.")
        self._imagenet_a_labels = imagenet_a_labels
        self._imagenet_a_classes = imagenet_a_classes

    # ------------------------------------------------------------------ construction helpers
    def _all_probabilities(self):
        out = [] if self.dense_probabilities is None else [self.dense_probabilities]
        return out + list(self.compressed_probabilities.values())

    def _check_probability_shapes(self):
        pairs = [("dense", self.dense_predictions, self.dense_probabilities)]
        pairs += [(k, self.compressed_predictions[k], v)
                  for k, v in self.compressed_probabilities.items()]
        for name, preds, probs in pairs:
            if probs is not None and probs.shape[:2] != preds.shape:
                arg = "dense_probabilities" if name == "dense" else \
                    f"compressed_probabilities[{name!r}]"
                raise ValueError(f"`{arg}` has shape {probs.shape}; expected "
                                 f"{preds.shape + (self.n_classes,)} to match the predictions.")

    def _check_population_mapping(self, value, argname):
        if value is None:
            return {}
        check_mapping(value, argname)
        known = {"dense", *self.compressed_predictions}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"`{argname}` names unknown populations {sorted(unknown)}; known: "
                             f"{sorted(known)}.")
        return dict(value)

    def _check_corruptions(self, predictions, labels):
        """Labels in range for every (population, corruption, severity); shapes follow."""
        if not predictions:
            return predictions, labels
        if isinstance(labels, Mapping):
            labels = {key: check_labels(value, f"corruption_labels[{key!r}]",
                                        self.n_classes)[0] for key, value in labels.items()}
        else:
            labels = check_labels(labels, "corruption_labels", self.n_classes)[0]
        checked = {}
        for pop, by_key in predictions.items():
            if not isinstance(by_key, Mapping) or not by_key:
                raise TypeError(f"`corruption_predictions[{pop!r}]` must map (corruption, "
                                f"severity) -> predictions.")
            checked[pop] = {}
            for key, value in by_key.items():
                if isinstance(labels, Mapping) and key not in labels:
                    raise ValueError(f"`corruption_labels` has no entry for {key!r}.")
                n = (labels[key] if isinstance(labels, Mapping) else labels).shape[0]
                checked[pop][key] = check_predictions(
                    value, f"corruption_predictions[{pop!r}][{key!r}]", self.n_classes, n)
        return checked, labels

    @classmethod
    def from_arrays(cls, *args, **kwargs):
        """Same as the constructor; named for symmetry with :meth:`from_store`."""
        return cls(*args, **kwargs)

    @classmethod
    def from_store(cls, store, eval_set, *, dense="dense", variants=None, probabilities="auto",
                   corruption_sets="auto", imagenet_a_set=None, **kwargs):
        """Build an Audit from a :class:`pie_tf.store.PredictionStore` (read API only).

        Parameters
        ----------
        store : PredictionStore
            Read through ``eval_set``, ``eval_sets``, ``variants``, ``fields_for`` and ``read``;
            nothing of the trainer is imported.
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
            "auto" takes every evaluation set whose ``info`` has ``corruption`` and ``severity``.
        imagenet_a_set : str, optional
            An evaluation set stored with a ``class_subset``; its ``restricted_labels`` give
            ImageNet-A accuracy.
        **kwargs
            Passed to the constructor (``protected``, ``target_name``, ``tie_break``, ...).
        """
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

        if corruption_sets == "auto":
            corruption_sets = {}
            for name in store.eval_sets():
                info = store.eval_set(name).info or {}
                if "corruption" in info and "severity" in info:
                    corruption_sets[(str(info["corruption"]), int(info["severity"]))] = name
        corruption_predictions = corruption_labels = None
        if corruption_sets:
            corruption_predictions, corruption_labels = {}, {}
            for key, name in corruption_sets.items():
                corruption_labels[key] = store.eval_set(name).labels
                for pop in populations:
                    try:
                        preds = store.read(pop, name, ("labels",)).labels
                    except ValueError:  # this variant was not evaluated on the set
                        continue
                    out = "dense" if pop == dense else pop
                    corruption_predictions.setdefault(out, {})[key] = preds
        imagenet_a = {}
        if imagenet_a_set is not None:
            subset = store.eval_set(imagenet_a_set)
            for pop in populations:
                imagenet_a["dense" if pop == dense else pop] = store.read(
                    pop, imagenet_a_set, ("restricted_labels",)).restricted_labels
            kwargs.update(imagenet_a_predictions=imagenet_a, imagenet_a_labels=subset.labels,
                          imagenet_a_classes=subset.class_subset)
        return cls(
            read[dense].labels, {v: read[v].labels for v in variants}, evaluation.labels,
            ids=evaluation.ids, attributes=evaluation.attributes or None,
            n_classes=evaluation.num_classes,
            dense_probabilities=read[dense].probs if with_probs else None,
            compressed_probabilities={v: read[v].probs for v in variants} if with_probs
            else None,
            corruption_predictions=corruption_predictions, corruption_labels=corruption_labels,
            **kwargs)

    # ------------------------------------------------------------------ populations
    @property
    def variants(self):
        """Names of the compressed variants, in the order given."""
        return list(self.compressed_predictions)

    @property
    def populations(self):
        """``["dense"] + variants``."""
        return ["dense"] + self.variants

    def predictions(self, population):
        """Top-1 labels of a population, shape (n_members, n_examples)."""
        if population == "dense":
            return self.dense_predictions
        return self.compressed_predictions[population]

    def probabilities(self, population):
        """Probabilities of a population (n_members, n_examples, n_classes) or None."""
        if population == "dense":
            return self.dense_probabilities
        return self.compressed_probabilities.get(population)

    @functools.cached_property
    def modes(self):
        """Population label per example: dict population -> ndarray (n_examples,)."""
        out = {}
        for pop in self.populations:
            if self.mode == "vote":
                out[pop] = _pie.modal_labels(self.predictions(pop), tie_break=self.tie_break)
            else:
                out[pop] = _pie.mean_probability_labels(self.probabilities(pop),
                                                        tie_break=self.tie_break)
        return out

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
                self.dense_predictions, self.compressed_predictions[variant], self.labels,
                ids=self.ids, attributes=self.attributes, dense_modes=self.modes["dense"],
                compressed_modes=self.modes[variant])
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def pie_summary(self):
        """One row per variant: PIE count and fraction, accuracy on all / PIE / non-PIE."""
        rows = []
        for variant in self.variants:
            row = {"variant": variant, "n_dense_members": self.dense_predictions.shape[0],
                   "n_compressed_members": self.compressed_predictions[variant].shape[0]}
            row.update(_pie.pie_summary(self.dense_predictions,
                                        self.compressed_predictions[variant], self.labels,
                                        self.pie_mask(variant)))
            rows.append(row)
        return pd.DataFrame(rows)

    @functools.cached_property
    def _class_impact_tables(self):
        tables, summaries = [], []
        for variant in self.variants:
            table = _class_impact.class_impact(
                self.dense_predictions, self.compressed_predictions[variant], self.labels,
                self.n_classes, class_names=self.class_names, alpha=self.alpha)
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
        groups, masks = self._groups
        if not len(groups):
            return pd.DataFrame(columns=OVERINDEX_COLUMNS)
        frames = []
        for variant in self.variants:
            table = _attributes.overindex(self.pie_mask(variant), groups, masks,
                                          n_bootstrap=self.n_bootstrap,
                                          confidence=self.confidence, seed=self.seed)
            table.insert(0, "variant", variant)
            table.attrs = {}
            frames.append(table)
        return pd.concat(frames, ignore_index=True)[OVERINDEX_COLUMNS]


    @functools.cached_property
    def group_rates_by_member(self):
        """Long table: population, member, group, metric, value (``"all"`` group included)."""
        groups, masks = self._groups
        frames = []
        for pop in self.populations:
            table = _attributes.group_rates(self.predictions(pop), self.labels, groups, masks,
                                            positive_label=self.positive_label)
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
        mean_distribution = None if self.dense_probabilities is None else \
            self.dense_probabilities.mean(axis=0)
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
            has_probs = self.dense_probabilities is not None and \
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
        for pop, preds in self._corruption_predictions.items():
            table = _robustness.corruption_errors(preds, self._corruption_labels)
            table.insert(0, "population", pop)
            frames.append(table)
        if not frames:
            return pd.DataFrame(columns=CORRUPTION_ERROR_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def _resolved_reference(self):
        if self._corruption_reference != "auto":
            return self._corruption_reference
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
                  "reference_clean_error": self._reference_clean_error}
        if reference == "population":
            if "dense" not in self._corruption_predictions:
                raise ValueError("A population reference needs `corruption_predictions['dense']`.")
            kwargs = {"reference": "population",
                      "reference_errors": errors[errors["population"] == "dense"],
                      "reference_clean_error": float(self.clean_error("dense").mean())}
        by_corruption, by_summary = [], []
        for pop in self._corruption_predictions:
            per_c, per_m = _robustness.corruption_error(
                errors[errors["population"] == pop], self.clean_error(pop), **kwargs)
            agg = per_c.groupby("corruption", sort=False).agg(
                n_members=("member", "size"), n_severities=("n_severities", "max"),
                error_mean=("error", "mean"), ce_mean=("ce", "mean"), ce_std=("ce", "std"),
                relative_ce_mean=("relative_ce", "mean"),
                relative_ce_std=("relative_ce", "std")).reset_index()
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
        frames = []
        accuracies = {pop: _robustness.imagenet_a_accuracy(
            scores, self._imagenet_a_labels, self._imagenet_a_classes)
            for pop, scores in self._imagenet_a_scores.items()}
        for pop, preds in self._imagenet_a_predictions.items():
            if pop in accuracies:
                raise ValueError(f"Population {pop!r} has both ImageNet-A scores and "
                                 f"predictions; give one.")
            accuracies[pop] = _robustness.restricted_accuracy(
                preds, self._imagenet_a_labels, self._imagenet_a_classes)
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
        table = self.pie_summary[["variant", "n_pie", "pie_fraction", "dense_accuracy_all",
                                  "compressed_accuracy_all", "dense_accuracy_pie",
                                  "compressed_accuracy_pie"]]
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
                 "imagenet_a_by_member"]
        frames = {name: getattr(self, name) for name in names}
        frames["summary"] = self.summary()
        return frames

    def __repr__(self):
        members = ", ".join(f"{p}: {self.predictions(p).shape[0]}" for p in self.populations)
        return (f"Audit(n_examples={self.n_examples}, n_classes={self.n_classes}, mode="
                f"{self.mode!r}, tie_break={self.tie_break!r}, members={{{members}}})")


def audit(dense_predictions, compressed_predictions, labels, **kwargs):
    """Build an :class:`Audit`; see its parameters. Tables are computed on first access."""
    return Audit(dense_predictions, compressed_predictions, labels, **kwargs)


audit.__doc__ = ("Build an :class:`Audit` (same parameters); tables are computed on first "
                 "access.\n\n" + (Audit.__doc__ or ""))
