"""Populations of dense and compressed models, trained member by member into a prediction store.

A member is a (variant, seed) pair. Members are grouped by their *root*: the model trained from
scratch that they derive from (``dense`` for dense, ``prune_ft@S``, the mitigated ``prune_kd@S``,
``prune_rw@S``, ``prune_gw@S``, ``qat_int8`` and their TFLite
exports; ``prune@S`` for itself and its exports). A group is trained in one job, so a fine-tuned
member always starts from the same seed's dense model without waiting on another job; sharding
splits the population by groups (``shard=(i, n)``) or by positions in the member list
(``member_range=(start, stop)``).

Resuming: members already in the store are skipped. Models that others derive from are saved
(weights, TF checkpoint format, atomically completed by a marker file) under ``checkpoint_dir``,
so a resumed run fine-tunes or exports from them without retraining; if a checkpoint is missing,
the parent is retrained from its seed (deterministically, see below) and not written again.

Determinism: every member seeds Python, numpy and TensorFlow with its seed before its model is
built, its training data are shuffled with that seed, and ``tf.config.experimental.
enable_op_determinism()`` is switched on (process-wide) unless ``deterministic=False``. On CPU,
two runs with the same seeds then produce the same predictions. What remains outside that
guarantee: different TensorFlow versions, CPU instruction sets (oneDNN kernels differ between AVX2
and AVX-512 machines) and thread counts of some oneDNN ops, GPUs/TPUs (where some ops have no
deterministic kernel and raise), the order of all-reductions in multi-worker training, and TFLite
int8 calibration, which is deterministic but depends on the converter version.
"""
from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib.metadata
import json
import os
import socket
import time
from typing import Callable, Mapping

import numpy as np

from pie_tf._keras import KERAS3, flavour, tf
from pie_tf.errors import CheckpointError, ConfigMismatchError, InvalidArgumentError
from pie_tf.population import _identity, _train
from pie_tf.population.recipe import Recipe
from pie_tf.population.variants import Variant
from pie_tf.store import PredictionStore, join, read_json, write_json

__all__ = ["Population", "MemberResult"]

_CHECKPOINT_FORMAT = "pie_tf.population.checkpoint"


@dataclasses.dataclass(frozen=True)
class MemberResult:
    """What :meth:`Population.run` did with one member.

    Attributes
    ----------
    variant : str
    seed : int
    status : {"written", "skipped", "not_chief", "claimed"}
        ``"skipped"``: already in the store. ``"not_chief"``: trained on a non-chief worker of a
        multi-worker strategy, whose chief writes it. ``"claimed"``: another job on this machine
        was training its group (see :meth:`Population.run`); that job writes it.
    seconds : float
        Wall time spent on this member in this run (its own training, export and predictions).
    """
    variant: str
    seed: int
    status: str
    seconds: float


# Variants whose training runs on tfmot's QAT or pie_tf.mitigation's tf_keras losses and metrics.
_TF_KERAS_ONLY = ("qat_int8", "prune_kd", "prune_rw", "prune_gw")


def _refuse_tf_keras_only_variants(model, variants):
    """A Keras 3 ``model_fn`` takes dense, pruned and TFLite variants; say so before training."""
    if flavour(model) != KERAS3:
        return
    refused = [v.name for v in variants if v.kind in _TF_KERAS_ONLY]
    if refused:
        raise InvalidArgumentError(
            f"`model_fn()` builds Keras 3 models, and variants {refused} need tf_keras models "
            "(quantization-aware training runs on tfmot; the mitigated fine-tunes on "
            "pie_tf.mitigation's tf_keras losses). With Keras 3 use dense, prune@S, "
            "prune_ft@S and their TFLite exports (e.g. prune@0.9+tflite_int8: post-training int8), "
            "or build the model with tf_keras.")


def _max_pooling_layers(model):
    """Names of ``model``'s MaxPooling layers, nested models included."""
    names = []
    for layer in model.layers:
        if hasattr(layer, "layers"):
            names += _max_pooling_layers(layer)
        elif type(layer).__name__ in ("MaxPooling1D", "MaxPooling2D", "MaxPooling3D"):
            names.append(layer.name)
    return names


def _refuse_nondeterministic_xla(model):
    """Op determinism with XLA steps: refused for a Keras 3 model (Keras 3 then drops XLA) and
    for a model whose gradient has no deterministic XLA kernel (MaxPool's), which would fail at
    its first training step."""
    if flavour(model) == KERAS3:
        # Keras 3's compile turns XLA off, with only a warning, while op determinism is on
        raise InvalidArgumentError(
            "`deterministic=True` with `recipe.jit_compile=True` on a Keras 3 model: Keras 3 "
            "compiles no XLA step while op determinism is on, so the members would train "
            "without XLA. Pass deterministic=False (members stay seeded, reproducible up to "
            "float reassociation) or a recipe with jit_compile=False.")
    pools = _max_pooling_layers(model)
    if pools:
        raise InvalidArgumentError(
            "`deterministic=True` with `recipe.jit_compile=True`: TensorFlow has no "
            f"deterministic XLA kernel for the gradient of MaxPooling (layer {pools[0]!r} of "
            "`model_fn()`'s model), so training would fail at its first step. Pass "
            "deterministic=False (members stay seeded, reproducible up to float "
            "reassociation) or a recipe with jit_compile=False.")


def _save_weights(model, prefix):
    """A member's weights at ``prefix``: a TF checkpoint (tf_keras) or ``prefix.weights.h5``
    (Keras 3, whose ``save_weights`` writes its own h5 format only)."""
    if flavour(model) == KERAS3:
        tf.io.gfile.makedirs(prefix.rsplit("/", 1)[0])   # tf_keras's writer makes it itself
        model.save_weights(prefix + ".weights.h5")
    else:
        model.save_weights(prefix)


def _load_weights(model, prefix):
    if flavour(model) == KERAS3:
        model.load_weights(prefix + ".weights.h5")
    else:
        model.load_weights(prefix).expect_partial()


def _versions():
    versions = {"tensorflow": tf.__version__}
    for dist in ("tf_keras", "tensorflow-model-optimization", "ai-edge-litert", "numpy"):
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    import pie_tf
    versions["pie_tf"] = pie_tf.__version__
    return versions


def _progress(message):
    """One of the population's own lines, to the terminal's stderr (``pie_tf.console.echo``)."""
    from pie_tf import console

    console.echo(f"population: {message}", err=True)


class Population:
    """Dense and compressed models of many seeds, trained and evaluated into a store.

    Parameters
    ----------
    model_fn : callable () -> tf_keras.Model
        Builds a fresh, uncompiled functional or Sequential model (e.g.
        ``functools.partial(pie_tf.models.small_resnet, (32, 32, 3), 10)``). Called under the
        strategy's scope after the member's seed is set. It outputs probabilities unless
        ``recipe.from_logits``.
    train_data : tf.data.Dataset
        Unbatched pie_tf examples (dicts with ``image`` and ``label``) or (image, label) pairs,
        preprocessed as the model expects (e.g. ``pie_tf.data.preprocess(ds, to_float())``).
        Shuffling and batching are done per member, seeded.
    eval_data : dict of str -> tf.data.Dataset
        Named evaluation sets, unbatched, in a deterministic order; ``id`` and ``attributes`` of
        pie_tf examples are recorded in the store with the labels. Names as store names
        (letters, digits, ``_.@+=-``), e.g. ``{"test": ..., "fog@3": ...}``.
    store : PredictionStore or str
    recipe : Recipe, optional
    seeds : sequence of int
    variants : sequence of str
        Variant names (see :mod:`pie_tf.population.variants`; ``standard_variants`` builds
        them). Names are canonicalised (``"prune@0.90"`` is stored as ``"prune@0.9"``).
    class_subsets : dict of str -> array_like of int, optional
        Evaluation sets whose argmax is also taken over a subset of classes (ImageNet-A).
    variant_eval_sets : dict of str -> sequence of str, optional
        The evaluation sets some variants predict on, when not all of them: e.g. the TFLite
        exports of compressed models on the clean set and ImageNet-A only, not on the 75
        ImageNet-C sets (on a CPU runtime that is most of a paper-scale run's time). Variants not
        named predict on every set; the audit skips a (variant, set) pair that was not predicted.
    eval_info : dict of str -> dict, optional
        JSON metadata stored with an evaluation set, e.g. ``{"fog@3": {"corruption": "fog",
        "severity": 3}}`` (the audit finds corruption sets by these two keys).
    strategy : tf.distribute.Strategy, optional
        Defaults to the current (default) strategy. With a multi-worker strategy every worker
        runs the same population; only the chief writes to the store and the checkpoints, which
        must be on a filesystem all workers reach.
    checkpoint_dir : str, optional
        Where parents' weights are kept for resuming; default ``<store>/checkpoints``.
    deterministic : bool
        Enable ``tf.config.experimental.enable_op_determinism()``. With a recipe's
        ``jit_compile`` it is refused, before any training, for a model with a MaxPooling layer
        (every ImageNet ResNet stem): TensorFlow has no deterministic XLA kernel for its
        gradient, and training would fail at its first step. XLA steps of other models (the CIFAR
        ``small_resnet``) train deterministically on a CPU.
    verbose : int
        1 (default): one progress display on stderr (members done, elapsed and remaining time;
        a tqdm bar on a terminal, a line per member otherwise, see ``pie_tf.console``);
        0: silent.
    """

    def __init__(self, model_fn: Callable, train_data, eval_data: Mapping, *, store,
                 recipe: Recipe | None = None, seeds=(0,), variants=("dense",),
                 class_subsets: Mapping | None = None, eval_info: Mapping | None = None,
                 variant_eval_sets: Mapping | None = None, strategy=None, checkpoint_dir=None,
                 deterministic=True, verbose=1):
        if not callable(model_fn):
            raise TypeError(f"`model_fn` must be a callable returning a tf_keras model; got "
                            f"{type(model_fn).__name__}.")
        self.model_fn = model_fn
        self.train_data = _train.check_dataset(train_data, "train_data")
        if not isinstance(eval_data, Mapping) or not eval_data:
            raise TypeError("`eval_data` must be a non-empty dict of name -> tf.data.Dataset.")
        self.eval_data = {name: _train.check_dataset(ds, f"eval_data[{name!r}]")
                          for name, ds in eval_data.items()}
        train_float = _identity.is_float(_identity.image_dtype(self.train_data))
        for name, ds in self.eval_data.items():
            if _identity.is_float(_identity.image_dtype(ds)) != train_float:
                raise InvalidArgumentError(
                    f"`eval_data[{name!r}]` has {_identity.image_dtype(ds).name} images but "
                    f"`train_data` {_identity.image_dtype(self.train_data).name}: the models "
                    "would see it unscaled. Preprocess it as the training data (e.g. "
                    "pie_tf.data.preprocess(ds, pie_tf.data.to_float())).")
        self.store = store if isinstance(store, PredictionStore) else PredictionStore(store)
        for name in self.eval_data:
            self.store.has_eval_set(name)  # validates the name
        self.recipe = Recipe() if recipe is None else recipe
        if not isinstance(self.recipe, Recipe):
            raise TypeError(f"`recipe` must be a pie_tf.population.Recipe; got "
                            f"{type(self.recipe).__name__}.")
        seeds = list(seeds)
        if not seeds or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0
                            for s in seeds) or len(set(seeds)) != len(seeds):
            raise ValueError(f"`seeds` must be distinct non-negative ints; got {seeds!r}.")
        self.seeds = [int(s) for s in seeds]
        if isinstance(variants, str):
            variants = [variants]
        parsed = [Variant.parse(v) for v in variants]
        names = [v.name for v in parsed]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"`variants` must be a non-empty list without repeats; got "
                             f"{list(variants)!r}.")
        self.variants = parsed
        spec = self.train_data.element_spec
        if any(v.mitigation == "gw" for v in parsed) and not (
                isinstance(spec, dict) and spec.get("attributes")):
            raise ValueError("`variants` include prune_gw@S, whose group weights are computed "
                             "over the training examples' `attributes`; `train_data` has none.")
        self.class_subsets = dict(class_subsets or {})
        self.eval_info = dict(eval_info or {})
        for argname, given in (("class_subsets", self.class_subsets),
                               ("eval_info", self.eval_info)):
            unknown = sorted(set(given) - set(self.eval_data))
            if unknown:
                raise ValueError(f"`{argname}` names {unknown}, which are not in `eval_data` "
                                 f"({sorted(self.eval_data)}).")
        self.variant_eval_sets = {}
        for name, sets in dict(variant_eval_sets or {}).items():
            variant = Variant.parse(name).name
            if variant not in names:
                raise ValueError(f"`variant_eval_sets` names variant {name!r}, which is not in "
                                 f"`variants` ({names}).")
            sets = [sets] if isinstance(sets, str) else list(sets)
            unknown = sorted(set(sets) - set(self.eval_data))
            if not sets or unknown:
                raise ValueError(f"`variant_eval_sets[{name!r}]` must be a non-empty list of "
                                 f"`eval_data` names ({sorted(self.eval_data)}); got {sets!r}.")
            self.variant_eval_sets[variant] = sets
        if not all(isinstance(v, Mapping) for v in self.eval_info.values()):
            raise TypeError("`eval_info` values must be dicts of JSON metadata.")
        self.strategy = strategy if strategy is not None else tf.distribute.get_strategy()
        if not isinstance(self.strategy, tf.distribute.Strategy):
            raise TypeError(f"`strategy` must be a tf.distribute.Strategy; got "
                            f"{type(strategy).__name__}.")
        self.checkpoint_dir = (checkpoint_dir if checkpoint_dir is not None
                               else join(self.store.root, "checkpoints"))
        self.deterministic = bool(deterministic)
        self.verbose = verbose
        self._eval_meta_cache = {}
        self._eval_written = set()
        self._identity = None

    # ------------------------------------------------------------------ planning
    def members(self):
        """All members as (variant name, seed), seed-major, variants in dependency order."""
        return [(v.name, seed) for seed, _, group in self._groups() for v in group]

    def _groups(self):
        """(seed, root, variants) in order; within a group a parent precedes what derives from
        it."""
        def depth(v):
            return 0 if v.parent is None else 1 + depth(v.parent)
        groups = []
        for seed in self.seeds:
            roots = []
            for v in self.variants:
                if v.root not in roots:
                    roots.append(v.root)
            for root in roots:
                group = sorted((v for v in self.variants if v.root == root), key=depth)
                groups.append((seed, root, group))
        return groups

    def plan(self, *, shard=None, member_range=None):
        """The members this job is responsible for.

        Parameters
        ----------
        shard : (int, int), optional
            ``(i, n)``: groups ``i, i + n, i + 2n, ...`` (a group is one seed's root and the
            members derived from it).
        member_range : (int, int), optional
            ``(start, stop)``: positions in :meth:`members`.

        Returns
        -------
        list of (str, int)
        """
        check_stage(shard, member_range)
        if shard is not None:
            i, n = shard
            return [(v.name, seed) for seed, _, group in self._groups()[i::n] for v in group]
        members = self.members()
        if member_range is not None:
            return members[member_range[0]:member_range[1]]
        return members

    # ------------------------------------------------------------------ running
    @property
    def is_chief(self):
        """True on the worker that writes (always, outside multi-worker training)."""
        return bool(getattr(self.strategy.extended, "should_checkpoint", True))

    def _agree(self, todo):
        """Under multi-worker training, every worker must train the same members (collectives
        would hang otherwise): a member is trained if any worker found it missing."""
        if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
            return todo
        mask = tf.constant(np.asarray(todo, np.int32))
        total = self.strategy.reduce(tf.distribute.ReduceOp.SUM,
                                     self.strategy.run(lambda: tf.identity(mask)), axis=None)
        return [bool(x) for x in total.numpy()]

    def _eval_meta(self, name):
        """(ids, labels, attributes) of an evaluation set, read once per run."""
        if name not in self._eval_meta_cache:
            self._eval_meta_cache[name] = _train.describe_eval_set(self.eval_data[name])
        return self._eval_meta_cache[name]

    def _write_eval_sets(self, n_classes):
        if not self.is_chief:
            return
        for name in self.eval_data:
            if name in self._eval_written:
                continue
            ids, labels, attributes = self._eval_meta(name)
            self.store.write_eval_set(name, ids, labels, n_classes=n_classes,
                                      attributes=attributes or None,
                                      class_subset=self.class_subsets.get(name),
                                      info=dict(self.eval_info.get(name, {})),
                                      identity=self.identity()["eval_sets"][name])
            self._eval_written.add(name)

    @contextlib.contextmanager
    def _claim(self, seed, root):
        """Claim group (``seed``, ``root``) for this job while it trains it.

        On a local store the claim is ``claims/<root>@seed_<seed>.json``, created exclusively
        (``O_CREAT | O_EXCL``) and holding this host and process id, and removed when the group
        is done: a second job on the same store skips claimed groups, so two local jobs split
        the work. A claim whose process no longer runs (a killed job) is taken over. Stores on
        object stores (``gs://``) have no exclusive create: there nothing is claimed, and jobs
        must be given disjoint work with ``--shard`` (two jobs on one group both train it and
        the first write wins, as before). Multi-worker training claims nothing either: its
        workers train the same members together.
        """
        if not self.store.is_local or isinstance(self.strategy,
                                                 tf.distribute.MultiWorkerMirroredStrategy):
            yield True
            return
        folder = os.path.join(self.store.root, "claims")
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{root.name}@seed_{seed}.json")
        mine = {"host": socket.gethostname(), "pid": os.getpid()}
        if not _create_exclusive(path, mine):
            holder = _read_claim(path)
            if holder is not None and holder != mine and _claim_alive(holder):
                if self.verbose:
                    _progress(f"{root.name} seed {seed}: claimed by process {holder['pid']} on "
                              f"{holder['host']}; left to it")
                yield False
                return
            os.replace(_write_temp(path, mine), path)   # a dead job's claim: taken over
        try:
            yield True
        finally:
            if _read_claim(path) == mine:
                os.remove(path)

    # ------------------------------------------------------------------ run identity
    def identity(self):
        """What this population's members are made from (see :mod:`pie_tf.population._identity`).

        Returns
        -------
        dict
            ``model`` (architecture), ``n_classes``, ``train_data`` and ``eval_sets`` (name ->
            identity of each evaluation set), and ``recipe``.
        """
        if self._identity is None:
            model = _train.build_model(self.model_fn, self.recipe)
            _refuse_tf_keras_only_variants(model, self.variants)
            if self.deterministic and self.recipe.jit_compile:
                _refuse_nondeterministic_xla(model)
            # a model that does not fit the data fails here, before any training
            _train.check_input_fits(model, self.train_data, "train_data")
            for name, ds in self.eval_data.items():
                _train.check_input_fits(model, ds, f"eval_data[{name!r}]")
            classes = int(model.outputs[0].shape[-1])
            self._identity = {
                "model": _identity.model_identity(model), "n_classes": max(2, classes),
                "train_data": _identity.data_identity(self.train_data),
                "eval_sets": {name: _identity.data_identity(ds)
                              for name, ds in self.eval_data.items()},
                "recipe": {k: v for k, v in self.recipe.to_dict().items()
                           if k not in _identity.IGNORED_RECIPE_FIELDS}}
            del model
        return self._identity

    def _member_identity(self):
        requested = self.identity()
        return {key: requested[key] for key in ("model", "train_data", "eval_sets")}

    def _eval_set_differences(self, name):
        stored = self.store.eval_set(name)
        ids, labels, attributes = self._eval_meta(name)
        found = {}
        if stored.n_examples != len(labels):
            found["examples"] = (stored.n_examples, len(labels))
        else:
            if not np.array_equal(stored.ids.astype(str), np.asarray(ids).astype(str)):
                found["ids"] = ("the stored ids", "other ids (another seed or split?)")
            if not np.array_equal(stored.labels, labels):
                found["labels"] = (f"{int((stored.labels != labels).sum())} differ", "")
        if sorted(stored.attributes) != sorted(attributes):
            found["attributes"] = (sorted(stored.attributes), sorted(attributes))
        if stored.n_classes != self.identity()["n_classes"]:
            found["n_classes"] = (stored.n_classes, self.identity()["n_classes"])
        found.update(_identity.differences(stored.identity,
                                           self.identity()["eval_sets"][name], "data."))
        return found

    def _member_differences(self, variant, seed, changed_sets):
        manifest = self.store.member_info(variant, seed)
        recipe = {k: v for k, v in Recipe.upgrade_fields(manifest.get("recipe", {})).items()
                  if k not in _identity.IGNORED_RECIPE_FIELDS}
        found = _identity.differences(recipe, self.identity()["recipe"], "recipe.")
        found.update(_identity.differences(manifest.get("identity", {}),
                                           self._member_identity()))
        wanted = sorted(self.variant_eval_sets.get(variant, self.eval_data))
        missing = sorted(set(wanted) - set(manifest.get("files", {})))
        if missing:
            found["eval_sets"] = (sorted(manifest.get("files", {})), wanted)
        for name in changed_sets:
            recorded = any(key == f"eval_sets.{name}" or key.startswith(f"eval_sets.{name}.")
                           for key in found)
            if name in manifest.get("files", {}) and not recorded:
                found[f"eval set {name!r}"] = ("predicted on the stored set", "changed")
        return found

    def _checkpoint_differences(self, variant, seed):
        marker = join(self.checkpoint_dir, variant, f"seed_{seed}", "weights.COMPLETE.json")
        if not tf.io.gfile.exists(marker):
            return {}
        stored = read_json(marker, format_name=_CHECKPOINT_FORMAT).get("identity", {})
        if isinstance(stored.get("recipe"), dict):
            stored["recipe"] = Recipe.upgrade_fields(stored["recipe"])
        return _identity.differences(stored, self._checkpoint_identity())

    def _checkpoint_identity(self):
        requested = self.identity()
        return {key: requested[key] for key in ("model", "train_data", "recipe")}

    def reconcile(self, on_mismatch="error"):
        """Compare what the store holds with what this population would produce, before any work.

        Every stored evaluation set of ``eval_data``, every stored member of :meth:`members`
        and every parent checkpoint is compared with this population's :meth:`identity`; stored
        members of the population's variants under seeds it does not have count too (the audit
        would read them).

        Parameters
        ----------
        on_mismatch : {"error", "retrain"}
            "error": raise :class:`pie_tf.errors.ConfigMismatchError` listing every key that
            differs (stored vs requested). "retrain": delete what differs (members, their
            checkpoints when the training changed, evaluation sets), so :meth:`run` trains it
            again.

        Returns
        -------
        dict
            ``{item: {key: (stored, requested)}}``: what differed (empty when nothing did).
        """
        if on_mismatch not in ("error", "retrain"):
            raise InvalidArgumentError(f"`on_mismatch` must be 'error' or 'retrain'; got "
                                       f"{on_mismatch!r}.")
        found, sets, members, checkpoints = {}, [], [], []
        for name in self.eval_data:
            if self.store.has_eval_set(name):
                differ = self._eval_set_differences(name)
                if differ:
                    found[f"eval set {name!r}"] = differ
                    sets.append(name)
        wanted = set(self.members())
        for variant in {v.name for v in self.variants}:
            for seed in self.store.seeds(variant):
                if (variant, seed) not in wanted:
                    found[f"member {variant} seed {seed}"] = {
                        "seed": (seed, f"not among the requested seeds {self.seeds}")}
                    members.append((variant, seed))
        for variant, seed in self.members():
            if self.store.has_member(variant, seed):
                differ = self._member_differences(variant, seed, sets)
                if differ:
                    found[f"member {variant} seed {seed}"] = differ
                    members.append((variant, seed))
            differ = self._checkpoint_differences(variant, seed)
            if differ:
                found[f"checkpoint {variant} seed {seed}"] = differ
                checkpoints.append((variant, seed))
        if not found:
            return found
        if on_mismatch == "error":
            raise ConfigMismatchError(_mismatch_message(self.store.root, found, members, sets),
                                      {f"{item}: {key}": pair for item, keys in found.items()
                                       for key, pair in keys.items()})
        if self.is_chief:
            for variant, seed in members:
                self.store.remove_member(variant, seed)
            for name in sets:
                self.store.remove_eval_set(name)
            for variant, seed in checkpoints:
                tf.io.gfile.rmtree(join(self.checkpoint_dir, variant, f"seed_{seed}"))
        if self.verbose:
            _progress(f"retraining what changed: {len(members)} members, {len(sets)} evaluation "
                      f"sets and {len(checkpoints)} checkpoints removed from {self.store.root}")
        return found

    def run(self, *, shard=None, member_range=None, on_mismatch="error", tf_logs=False):
        """Train, evaluate and store every member of this job not already in the store.

        Before any training, the store is compared with this population (:meth:`reconcile`):
        a stored member or evaluation set made with another configuration is never reused.

        Parameters
        ----------
        shard, member_range : see :meth:`plan`
        on_mismatch : {"error", "retrain"}
            See :meth:`reconcile`.
        tf_logs : bool
            False (default): TensorFlow's own C++ and Python log lines (converter banners,
            SavedModel fingerprints, ...) are kept off the terminal for the call
            (``pie_tf.console.quiet_tensorflow``; printed if the call fails); True leaves them.

        Returns
        -------
        list of MemberResult, in plan order.
        """
        from pie_tf import console

        with console.quiet_tensorflow(not tf_logs):
            return self._run(shard, member_range, on_mismatch)

    def _run(self, shard, member_range, on_mismatch):
        from pie_tf.console import Progress

        if self.deterministic:
            tf.config.experimental.enable_op_determinism()
        planned = self.plan(shard=shard, member_range=member_range)
        # every evaluation set is read once here (corrupted sets are corrupted now): one display
        unread = [name for name in self.eval_data if name not in self._eval_meta_cache]
        with Progress(len(unread), "evaluation sets", unit="sets",
                      enabled=bool(self.verbose) and len(unread) > 1) as progress:
            for name in unread:
                self._eval_meta(name)
                progress.update(name)
        self.reconcile(on_mismatch)
        # written before any training: the sets are the same for every member, and a set lost
        # from a complete store is written again by re-running
        self._write_eval_sets(self.identity()["n_classes"])
        todo = self._agree([not self.store.has_member(v, s) for v, s in planned])
        missing = {m for m, t in zip(planned, todo) if t}
        results = {m: MemberResult(m[0], m[1], "skipped", 0.0) for m in planned if m not in missing}
        # each variant's members take that variant's mean time in the estimate of what is left
        kinds = collections.Counter(variant for variant, _ in missing)
        with Progress(len(missing), "population", enabled=bool(self.verbose),
                      kinds=kinds) as progress:
            progress.write(f"population: {len(planned)} members planned, {len(missing)} to "
                           f"train, {len(planned) - len(missing)} already in {self.store.root}")
            self._train_missing(missing, results, progress)
        return [results[m] for m in planned]

    def _train_missing(self, missing, results, progress):
        """Train, predict and store the ``missing`` members, group by group."""
        recipe_json = self.recipe.to_dict()
        versions = _versions()
        for seed, root, group in self._groups():
            wanted = [v for v in group if (v.name, seed) in missing]
            if not wanted:
                continue
            with self._claim(seed, root) as claimed:
                if not claimed:  # another local job holds this group: it trains it
                    for variant in wanted:
                        results[(variant.name, seed)] = MemberResult(variant.name, seed,
                                                                     "claimed", 0.0)
                    progress.update(f"seed {seed}: {root.name} group claimed by another job",
                                    n=len(wanted))
                    continue
                if not isinstance(self.strategy, tf.distribute.MultiWorkerMirroredStrategy):
                    # another job may have finished some of them since the plan was made
                    for variant in [v for v in wanted if self.store.has_member(v.name, seed)]:
                        wanted.remove(variant)
                        results[(variant.name, seed)] = MemberResult(variant.name, seed,
                                                                     "skipped", 0.0)
                        progress.update(f"{variant.name} seed {seed}: stored by another job")
                runner = _GroupRun(self, seed, group)
                for variant in wanted:
                    start = time.perf_counter()
                    # Every worker trains (collectives) and reads the weights back; only the chief
                    # exports, predicts and writes.
                    model, timing = runner.model(variant.base)
                    timing = dict(timing)
                    model = runner.plain(variant.base)
                    status = "not_chief"
                    if self.is_chief:
                        if variant.tflite is not None:
                            model, export_timing = runner.export(variant, model)
                            timing.update(export_timing)
                        predictions = self._predict(model, variant, timing)
                        timing["member_s"] = time.perf_counter() - start
                        if self.store.has_member(variant.name, seed):
                            status = "skipped"  # another worker's view said missing; keep the first
                        else:
                            self.store.write_member(
                                variant.name, seed, predictions, recipe=recipe_json, timing=timing,
                                versions=versions,
                                info={"strategy": type(self.strategy).__name__,
                                      "replicas": self.strategy.num_replicas_in_sync},
                                identity=self._member_identity())
                            status = "written"
                    seconds = time.perf_counter() - start
                    results[(variant.name, seed)] = MemberResult(variant.name, seed, status,
                                                                 seconds)
                    progress.update(f"{variant.name} seed {seed} {status} in {int(seconds)} s",
                                    kind=variant.name)

    def _predict(self, model, variant, timing):
        """Probabilities on every evaluation set (which are stored first, once)."""
        predictors = {}
        predictions = {}
        wanted = self.variant_eval_sets.get(variant.name, self.eval_data)
        for name, ds in self.eval_data.items():
            if name not in wanted:
                continue
            start = time.perf_counter()
            if variant.tflite is not None:
                predict = _train.tflite_predictor(model, self.recipe.from_logits)
            else:  # one traced function per image shape, shared by the sets that have it
                spec = _train.image_spec(ds)
                key = (tuple(spec.shape), spec.dtype)
                if key not in predictors:
                    predictors[key] = _train.keras_predictor(model, self.recipe.from_logits,
                                                             spec)
                predict = predictors[key]
            predictions[name] = _train.predict_eval_set(
                predict, ds, self.recipe.eval_batch_size, self._eval_meta(name)[0], name)
            timing[f"predict_s/{name}"] = time.perf_counter() - start
        # the model's output size fixes how each set's predictions are stored
        self._write_eval_sets(next(iter(predictions.values())).shape[1])
        return predictions


def _int_pair(value):
    return (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(x, (int, np.integer)) for x in value))


def check_stage(shard=None, member_range=None):
    """``ValueError`` unless ``shard`` / ``member_range`` are valid for :meth:`Population.plan`
    (at most one of them; ``(i, n)`` with ``0 <= i < n``; ``(start, stop)`` with
    ``0 <= start <= stop``)."""
    if shard is not None and member_range is not None:
        raise ValueError("give `shard` or `member_range`, not both.")
    if shard is not None and not (_int_pair(shard) and 0 <= shard[0] < shard[1]):
        raise ValueError(f"`shard` must be (i, n) with 0 <= i < n; got {shard!r}.")
    if member_range is not None and not (_int_pair(member_range)
                                         and 0 <= member_range[0] <= member_range[1]):
        raise ValueError(f"`member_range` must be (start, stop) with 0 <= start <= stop; "
                         f"got {member_range!r}.")


def _create_exclusive(path, content):
    """Create ``path`` holding ``content`` (JSON) only if it does not exist; True if created."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(content, f)
    return True


def _write_temp(path, content):
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(content, f)
    return tmp


def _read_claim(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):  # removed meanwhile, or caught half-written
        return None


def _claim_alive(holder):
    """True unless the claim's process is known to be gone (only knowable on this host)."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError, KeyError, TypeError):
        return True
    return True


def _mismatch_message(root, found, members, sets, shown=12):
    lines = [f"{item}: {key}: stored {stored!r}, requested {requested!r}"
             for item, keys in found.items() for key, (stored, requested) in keys.items()]
    more = f"\n  ... and {len(lines) - shown} more" if len(lines) > shown else ""
    return (f"the store {root} holds results made with another configuration; nothing was "
            "trained or reused. What differs (stored vs requested):\n  "
            + "\n  ".join(lines[:shown]) + more + "\nWays out: write this run to another "
            "output folder (--out_dir), or retrain what changed with --retrain_changed "
            "(Population.run(on_mismatch='retrain')): it deletes the "
            f"{len(members)} member(s) and {len(sets)} evaluation set(s) listed (and checkpoints "
            "whose training changed) and trains them again.")


class _GroupRun:
    """The models of one group (seed, root), trained or restored on demand and kept in memory."""

    def __init__(self, population, seed, group):
        self.population = population
        self.seed = seed
        self.group = group
        self.models = {}
        self.plain_models = {}
        self._calibration = None
        # variants whose model another variant of the group starts from
        self.parents = {v.parent for v in group if v.parent is not None}

    def _checkpoint_prefix(self, variant):
        return join(self.population.checkpoint_dir, variant.name, f"seed_{self.seed}", "weights")

    def _restore(self, variant):
        """The model of ``variant`` from its checkpoint, or None when there is none."""
        marker = self._checkpoint_prefix(variant) + ".COMPLETE.json"
        if not tf.io.gfile.exists(marker):
            return None
        read_json(marker, format_name=_CHECKPOINT_FORMAT)
        with self.population.strategy.scope():
            model = self._structure(variant)
        prefix = self._checkpoint_prefix(variant)
        try:
            _load_weights(model, prefix)
        except (tf.errors.OpError, IndexError, ValueError, OSError) as err:
            # e.g. "IndexError: Read less bytes than requested" from a truncated data file
            folder = prefix.rsplit("/", 1)[0]
            raise CheckpointError(folder, f"the checkpoint of parent {variant.name!r} (seed "
                                          f"{self.seed}) cannot be read ({type(err).__name__}: "
                                          f"{str(err).strip().splitlines()[0][:200]}). Delete "
                                          "this folder and run again: the parent is then "
                                          "retrained from its seed, deterministically.") from None
        return model

    def _save(self, variant):
        # saved from the plain copy: every worker joins the collective reads, the chief writes
        model = self.plain(variant)
        if not self.population.is_chief:
            return
        prefix = self._checkpoint_prefix(variant)
        if tf.io.gfile.exists(prefix + ".COMPLETE.json"):
            return
        _save_weights(model, prefix)
        # the marker makes the checkpoint valid; a run killed while saving leaves none
        write_json(prefix + ".COMPLETE.json", {
            "format": _CHECKPOINT_FORMAT, "variant": variant.name, "seed": self.seed,
            "identity": self.population._checkpoint_identity()})

    def model(self, variant):
        """(model, timing) of a Keras variant, trained (or restored) under the strategy."""
        if variant.name in self.models:
            return self.models[variant.name], {}
        pop, recipe, seed = self.population, self.population.recipe, self.seed
        if variant in self.parents:
            model = self._restore(variant)
            if model is not None:
                self.models[variant.name] = model
                return model, {"restored_from_checkpoint": 1.0}
        timing = {}
        if variant.kind in ("dense", "prune"):
            model, timing["train_s"] = _train.train_from_scratch(
                pop.model_fn, pop.train_data, recipe, seed, pop.strategy,
                target_sparsity=variant.sparsity)
        else:
            dense, parent_timing = self.model(Variant("dense"))
            if "train_s" in parent_timing:
                timing["parent_train_s"] = parent_timing["train_s"]
            if variant.kind == "prune_ft":
                model, timing["train_s"] = _train.fine_tune_pruned(
                    dense, pop.train_data, recipe, seed, variant.sparsity)
            elif variant.mitigation is not None:
                model, timing["train_s"] = _train.fine_tune_mitigated(
                    dense, pop.train_data, recipe, seed, variant.sparsity, variant.mitigation)
            else:
                model, timing["train_s"] = _train.fine_tune_qat(dense, pop.train_data, recipe,
                                                               seed)
        self.models[variant.name] = model
        if variant in self.parents:
            self._save(variant)
        return model, timing

    def _structure(self, variant):
        """A new, untrained model with the layers and weights of ``variant``'s model."""
        quantized = variant.kind == "qat_int8"
        model = _train.build_model(self.population.model_fn, self.population.recipe,
                                   quantized=quantized)
        if quantized:
            from pie_tf.compress.quantize import quantize
            model = quantize(model)
        return model

    def plain(self, variant):
        """``variant``'s model outside any strategy, for prediction and export (None off-chief).

        Under a strategy, variables such as batch-norm moving statistics are synchronised on
        read: reading them is a collective every worker must join, so all workers call this
        in the same order; the chief then copies the values into a model of its own.
        """
        model = self.models[variant.name]
        if model.distribute_strategy is tf.distribute.get_strategy():
            return model
        if variant.name not in self.plain_models:
            weights = model.get_weights()
            if self.population.is_chief:
                with tf.distribute.get_strategy().scope():
                    plain = self._structure(variant)
                plain.set_weights(weights)
                self.plain_models[variant.name] = plain
            else:
                self.plain_models[variant.name] = None
        return self.plain_models[variant.name]

    def export(self, variant, base):
        """(TFLiteModel, timing): ``base`` (a plain Keras model) exported as ``variant`` says."""
        if self._calibration is None:
            self._calibration = _train.calibration_images(
                self.population.train_data, self.population.recipe.calibration_examples)
        start = time.perf_counter()
        model = _train.export(base, variant.tflite, self._calibration)
        # gzip captures a pruned model's zeros: the download size the report plots against harm
        return model, {"export_s": time.perf_counter() - start,
                       "tflite_bytes": float(model.size_bytes),
                       "tflite_gzip_bytes": float(model.gzip_bytes)}
