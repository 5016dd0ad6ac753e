"""Magnitude pruning of a plain tf_keras model during ``fit``: :class:`PruneCallback`.

The user keeps an ordinary Sequential or functional model; nothing is wrapped. The callback holds,
for every pruned weight tensor, a mask and a threshold variable (as tfmot's ``PruneLowMagnitude``
wrapper does) and drives tfmot's own machinery with them:

* when and how much: a ``tfmot.sparsity.keras.PruningSchedule`` (``PolynomialDecay`` with
  exponent 3 by default: Zhu & Gupta's gradual pruning, as used by Hooker et al.);
* which entries: tfmot's ``pruning_impl.Pruning`` (magnitude masks, block and m-by-n masks);
* which weights by default: tfmot's ``PruneRegistry`` (Conv/Dense kernels, not biases or
  BatchNormalization).

Per training step the callback runs ONE compiled ``tf.function`` for all pruned tensors: it
advances the pruning step, recomputes the masks only on steps where the schedule asks for it
(tfmot's ``conditional_mask_update``, a single ``tf.cond``), and multiplies every weight by its
mask. It runs after each optimizer update, so the forward pass of every step sees masked weights
(as with tfmot's wrapper) and the weights are sparse between steps and after ``fit``.

The pruning state (step and masks) is a trackable object attached to the model as a checkpoint
dependency (``model._track_trackable``), not as a layer: ``tf.train.Checkpoint(model=model)``,
``model.save_weights`` in TF format and ``ModelCheckpoint`` save and restore it, while
``model.weights`` (and therefore h5 files, ``get_weights`` and ``set_weights``) is unchanged.
"""
from __future__ import annotations

import logging
import numbers
import os

import numpy as np

from pie_tf._keras import check_model, keras, tf

from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer
from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity

__all__ = ["PruneCallback", "clone_dense", "prunable_weights"]

_LOG = logging.getLogger(__name__)

# Name of the checkpoint dependency that holds the pruning state on the model.
STATE_NAME = "pie_tf_pruning"

# tfmot's (and Zhu & Gupta's) mask-update interval; shortened for short schedules (see
# ``_default_frequency``) so a short fit still gets several gradual steps.
_TFMOT_FREQUENCY = 100
_MIN_UPDATES = 10

_SCHEDULE_NAMES = ("polynomial_decay", "constant")


# --------------------------------------------------------------------------------------------
# Which weights are pruned
# --------------------------------------------------------------------------------------------

def _all_layers(model):
    """Every non-model layer of ``model``, nested models flattened, in model order."""
    return [layer for layer in model._flatten_layers(include_self=False, recursive=True)
            if not isinstance(layer, keras.Model)]


def _registry_weights(layer):
    """The weights tfmot's prune registry would prune in ``layer`` (without modifying it)."""
    if isinstance(layer, prunable_layer.PrunableLayer):
        return list(layer.get_prunable_weights())
    registry = prune_registry.PruneRegistry
    if not registry.supports(layer):
        return []
    # The registry's make_prunable would add a method to the user's layer object (a mutation the
    # user did not ask for), so read the same weight-name tables it reads instead.
    if registry._is_rnn_layer(layer):
        weights = []
        for cell in registry._get_rnn_cells(layer):
            if isinstance(cell, prunable_layer.PrunableLayer):
                weights.extend(cell.get_prunable_weights())
            else:
                weights.extend(getattr(cell, name)
                               for name in registry._RNN_CELLS_WEIGHTS_MAP[cell.__class__])
        return weights
    if registry._is_mha_layer(layer):
        weights = []
        for name in registry._weight_names(layer):
            pre, _, post = name.rpartition(".")
            weights.append(getattr(getattr(layer, pre), post))
        return weights
    return [getattr(layer, name) for name in registry._weight_names(layer)]


def prunable_weights(model, layers=None):
    """The weight variables that :class:`PruneCallback` prunes in ``model``.

    Parameters
    ----------
    model : tf_keras.Model
        A built Sequential or functional model.
    layers : None, iterable of str or tf_keras.layers.Layer, or callable, optional
        ``None``: what tfmot's prune registry selects (kernels of Conv/Dense-type layers, not
        biases, not BatchNormalization). An iterable of layer names or layer objects narrows to
        those layers, and widens to layers the registry skips (there, every trainable weight of
        rank >= 2 is pruned, e.g. a DepthwiseConv2D kernel). A callable ``f(layer, weight) ->
        bool`` is asked about every trainable weight of every layer.

    Returns
    -------
    list of (tf_keras.layers.Layer, tf.Variable)
        In model order; each variable appears once.
    """
    all_layers = _all_layers(model)
    selected = []
    if layers is None:
        for layer in all_layers:
            selected.extend((layer, w) for w in _registry_weights(layer))
    elif callable(layers):
        for layer in all_layers:
            selected.extend((layer, w) for w in layer.trainable_weights if layers(layer, w))
    else:
        if isinstance(layers, (str, keras.layers.Layer)):
            layers = [layers]
        by_name = {layer.name: layer for layer in all_layers}
        wanted = []
        for item in layers:
            if isinstance(item, str):
                if item not in by_name:
                    raise ValueError(f"`layers` names {item!r}, which is not a layer of the model; "
                                     f"layers are: {sorted(by_name)}.")
                wanted.append(by_name[item])
            elif isinstance(item, keras.layers.Layer) and any(item is l for l in all_layers):
                wanted.append(item)
            else:
                raise ValueError("`layers` must be None, a callable (layer, weight) -> bool, or "
                                 "layer names / layer objects of the model; got "
                                 f"{item!r}.")
        for layer in wanted:
            weights = _registry_weights(layer) or [
                w for w in layer.trainable_weights if w.shape.rank >= 2]
            if not weights:
                raise ValueError(f"`layers` names layer {layer.name!r} "
                                 f"({type(layer).__name__}), which has no weight of rank >= 2 "
                                 "to prune.")
            selected.extend((layer, w) for w in weights)
    seen, unique = set(), []
    for layer, weight in selected:
        if id(weight) not in seen:
            seen.add(id(weight))
            unique.append((layer, weight))
    return unique


# --------------------------------------------------------------------------------------------
# Helpers users call
# --------------------------------------------------------------------------------------------

def clone_dense(model):
    """An independent copy of ``model`` with the same weights (not compiled, no pruning state).

    :class:`PruneCallback` prunes the model it is given, in place. Keep the dense model first::

        dense = pie_tf.clone_dense(model)
        model.fit(ds, epochs=10, callbacks=[pie_tf.PruneCallback(0.9)])

    Parameters
    ----------
    model : tf_keras.Model
        A Sequential or functional model (built).

    Returns
    -------
    tf_keras.Model
        New layers and variables; the weights are copies, so training either model leaves the
        other unchanged. Compile it yourself to train or evaluate it.
    """
    check_model(model, "model")
    if not model.built:
        raise ValueError("`model` must be built (call it once or give it an Input) before "
                         "clone_dense can copy its weights.")
    with model.distribute_strategy.scope():
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
    return clone


def get_pruning_state(model):
    """The pruning state a :class:`PruneCallback` attached to ``model``, or ``None``."""
    return model._lookup_dependency(STATE_NAME)


class _PruningState(tf.Module):
    """Step, masks and thresholds of the pruned tensors of one model (a checkpoint dependency).

    ``step`` counts the training steps completed under pruning (as ``optimizer.iterations``
    does); the masks are those in force for step ``step + 1``.
    """

    def __init__(self, weights):
        super().__init__(name=STATE_NAME)
        self.weight_names = tuple(w.name for w in weights)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="pruning_step")
        # Masks start from the weights' current zeros, so a model pruned earlier (for instance
        # restored from an h5 file) keeps its zeros until the schedule first updates the masks;
        # for a dense model this is tfmot's all-ones start. A checkpoint restore overwrites them.
        self.masks = [tf.Variable(tf.cast(tf.not_equal(w, 0), w.dtype), trainable=False,
                                  name="mask") for w in weights]
        self.thresholds = [tf.Variable(tf.zeros([], w.dtype), trainable=False, name="threshold")
                           for w in weights]


# --------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------

def _is_step_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_fraction_or_step(value, argname):
    if _is_step_count(value):
        if value < 0:
            raise ValueError(f"`{argname}` as a step count must be >= 0; got {value}.")
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"`{argname}` as a fraction of training must be in [0, 1]; got "
                             f"{value}. Pass an int for a step count.")
    else:
        raise TypeError(f"`{argname}` must be a float fraction of training in [0, 1] or an int "
                        f"step count; got {value!r}.")


def _pair_of_positive_ints(value, argname):
    try:
        pair = tuple(int(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or any(v <= 0 for v in pair) or any(
            isinstance(v, bool) or not _is_step_count(v) for v in value):
        raise ValueError(f"`{argname}` must be a pair of positive ints; got {value!r}.")
    return pair


def _default_frequency(span):
    """tfmot's 100 steps, but at least ``_MIN_UPDATES`` updates over a short schedule."""
    return int(max(1, min(_TFMOT_FREQUENCY, span // _MIN_UPDATES)))


class PruneCallback(keras.callbacks.Callback):
    """Magnitude-prune a plain tf_keras model while it trains.

    ``model.fit(ds, epochs=10, callbacks=[PruneCallback(0.9)])`` prunes the model passed to
    ``fit`` **in place**: after ``fit`` it is an ordinary model whose pruned weights are zero
    (no wrapper layers, nothing to strip). Use :func:`clone_dense` first to keep the dense model.

    Parameters
    ----------
    target_sparsity : float
        Fraction of each pruned weight tensor set to zero at the end of the schedule, in [0, 1).
        Each tensor ends with ``round(size * target_sparsity)`` zeros (tfmot's rounding).
    schedule : None, {"polynomial_decay", "constant"} or tfmot PruningSchedule, optional
        ``None`` / ``"polynomial_decay"``: ``tfmot.sparsity.keras.PolynomialDecay`` from 0 to
        ``target_sparsity`` with exponent 3 (Zhu & Gupta 2017, the schedule of Hooker et al.)
        between ``begin`` and ``end``. ``"constant"``: ``ConstantSparsity(target_sparsity)``
        applied every ``frequency`` steps between ``begin`` and ``end``. A ``PruningSchedule``
        instance (built-in or a user subclass) is used as given, its steps counted from the
        first step of training (step 1); then ``begin``, ``end`` and ``frequency`` must be left
        unset, and the schedule must reach ``target_sparsity`` within the training.
    begin, end : float or int, optional
        Where pruning starts and ends: a float is a fraction of the training this callback is
        attached to (``epochs * steps_per_epoch`` of the first ``fit``), an int a step count.
        Defaults 0.0 and 1.0 (the whole fit). ``end`` is moved down to the last mask update
        (``begin + k * frequency``), so the target sparsity is reached exactly. An ``end``
        past the training is an error (rather than clamping, which would silently never reach
        the target sparsity).
    frequency : int, optional
        Steps between mask updates. Default: tfmot's 100, reduced to ``span // 10`` (at least
        1) for schedules shorter than 1,000 steps, so short fits still prune gradually.
    m_by_n : tuple of int, optional
        Structured sparsity, e.g. ``(2, 4)``: ``m`` zeros in every ``n`` consecutive input
        channels (tfmot's m-by-n masks, computed once, at the first step, as tfmot does).
        ``target_sparsity`` must equal ``m / n``. Weights must be rank 2 or 4 with an input
        dimension divisible by ``n``.
    block_size : tuple of int, optional
        Block sparsity ``(height, width)`` for rank-2 (Dense) kernels (tfmot's block masks);
        select only such weights with ``layers=``.
    block_pooling_type : {"AVG", "MAX"}
        How a block's magnitude is pooled (tfmot's option). Default ``"AVG"``.
    layers : optional
        Which weights to prune; see :func:`prunable_weights`. Default: tfmot's prune registry.
    log_dir : str, optional
        If given, per-tensor sparsity (from the masks) and the scheduled sparsity are written to
        ``log_dir/pruning`` as TensorBoard scalars at every epoch end.

    Notes
    -----
    * The pruning step and masks live on the model as a checkpoint dependency named
      ``"pie_tf_pruning"``: ``tf.train.Checkpoint(model=model)``, ``model.save_weights`` (TF
      format) and ``ModelCheckpoint(save_weights_only=True)`` save them; ``model.weights`` is
      unchanged. To resume, restore the checkpoint into the model, then call ``fit`` with the
      same ``epochs`` and ``initial_epoch`` and a ``PruneCallback`` with the same arguments.
    * A later ``fit`` with the same callback continues the step count: once the schedule has
      ended the masks stay fixed and pruned weights stay zero. A *new* callback with
      ``initial_epoch=0`` starts a new schedule.
    * ``steps_per_execution`` must be 1: Keras calls callbacks once per execution, and masking
      only every k-th step would let pruned weights take part in the steps in between.
    * Under ``tf.distribute.MirroredStrategy`` the masks are mirrored variables updated in
      cross-replica context; build and compile the model in ``strategy.scope()`` as usual.
    """

    def __init__(self, target_sparsity, *, schedule=None, begin=None, end=None, frequency=None,
                 m_by_n=None, block_size=None, block_pooling_type="AVG", layers=None,
                 log_dir=None):
        super().__init__()
        if (isinstance(target_sparsity, bool) or not isinstance(target_sparsity, numbers.Real)
                or not 0.0 <= float(target_sparsity) < 1.0):
            raise ValueError(f"`target_sparsity` must be in range [0, 1); got {target_sparsity!r}.")
        self.target_sparsity = float(target_sparsity)

        if isinstance(schedule, tfmot_sparsity.PruningSchedule):
            given = [n for n, v in (("begin", begin), ("end", end), ("frequency", frequency))
                     if v is not None]
            if given:
                names = ", ".join(f"`{n}`" for n in given)
                raise ValueError(f"{names} cannot be combined with a "
                                 "PruningSchedule instance as `schedule`; set its steps in the "
                                 "schedule itself.")
        elif schedule is not None and schedule not in _SCHEDULE_NAMES:
            raise ValueError(f"`schedule` must be None, one of {list(_SCHEDULE_NAMES)} or a "
                             "tfmot.sparsity.keras.PruningSchedule instance; got "
                             f"{schedule!r}.")
        self.schedule = schedule
        self.begin = 0.0 if begin is None else begin
        self.end = 1.0 if end is None else end
        _check_fraction_or_step(self.begin, "begin")
        _check_fraction_or_step(self.end, "end")
        if frequency is not None and (not _is_step_count(frequency) or frequency < 1):
            raise ValueError(f"`frequency` must be a positive int (steps); got {frequency!r}.")
        self.frequency = frequency

        self.m_by_n = None if m_by_n is None else _pair_of_positive_ints(m_by_n, "m_by_n")
        if self.m_by_n is not None:
            m, n = self.m_by_n
            if m >= n:
                raise ValueError(f"`m_by_n` = {m_by_n!r}: m (zeros) must be smaller than n.")
            if abs(self.target_sparsity - m / n) > 1e-9:
                raise ValueError(f"with `m_by_n`={self.m_by_n} the sparsity is m/n = {m / n:g}; "
                                 f"pass target_sparsity={m / n:g} (got {self.target_sparsity:g}).")
            if block_size is not None:
                raise ValueError("`m_by_n` and `block_size` cannot be combined; pass one.")
        self.block_size = (None if block_size is None
                           else _pair_of_positive_ints(block_size, "block_size"))
        if block_pooling_type not in ("AVG", "MAX"):
            raise ValueError(f"`block_pooling_type` must be 'AVG' or 'MAX'; got "
                             f"{block_pooling_type!r}.")
        self.block_pooling_type = block_pooling_type
        if layers is not None and not (callable(layers) or isinstance(
                layers, (str, keras.layers.Layer)) or np.iterable(layers)):
            raise TypeError(f"`layers` must be None, a callable, or layer names/objects; got "
                            f"{layers!r}.")
        self.layers = layers
        if log_dir is not None and (not isinstance(log_dir, (str, os.PathLike)) or not
                                    str(log_dir)):
            raise ValueError(f"`log_dir` must be a non-empty path; got {log_dir!r}.")
        self.log_dir = None if log_dir is None else os.fspath(log_dir)

        # Required so Keras does not copy logs to numpy (a device sync) after every batch.
        self._supports_tf_logs = True
        self._resolved_schedule = None   # (schedule, begin_step, end_step) from the first fit
        self._state = None
        self._weights = None
        self._pruning = None
        self._sync_fn = None
        self._writer = None
        self._first_epoch_of_fit = False
        self._is_new_run = False

    # -- keras hooks -------------------------------------------------------------------------

    def set_model(self, model):
        check_model(model, "model")
        super().set_model(model)

    def on_train_begin(self, logs=None):
        model = self.model
        check_model(model, "model")
        spe = getattr(model, "_steps_per_execution", None)
        if spe is not None and int(spe.numpy()) != 1:
            raise ValueError(
                f"PruneCallback needs `steps_per_execution=1` in model.compile (got "
                f"{int(spe.numpy())}): callbacks run once per execution, so pruned weights would "
                "take part in the steps in between.")
        self._setup_weights(model)
        self._resolve_schedule()
        self._setup_state(model)
        self._first_epoch_of_fit = True

    def on_epoch_begin(self, epoch, logs=None):
        if not self._first_epoch_of_fit:
            return
        self._first_epoch_of_fit = False
        state = self._state
        if epoch > 0 or self._is_new_run:
            # Resume (initial_epoch > 0) or a new schedule: the step is where Keras says
            # training is; a restored checkpoint holds the same value.
            steps = self.params.get("steps")
            if epoch > 0 and not steps:
                raise ValueError("PruneCallback cannot resume at `initial_epoch` > 0 without "
                                 "knowing the steps per epoch; pass `steps_per_epoch` to fit.")
            state.step.assign(epoch * (steps or 0))
        self._is_new_run = False
        self._sync_fn(tf.constant(False))

    def on_train_batch_end(self, batch, logs=None):
        self._sync_fn(tf.constant(True))

    def on_epoch_end(self, epoch, logs=None):
        if self._writer is None:
            return
        step = int(self._state.step.numpy())
        schedule = self._resolved_schedule[0]
        with self._writer.as_default(step=step):
            tf.summary.scalar("pruning/scheduled_sparsity",
                              float(schedule(tf.constant(max(step, 1), tf.int64))[1]))
            for name, mask in zip(self._state.weight_names, self._state.masks):
                tf.summary.scalar(f"pruning/sparsity/{name.split(':')[0]}",
                                  1.0 - float(tf.reduce_mean(mask)))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()

    # -- set-up --------------------------------------------------------------------------------

    def _setup_weights(self, model):
        pairs = prunable_weights(model, self.layers)
        if not pairs:
            raise ValueError(
                "`model` has no prunable weights: tfmot's prune registry selects kernels of "
                "Conv/Dense-type layers (and `layers=` selects explicitly); this model has "
                f"layers {[type(l).__name__ for l in _all_layers(model)]}.")
        weights = [w for _, w in pairs]
        if self.m_by_n is not None:
            n = self.m_by_n[1]
            bad = [w.name for w in weights
                   if w.shape.rank not in (2, 4) or w.shape[-2 if w.shape.rank == 4 else 0] % n]
            if bad:
                raise ValueError(
                    f"`m_by_n`={self.m_by_n} needs rank-2 or rank-4 weights whose input dimension "
                    f"is divisible by {n}; these cannot take it: {bad}. Exclude them with "
                    "`layers=`.")
        if self.block_size is not None:
            bad = [w.name for w in weights if w.shape.rank != 2]
            if bad:
                raise ValueError(
                    f"`block_size`={self.block_size} applies to rank-2 (Dense) kernels only "
                    f"(tfmot's block sparsity); these cannot take it: {bad}. Select Dense layers "
                    "with `layers=`.")
            bad = [w.name for w in weights
                   if w.shape[0] < self.block_size[0] or w.shape[1] < self.block_size[1]]
            if bad:
                raise ValueError(f"`block_size`={self.block_size} is larger than these weights: "
                                 f"{bad}.")
        self._weights = weights

    def _resolve_schedule(self):
        """Turn begin/end/frequency into a tfmot schedule for this training (first fit only)."""
        if self._resolved_schedule is not None:
            return
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        total = int(epochs) * int(steps) if epochs and steps else None
        if isinstance(self.schedule, tfmot_sparsity.PruningSchedule):
            schedule = self.schedule
            self._check_given_schedule(schedule, total)
            self._resolved_schedule = (schedule, getattr(schedule, "begin_step", None),
                                       getattr(schedule, "end_step", None))
            return

        def to_step(value, argname):
            if _is_step_count(value):
                return int(value)
            if total is None:
                raise ValueError(f"`{argname}`={value} is a fraction of training, but this fit "
                                 "does not say how many steps it runs; pass `steps_per_epoch` "
                                 f"to fit or give `{argname}` as an int step count.")
            return int(round(float(value) * total))

        begin_step, end_step = to_step(self.begin, "begin"), to_step(self.end, "end")
        if total is not None and end_step > total:
            raise ValueError(f"`end`={self.end} lies past the training this callback is attached "
                             f"to ({total} steps = {epochs} epochs x {steps} steps); pass an end "
                             f"<= {total} (or a fraction <= 1.0).")
        if end_step <= begin_step:
            raise ValueError(f"`end` ({self.end} -> step {end_step}) must come after `begin` "
                             f"({self.begin} -> step {begin_step}).")
        frequency = self.frequency or _default_frequency(end_step - begin_step)
        aligned_end = begin_step + (end_step - begin_step) // frequency * frequency
        if aligned_end <= begin_step:
            raise ValueError(f"`frequency`={frequency} is longer than the pruning span "
                             f"({begin_step}..{end_step}); no mask update would happen.")
        if aligned_end != end_step and (_is_step_count(self.end) or self.frequency):
            _LOG.warning("PruneCallback: end step %d moved to %d, the last mask update with "
                         "frequency %d, so the target sparsity is reached.", end_step,
                         aligned_end, frequency)
        if self.schedule == "constant":
            schedule = tfmot_sparsity.ConstantSparsity(
                self.target_sparsity, begin_step=begin_step, end_step=aligned_end,
                frequency=frequency)
        else:
            schedule = tfmot_sparsity.PolynomialDecay(
                initial_sparsity=0.0, final_sparsity=self.target_sparsity,
                begin_step=begin_step, end_step=aligned_end, power=3, frequency=frequency)
        self._resolved_schedule = (schedule, begin_step, aligned_end)

    def _check_given_schedule(self, schedule, total):
        if self.m_by_n is not None:
            return
        end = getattr(schedule, "end_step", None)
        if total is None:
            return
        if isinstance(end, numbers.Integral) and end > total:
            raise ValueError(f"`schedule` ends at step {end}, past the training this callback is "
                             f"attached to ({total} steps); build it with end_step <= {total}.")
        # Evaluate the schedule over every step of training at once (schedules are elementwise
        # tf functions of the step) and check that its last update reaches the target.
        steps = tf.range(1, total + 1, dtype=tf.int64)
        should, sparsity = schedule(steps)
        should = np.broadcast_to(np.asarray(should), (total,))
        sparsity = np.broadcast_to(np.asarray(sparsity, dtype=np.float64), (total,))
        updates = np.flatnonzero(should)
        reached = None if updates.size == 0 else float(sparsity[updates[-1]])
        if reached is None or abs(reached - self.target_sparsity) > 1e-6:
            raise ValueError(
                f"`schedule` ({type(schedule).__name__}) does not reach target_sparsity="
                f"{self.target_sparsity:g} at its last mask update within the {total} training "
                f"steps (it reaches {reached}); make its final sparsity the target and its last "
                "update step <= the training length.")

    def _setup_state(self, model):
        state = get_pruning_state(model)
        names = tuple(w.name for w in self._weights)
        shapes_match = state is not None and tuple(state.weight_names) == names and all(
            m.shape == w.shape for m, w in zip(state.masks, self._weights))
        if shapes_match and state is self._state:
            self._is_new_run = False      # a later fit with the same callback: continue
        else:
            with model.distribute_strategy.scope():
                state = _PruningState(self._weights)
            # A checkpoint restored into the model before this fit (model.load_weights,
            # tf.train.Checkpoint(model=...).restore) restores the state here, on attachment.
            model._track_trackable(state, name=STATE_NAME, overwrite=True)
            self._state = state
            self._is_new_run = True
        if self._is_new_run or self._sync_fn is None:
            self._build_sync(state)
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "pruning"))

    def _build_sync(self, state):
        """tfmot's Pruning over all (weight, mask, threshold) triples, and the compiled step."""
        self._pruning = pruning_impl.Pruning(
            training_step_fn=lambda: state.step + 1,
            pruning_vars=list(zip(self._weights, state.masks, state.thresholds)),
            pruning_schedule=self._resolved_schedule[0],
            block_size=self.block_size or (1, 1),
            block_pooling_type=self.block_pooling_type,
            sparsity_m_by_n=self.m_by_n)
        # Traced once per state; later fits with the same callback reuse the graph.
        self._sync_fn = tf.function(self._sync)

    def _sync(self, advance):
        """One compiled step for all pruned tensors: advance, maybe re-mask, apply the masks."""
        state = self._state
        step = tf.cond(advance, lambda: state.step.assign_add(1),
                       lambda: tf.identity(state.step))
        with tf.control_dependencies([step]):
            # tfmot's own tf.cond on the schedule (or on step 1 for m-by-n masks).
            update = self._pruning.conditional_mask_update()
        with tf.control_dependencies([update]):
            for weight, mask in zip(self._weights, state.masks):
                weight.assign(weight * mask)
        return step
