"""What an :class:`~pie_tf.audit.Audit` is computed from, as five small input objects.

Each object checks its own arrays once, where they enter (as scikit-learn's ``check_array``),
with messages that name the argument; the Audit then checks that they describe the same
examples and classes (``_bind``) and trusts them from there on.

- :class:`CleanEvaluation`: the dense and compressed populations' top-1 labels (and optional
  probabilities) on the evaluation set, with its labels and ids.
- :class:`Groups`: per-example (protected) attributes and which of them to intersect.
- :class:`CorruptedEvaluations`: top-1 labels on corrupted copies of the data (ImageNet-C).
- :class:`SubsetEvaluation`: scores or restricted labels on a class-subset set (ImageNet-A).
- :class:`AuditOptions`: how populations vote and how the statistics are computed.

Every parameter keeps the name it has in :func:`pie_tf.audit`, so an error names the same
argument whichever way the Audit was built.
"""
from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import numpy as np

from pie_tf.audit import _attributes, _robustness
from pie_tf.audit._validation import (
    check_attributes, check_ids, check_in_range, check_labels, check_mapping,
    check_population_name, check_predictions, check_same_ids, check_scores, check_tie_break)
from pie_tf.errors import InvalidArgumentError

__all__ = ["CleanEvaluation", "Groups", "CorruptedEvaluations", "SubsetEvaluation",
           "AuditOptions", "MODES", "CORRUPTION_REFERENCES"]

MODES = ("vote", "mean_probability")
CORRUPTION_REFERENCES = ("auto", "alexnet", "population")


class CleanEvaluation:
    """The populations' predictions on the (clean) evaluation set.

    Parameters
    ----------
    dense_predictions : array_like of int, shape (n_dense_members, n_examples)
        Top-1 labels of the dense (uncompressed) population, one row per member. A 1-D array
        is a one-member population.
    compressed_predictions : mapping str -> array_like of int, shape (n_members, n_examples)
        One entry per compressed variant (e.g. ``{"prune@0.9": ..., "int8": ...}``); a bare
        array is taken as one variant named ``"compressed"``. Members may differ in number;
        ``"dense"`` is reserved.
    labels : array_like of int, shape (n_examples,)
        True labels in ``[0, n_classes)``.
    ids : array_like, shape (n_examples,), optional
        Unique example ids (default ``0 .. n_examples - 1``).
    n_classes : int, optional
        Default: the probabilities' class axis, else the largest label or prediction + 1.
    class_names : sequence of str, optional
    dense_probabilities : array_like of shape (n_dense_members, n_examples, n_classes), optional
    compressed_probabilities : mapping str -> array_like of shape (n_members, n_examples,
        n_classes), optional
        Logits are accepted (a softmax is applied; see ``scores_kind``); NaN or infinite values
        are refused.
    scores_kind : {"auto", "logits", "probabilities"}
        How the probabilities arguments are read: "auto" takes non-negative rows summing to one
        as probabilities and anything else as logits (softmax applied).
    population_ids : mapping str -> array_like, optional
        The example ids each population was evaluated on as recorded (e.g. by a prediction
        store), keyed "dense" or a variant; each must equal ``ids`` (same order).
    """

    def __init__(self, dense_predictions, compressed_predictions, labels, *, ids=None,
                 n_classes=None, class_names=None, dense_probabilities=None,
                 compressed_probabilities=None, scores_kind="auto", population_ids=None):
        if not isinstance(compressed_predictions, Mapping):
            compressed_predictions = {"compressed": compressed_predictions}
        check_mapping(compressed_predictions, "compressed_predictions")
        for name in compressed_predictions:
            check_population_name(name, "compressed_predictions")

        # Probabilities first: they can fix n_classes.
        self.dense_probabilities = None if dense_probabilities is None else check_scores(
            dense_probabilities, "dense_probabilities", scores_kind)
        self.compressed_probabilities = {}
        if compressed_probabilities is not None:
            check_mapping(compressed_probabilities, "compressed_probabilities")
            unknown = set(compressed_probabilities) - set(compressed_predictions)
            if unknown:
                raise ValueError(f"`compressed_probabilities` has variants {sorted(unknown)} "
                                 f"missing from `compressed_predictions`.")
            self.compressed_probabilities = {
                k: check_scores(v, f"compressed_probabilities[{k!r}]", scores_kind)
                for k, v in compressed_probabilities.items()}
        probabilities = [p for p in [self.dense_probabilities,
                                     *self.compressed_probabilities.values()] if p is not None]
        class_axes = {p.shape[-1] for p in probabilities}
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
            largest = [int(check_labels(labels, "labels", np.iinfo(np.int32).max)[0].max()),
                       int(check_predictions(dense_predictions, "dense_predictions").max())]
            largest += [int(check_predictions(v, f"compressed_predictions[{k!r}]").max())
                        for k, v in compressed_predictions.items()]
            n_classes = max(largest) + 1
        self.labels, self.n_classes = check_labels(labels, "labels", n_classes)
        self.n_examples = self.labels.shape[0]
        self.ids = check_ids(ids, self.n_examples)
        self.dense_predictions = check_predictions(dense_predictions, "dense_predictions",
                                                   self.n_classes, self.n_examples)
        self.compressed_predictions = {
            k: check_predictions(v, f"compressed_predictions[{k!r}]", self.n_classes,
                                 self.n_examples)
            for k, v in compressed_predictions.items()}
        for name in self.populations:
            probs = self.probabilities(name)
            preds = self.predictions(name)
            if probs is not None and probs.shape[:2] != preds.shape:
                arg = "dense_probabilities" if name == "dense" else \
                    f"compressed_probabilities[{name!r}]"
                raise ValueError(f"`{arg}` has shape {probs.shape}; expected "
                                 f"{preds.shape + (self.n_classes,)} to match the predictions.")
        for name, pop_ids in (population_ids or {}).items():
            if name not in self.populations:
                raise ValueError(f"`population_ids` names an unknown population {name!r}.")
            check_same_ids(pop_ids, self.ids, f"population_ids[{name!r}]")
        if class_names is not None and len(class_names) != self.n_classes:
            raise ValueError(f"`class_names` has {len(class_names)} names for {self.n_classes} "
                             f"classes.")
        self.class_names = None if class_names is None else list(class_names)

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

    def _check_populations(self, value, argname):
        unknown = set(value) - set(self.populations)
        if unknown:
            raise ValueError(f"`{argname}` names unknown populations {sorted(unknown)}; known: "
                             f"{sorted(self.populations)}.")


class Groups:
    """Per-example attributes and the groups formed from them.

    Parameters
    ----------
    attributes : mapping str -> array of bool, or DataFrame of bool, optional
        Per-example (protected) attributes, e.g. ``{"Male": ..., "Young": ...}`` (0/1 accepted).
    protected : sequence of str, optional
        Attributes to intersect (see :func:`pie_tf.audit.attribute_groups`); default all when
        there are at most 3.
    target_name : str, optional
        For a binary target: adds ``labels == positive_label`` as an attribute of this name (and
        to ``protected``), giving groups like ``"Blond_Hair ∧ Male"``.
    positive_label : int, optional
        Positive class for FPR/FNR; default 1 when there are exactly 2 classes, else only error
        rates are computed.
    max_order : int, optional
        Largest intersection of protected attributes.
    """

    def __init__(self, attributes=None, *, protected=None, target_name=None,
                 positive_label=None, max_order=None):
        self.attributes = check_attributes(attributes)
        if isinstance(protected, str):
            raise TypeError(f"`protected` must be a sequence of attribute names; got the string "
                            f"{protected!r} (write [{protected!r}]).")
        self.protected = None if protected is None else list(protected)
        if target_name is not None and (not isinstance(target_name, str) or not target_name):
            raise TypeError(f"`target_name` must be a non-empty string; got {target_name!r}.")
        self.target_name = target_name
        if positive_label is not None and (isinstance(positive_label, bool) or not isinstance(
                positive_label, (int, np.integer))):
            raise TypeError(f"`positive_label` must be a class index; got {positive_label!r}.")
        self.positive_label = positive_label
        if max_order is not None and (isinstance(max_order, bool) or not isinstance(
                max_order, (int, np.integer)) or max_order < 1):
            raise ValueError(f"`max_order` must be a positive integer; got {max_order!r}.")
        self.max_order = max_order
        self.table = self.masks = None  # set by _bind

    def _bind(self, clean):
        """A copy resolved against the evaluation: target attribute, positive label, groups."""
        if self.attributes.shape[1] and len(self.attributes) != clean.n_examples:
            raise ValueError(f"`attributes` has {len(self.attributes)} rows but there are "
                             f"{clean.n_examples} examples.")
        bound = copy.copy(self)
        bound.attributes = self.attributes.copy() if self.attributes.shape[1] else \
            check_attributes(None, clean.n_examples)
        positive = self.positive_label
        if positive is None and clean.n_classes == 2:
            positive = 1
        if positive is not None and not 0 <= positive < clean.n_classes:
            raise ValueError(f"`positive_label` must be in [0, {clean.n_classes}); got "
                             f"{positive!r}.")
        bound.positive_label = positive
        protected = self.protected
        if self.target_name is not None:
            if clean.n_classes != 2 or positive is None:
                raise ValueError("`target_name` needs a binary target (n_classes == 2).")
            target = clean.labels == positive
            if self.target_name in bound.attributes.columns:
                # CelebA carries all 40 attributes, the target (Blond_Hair) among them: the
                # same column is fine, a different one would make the groups lie.
                stored = bound.attributes[self.target_name].to_numpy()
                disagree = int(np.count_nonzero(stored != target))
                if disagree:
                    raise InvalidArgumentError(
                        f"`target_name` {self.target_name!r} is also an attribute, and that "
                        f"attribute differs from labels == {positive} on {disagree} of "
                        f"{clean.n_examples} examples; rename the target or drop the attribute.")
            bound.attributes[self.target_name] = target
            if protected is None:
                protected = list(bound.attributes.columns) if bound.attributes.shape[1] <= 3 \
                    else [self.target_name]
            elif self.target_name not in protected:
                protected = protected + [self.target_name]
        bound.protected = protected
        bound.table, bound.masks = _attributes.attribute_groups(bound.attributes, protected,
                                                                self.max_order)
        return bound


class CorruptedEvaluations:
    """Top-1 labels of populations on corrupted copies of the data (ImageNet-C style).

    Parameters
    ----------
    corruption_predictions : mapping population -> mapping (corruption, severity) -> array
        Top-1 labels ``(n_members, n_corrupt_examples)`` for "dense" and any variants.
    corruption_labels : array_like of int, or mapping (corruption, severity) -> array_like
        True labels of the corrupted sets (one array when all share the clean examples).
    corruption_reference : {"auto", "alexnet", "population"}
        "auto" picks AlexNet's published errors when there are 1000 classes and every corruption
        has an AlexNet figure, the dense population otherwise.
    reference_clean_error : float, optional
        Clean error of AlexNet for relative mCE (default ``ALEXNET_CLEAN_ERROR``).
    """

    def __init__(self, corruption_predictions, corruption_labels=None, *,
                 corruption_reference="auto", reference_clean_error=None):
        check_mapping(corruption_predictions, "corruption_predictions")
        if corruption_labels is None:
            raise ValueError("`corruption_predictions` needs `corruption_labels`.")
        if corruption_reference not in CORRUPTION_REFERENCES:
            raise ValueError(f"`corruption_reference` must be 'auto', 'alexnet' or "
                             f"'population'; got {corruption_reference!r}.")
        self.reference = corruption_reference
        self.reference_clean_error = reference_clean_error
        if isinstance(corruption_labels, Mapping):
            self.labels = {key: check_labels(value, f"corruption_labels[{key!r}]")[0]
                           for key, value in corruption_labels.items()}
        else:
            self.labels = check_labels(corruption_labels, "corruption_labels")[0]
        self.predictions = {}
        for pop, by_key in corruption_predictions.items():
            if not isinstance(by_key, Mapping) or not by_key:
                raise TypeError(f"`corruption_predictions[{pop!r}]` must map (corruption, "
                                f"severity) -> predictions.")
            self.predictions[pop] = {}
            for key, value in by_key.items():
                self.predictions[pop][key] = check_predictions(
                    value, f"corruption_predictions[{pop!r}][{key!r}]",
                    n_examples=self.labels_of(key).shape[0])

    def labels_of(self, key):
        """True labels of the set ``key`` = (corruption, severity)."""
        if not isinstance(self.labels, Mapping):
            return self.labels
        if key not in self.labels:
            raise ValueError(f"`corruption_labels` has no entry for {key!r}.")
        return self.labels[key]

    def _bind(self, clean):
        clean._check_populations(self.predictions, "corruption_predictions")
        bound = copy.copy(self)
        if isinstance(self.labels, Mapping):
            bound.labels = {key: check_in_range(value, f"corruption_labels[{key!r}]",
                                                clean.n_classes)
                            for key, value in self.labels.items()}
        else:
            bound.labels = check_in_range(self.labels, "corruption_labels", clean.n_classes)
        bound.predictions = {
            pop: {key: check_in_range(value, f"corruption_predictions[{pop!r}][{key!r}]",
                                      clean.n_classes) for key, value in by_key.items()}
            for pop, by_key in self.predictions.items()}
        return bound


class SubsetEvaluation:
    """Populations evaluated on a set covering a subset of the classes (ImageNet-A: 200 of 1000).

    Give each population either its full-space scores (the argmax is restricted to the subset
    here) or its labels already restricted to the subset (the store's ``restricted_labels``).

    Parameters
    ----------
    imagenet_a_labels : array_like of int, shape (n_a_examples,), in the full class space
    imagenet_a_classes : array_like of int, shape (n_subset,)
        The subset's classes in the full space (the data layer provides them).
    imagenet_a_scores : mapping population -> array of shape (n_members, n_a_examples,
        n_classes), optional
    imagenet_a_predictions : mapping population -> array of int, shape (n_members,
        n_a_examples), optional
    """

    def __init__(self, imagenet_a_labels, imagenet_a_classes, *, imagenet_a_scores=None,
                 imagenet_a_predictions=None):
        if imagenet_a_labels is None or imagenet_a_classes is None:
            raise ValueError("ImageNet-A scores or predictions need `imagenet_a_labels` and "
                             "`imagenet_a_classes`.")
        self.scores = {} if imagenet_a_scores is None else dict(
            check_mapping(imagenet_a_scores, "imagenet_a_scores"))
        self.predictions = {} if imagenet_a_predictions is None else dict(
            check_mapping(imagenet_a_predictions, "imagenet_a_predictions"))
        if not self.scores and not self.predictions:
            raise ValueError("A subset evaluation needs `imagenet_a_scores` or "
                             "`imagenet_a_predictions`.")
        both = sorted(set(self.scores) & set(self.predictions))
        if both:
            raise ValueError(f"Population {both[0]!r} has both ImageNet-A scores and "
                             f"predictions; give one.")
        labels = np.asarray(imagenet_a_labels)
        self.labels, self.classes = _robustness._check_subset(
            labels, imagenet_a_classes, labels.shape[0] if labels.ndim else -1, None)
        n = self.labels.shape[0]
        # scores: (n_members, n, n_classes) or one member's (n, n_classes); predictions:
        # (n_members, n) or (n,). The example axis is the last but one, resp. the last.
        for argname, by_population, class_axes in (("imagenet_a_scores", self.scores, 1),
                                                   ("imagenet_a_predictions", self.predictions, 0)):
            for pop, value in by_population.items():
                value = np.asarray(value)
                if value.ndim not in (1 + class_axes, 2 + class_axes) \
                        or value.shape[-1 - class_axes] != n:
                    raise ValueError(f"`{argname}[{pop!r}]` has shape {value.shape}; expected "
                                     f"{n} examples, as `imagenet_a_labels` has.")

    def _bind(self, clean):
        clean._check_populations(self.scores, "imagenet_a_scores")
        clean._check_populations(self.predictions, "imagenet_a_predictions")
        if self.classes.max() >= clean.n_classes:
            raise ValueError(f"`imagenet_a_classes` must be in [0, {clean.n_classes}); got a "
                             f"maximum of {self.classes.max()}.")
        return self


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_))


@dataclasses.dataclass(frozen=True)
class AuditOptions:
    """How populations vote and how the statistics are computed.

    Parameters
    ----------
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
    """

    mode: str = "vote"
    tie_break: str = "lowest"
    alpha: float = 0.05
    n_bootstrap: int = 1000
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self):
        check_tie_break(self.tie_break)
        if self.mode not in MODES:
            raise InvalidArgumentError(f"`mode` must be one of {MODES}; got {self.mode!r}.")
        for argname in ("alpha", "confidence"):
            value = getattr(self, argname)
            if not _is_real(value) or not 0 < value < 1:
                raise InvalidArgumentError(f"`{argname}` must be a number in (0, 1); got "
                                           f"{value!r}.")
        if not _is_int(self.n_bootstrap) or self.n_bootstrap < 1:
            raise InvalidArgumentError(f"`n_bootstrap` must be a positive integer; got "
                                       f"{self.n_bootstrap!r}.")
        if not _is_int(self.seed) or self.seed < 0:
            raise InvalidArgumentError(f"`seed` must be a non-negative integer (it seeds the "
                                       f"bootstrap); got {self.seed!r}.")

    def _bind(self, clean):
        if self.mode == "mean_probability":
            missing = [k for k in clean.variants if k not in clean.compressed_probabilities]
            if clean.dense_probabilities is None or missing:
                raise ValueError("mode='mean_probability' needs `dense_probabilities` and "
                                 "`compressed_probabilities` for every variant"
                                 + (f" (missing: {missing})." if missing else "."))
        return self
