"""Magnitude pruning of a plain Keras 3 or tf_keras model during ``fit``: :class:`PruneCallback`.

The user keeps an ordinary Sequential or functional model; nothing is wrapped. The callback holds,
for every pruned weight tensor, a mask and a threshold variable (as tfmot's ``PruneLowMagnitude``
wrapper does) and drives tfmot's own machinery with them:

* when and how much: a ``tfmot.sparsity.keras.PruningSchedule`` (``PolynomialDecay`` with
  exponent 3 by default: Zhu & Gupta's gradual pruning, as used by Hooker et al.);
* which entries: tfmot's ``pruning_impl.Pruning`` (magnitude masks, block and m-by-n masks;
  :mod:`pie_tf.compress.masks` reads big tensors' thresholds without sorting them whole);
* which weights by default: tfmot's ``PruneRegistry`` (Conv/Dense kernels, not biases or
  BatchNormalization).

Per training step the callback runs ONE compiled ``tf.function`` for all pruned tensors: it
advances the pruning step, recomputes the masks only on steps where the schedule asks for it
(tfmot's ``conditional_mask_update``, a single ``tf.cond``), and multiplies every weight by its
mask. It runs after each optimizer update, so the forward pass of every step sees masked weights
(as with tfmot's wrapper) and the weights are sparse between steps and after ``fit``.

Keras 3 models (TensorFlow backend) take the same path: tfmot's schedules and ``Pruning`` run on
the ``tf.Variable`` behind each Keras 3 kernel (``kernel.value``); tfmot's prune registry, keyed
by tf_keras classes, is read for the Keras 3 layer class of the same name.

The pruning state (step and masks) is a trackable object attached to the model, not as a layer:
``model.weights`` (and therefore ``get_weights`` and ``set_weights``) is unchanged. On tf_keras it
is a checkpoint dependency (``model._track_trackable``): ``tf.train.Checkpoint(model=model)``,
``model.save_weights`` in TF format and ``ModelCheckpoint`` save and restore it (h5 files hold
the plain weights). On Keras 3 it is also an attribute Keras's own saving visits
(``_pie_tf_pruning``): ``.keras`` files, ``.weights.h5`` files and ``ModelCheckpoint`` save it,
and loading into a model that carries a state restores it.
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

from pie_tf._keras import (KERAS3, Callback, KerasSaveable, callback_classes, check_model,
                           flavour, is_model, keras, keras3, keras_of, tf, tf_variable,
                           weight_name)
from pie_tf._tfmot import (prunable_layer, prune_registry, pruning_wrapper, quantize_wrapper,
                           tfmot_sparsity)
from pie_tf.compress.masks import SelectingPruning
from pie_tf.compress.schedule import (SCHEDULE_NAMES, check_fraction_or_step, is_step_count,
                                      resolve_schedule)
from pie_tf.errors import IncompletePruningError, InvalidArgumentError, PruningWarning

__all__ = ["PruneCallback", "clone_dense", "prunable_weights", "pruning_wrapped_layers",
           "get_pruning_state"]

# Name of the checkpoint dependency that holds the pruning state on the model.
STATE_NAME = "pie_tf_pruning"
# The attribute of a Keras 3 model that holds it (visited by Keras 3's saving).
STATE_ATTR = "_pie_tf_pruning"


# --------------------------------------------------------------------------------------------
# Which weights are pruned
# --------------------------------------------------------------------------------------------

def _all_layers(model):
    """Every non-model layer of ``model``, nested models flattened, in model order.

    The layer inside a tfmot ``QuantizeWrapper`` (a QAT model) is left out: the wrapper owns its
    float weights, and the inner layer's attributes hold quantized tensors of the last trace.
    """
    layers = [layer for layer in model._flatten_layers(include_self=False, recursive=True)
              if not is_model(layer)]
    wrapped = {id(layer.layer) for layer in layers
               if isinstance(layer, quantize_wrapper.QuantizeWrapper)}
    return [layer for layer in layers if id(layer) not in wrapped]


def _quantized_layer_weights(wrapper):
    """The float variables of a QAT ``QuantizeWrapper`` that the registry would prune."""
    names = [name.rpartition(".")[2] for name in
             _registry_weight_names(wrapper.layer)]
    by_name = {w.name.rpartition("/")[2].split(":")[0]: w for w, _, _ in wrapper._weight_vars}
    return [by_name[name] for name in names if name in by_name]


def _registry_weight_names(layer):
    registry = prune_registry.PruneRegistry
    if not registry.supports(layer) or registry._is_rnn_layer(layer):
        return []
    return list(registry._weight_names(layer))


def _keras3_registry_names(layer):
    """tfmot's registry entry for a Keras 3 layer: that of the tf_keras class of the same name.

    tfmot keys its table by tf_keras classes; a Keras 3 built-in layer (exactly, as tfmot
    matches exact classes) is looked up under its tf_keras twin. None: not in the table.
    """
    name = type(layer).__name__
    if getattr(keras3().layers, name, None) is not type(layer):
        return None
    twin = getattr(keras.layers, name, None)
    table = prune_registry.PruneRegistry._LAYERS_WEIGHTS_MAP
    if twin not in table:
        return None
    return [n for n in table[twin] if getattr(layer, n, None) is not None]


def _registry_weights(layer):
    """The weights tfmot's prune registry would prune in ``layer`` (without modifying it)."""
    if isinstance(layer, quantize_wrapper.QuantizeWrapper):
        return _quantized_layer_weights(layer)
    if isinstance(layer, prunable_layer.PrunableLayer):
        return list(layer.get_prunable_weights())
    if flavour(layer) == KERAS3:
        # RNN cells and MultiHeadAttention: not in the table for Keras 3; select with `layers=`.
        return [getattr(layer, n) for n in _keras3_registry_names(layer) or ()]
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
    model : keras.Model or tf_keras.Model
        A built Sequential or functional model.
    layers : None, iterable of str or Layer, or callable, optional
        ``None``: what tfmot's prune registry selects (kernels of Conv/Dense-type layers, not
        biases, not BatchNormalization). An iterable of layer names or layer objects narrows to
        those layers, and widens to layers the registry skips (there, every trainable weight of
        rank >= 2 is pruned, e.g. a DepthwiseConv2D kernel). A callable ``f(layer, weight) ->
        bool`` is asked about every trainable weight of every layer.

    Returns
    -------
    list of (Layer, variable)
        In model order; each variable appears once (Keras 3: a ``keras.Variable``, whose
        ``.value`` is the ``tf.Variable`` the masks act on).
    """
    all_layers = _all_layers(model)
    layer_class = keras_of(model).layers.Layer
    selected = []
    if layers is None:
        for layer in all_layers:
            selected.extend((layer, w) for w in _registry_weights(layer))
    elif callable(layers):
        for layer in all_layers:
            selected.extend((layer, w) for w in layer.trainable_weights if layers(layer, w))
    else:
        if isinstance(layers, (str, layer_class)):
            layers = [layers]
        by_name = {layer.name: layer for layer in all_layers}
        wanted = []
        for item in layers:
            if isinstance(item, str):
                if item not in by_name:
                    raise ValueError(f"`layers` names {item!r}, which is not a layer of the model; "
                                     f"layers are: {sorted(by_name)}.")
                wanted.append(by_name[item])
            elif isinstance(item, layer_class) and any(item is x for x in all_layers):
                wanted.append(item)
            else:
                raise ValueError("`layers` must be None, a callable (layer, weight) -> bool, or "
                                 "layer names / layer objects of the model; got "
                                 f"{item!r}.")
        for layer in wanted:
            weights = _registry_weights(layer) or [
                w for w in layer.trainable_weights if len(w.shape) >= 2]
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
    model : keras.Model or tf_keras.Model
        A Sequential or functional model (built).

    Returns
    -------
    keras.Model or tf_keras.Model
        Of the same Keras as ``model``. New layers and variables; the weights are copies, so
        training either model leaves the other unchanged. Compile it yourself to train or
        evaluate it.
    """
    check_model(model, "model", allow_keras3=True)
    if not model.built:
        raise ValueError("`model` must be built (call it once or give it an Input) before "
                         "clone_dense can copy its weights.")
    with model.distribute_strategy.scope():
        clone = keras_of(model).models.clone_model(model)
        clone.set_weights(model.get_weights())
    return clone


def pruning_wrapped_layers(model):
    """Names of the layers of ``model`` (nested models included) that still carry tfmot's
    pruning wrapper (``PruneLowMagnitude``), in model order; empty for a stripped model."""
    return [layer.name for layer in _all_layers(model)
            if isinstance(layer, pruning_wrapper.PruneLowMagnitude)]


def get_pruning_state(model):
    """The pruning state a :class:`PruneCallback` attached to ``model``, or ``None``."""
    if flavour(model) == KERAS3:
        return getattr(model, STATE_ATTR, None)
    return model._lookup_dependency(STATE_NAME)


def _attach(model, state):
    if flavour(model) == KERAS3:
        setattr(model, STATE_ATTR, state)
    else:
        model._track_trackable(state, name=STATE_NAME, overwrite=True)


def _nonzero(weight):
    """``weight``'s current non-zeros as a mask (all ones where the tensor is entirely zero)."""
    keep = tf.not_equal(weight, 0)
    # An entirely zero tensor (a zero-initialised head, say) has nothing pruned in it: treating
    # its zeros as pruned would freeze it at zero for good.
    return tf.logical_or(keep, tf.logical_not(tf.reduce_any(keep)))


class _PruningState(tf.Module, KerasSaveable):
    """Step, masks and thresholds of the pruned tensors of one model (a checkpoint dependency).

    ``step`` counts the training steps completed under this schedule (0 before its first step);
    the masks are those in force for step ``step + 1``. ``keep`` is the floor under the masks:
    the weights that were non-zero when the schedule started (so a model pruned before keeps its
    zeros), lowered to the target masks if training ended before the schedule did.
    ``total_steps`` is the length of training the schedule's fractions refer to (-1: unknown),
    so a resumed fit rebuilds the same schedule.

    On a Keras 3 model Keras's own saving (``.keras``, ``.weights.h5``, ``ModelCheckpoint``)
    writes and reads the state through ``save_own_variables`` / ``load_own_variables``.
    """

    # A freshly made state holds step -1 until it is either restored from a checkpoint (which
    # writes the saved step) or started: that is how the callback tells a resume from a new run.
    _UNSET = -1

    def __init__(self, weights, names=None):
        super().__init__(name=STATE_NAME)
        self.weight_names = tuple(names or (w.name for w in weights))
        self.step = tf.Variable(self._UNSET, dtype=tf.int64, trainable=False,
                                name="pruning_step")
        self.total_steps = tf.Variable(self._UNSET, dtype=tf.int64, trainable=False,
                                       name="total_steps")
        self.keep = [tf.Variable(_nonzero(w), trainable=False, name="keep") for w in weights]
        # Masks start at the floor: for a dense model tfmot's all-ones start; for a pruned one
        # (for instance restored from an h5 file) its zeros. A checkpoint restore overwrites them.
        self.masks = [tf.Variable(tf.cast(k, w.dtype), trainable=False, name="mask")
                      for k, w in zip(self.keep, weights)]
        self.thresholds = [tf.Variable(tf.zeros([], w.dtype), trainable=False, name="threshold")
                           for w in weights]

    def restart(self, weights, total_steps):
        """Start a new schedule here: step 0, masks and floor from the weights' current zeros."""
        self.step.assign(0)
        self.total_steps.assign(self._UNSET if total_steps is None else total_steps)
        for weight, keep, mask in zip(weights, self.keep, self.masks):
            keep.assign(_nonzero(weight))
            mask.assign(tf.cast(keep, mask.dtype))

    # -- Keras 3 saving ------------------------------------------------------------------------

    def _obj_type(self):
        # Keras's saving accepts a fixed set of types; "Loss" is the plain one (no children).
        return "Loss"

    def _saved(self):
        return ([("step", self.step), ("total_steps", self.total_steps)]
                + [(f"keep_{i}", v) for i, v in enumerate(self.keep)]
                + [(f"mask_{i}", v) for i, v in enumerate(self.masks)]
                + [(f"threshold_{i}", v) for i, v in enumerate(self.thresholds)])

    def save_own_variables(self, store):
        for key, variable in self._saved():
            value = variable.numpy()
            store[key] = value.astype(np.uint8) if value.dtype == bool else value

    def load_own_variables(self, store):
        if not len(store):             # a file saved before pruning started: nothing to restore
            return
        saved = self._saved()
        missing = [key for key, _ in saved if key not in store]
        bad = [key for key, v in saved if key in store and tuple(store[key].shape) != tuple(
            v.shape)]
        if missing or bad or len(store) != len(saved):
            raise ValueError(
                f"The pruning state in this file does not fit the {len(self.masks)} pruned "
                f"tensors of the model ({', '.join(self.weight_names[:4])} ...): missing "
                f"{missing[:4]}, other shapes {bad[:4]}, {len(store)} entries for "
                f"{len(saved)}. Was it saved from a model pruned with other `layers=`?")
        for key, variable in saved:
            variable.assign(np.asarray(store[key]).astype(variable.dtype.as_numpy_dtype))

    def mask_sparsity(self):
        """Fraction of zeros over all masks (what the pruned tensors hold after the next step)."""
        zeros = sum(float(tf.size(m, tf.float64)) - float(tf.reduce_sum(tf.cast(m, tf.float64)))
                    for m in self.masks)
        return zeros / max(sum(int(tf.size(m)) for m in self.masks), 1)


class _FlooredPruning(SelectingPruning):
    """tfmot's mask arithmetic, never un-pruning a weight that is below the floor ``keep``.

    tfmot recomputes a mask by magnitude alone, so a model pruned earlier would get its zeros
    back at the first update of a new, lower sparsity. Here the magnitude is taken of
    ``weight * keep`` (the floor's zeros are the smallest magnitudes, so tfmot's top-k prunes
    them first and its counts stay exact) and the result is multiplied by ``keep`` (so a
    sparsity below the floor's leaves the floor in force). With an all-ones floor (a dense start)
    this is tfmot's own update.
    """

    def __init__(self, *args, keep, **kwargs):
        super().__init__(*args, **kwargs)
        self._keep = {id(weight): k for (weight, _, _), k in zip(self._pruning_vars, keep)}

    def _maybe_update_block_mask(self, weights):
        keep = tf.cast(self._keep[id(weights)], weights.dtype)
        threshold, mask = super()._maybe_update_block_mask(weights * keep)
        return threshold, mask * keep


def _sibling_callbacks(callback):
    """The other callbacks of the ``fit`` that is calling ``callback``, or ``None``.

    Keras hands a callback no reference to its siblings, yet what PruneCallback must do at the
    end of training depends on them (EarlyStopping(restore_best_weights=True) replaces the
    weights after the last step). Both Keras flavours call a hook from a ``CallbackList`` method,
    so the list is found on the calling frames.
    """
    frame = sys._getframe(1)
    for _ in range(4):
        frame = frame.f_back
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        siblings = getattr(owner, "callbacks", None)
        if isinstance(siblings, list) and any(c is callback for c in siblings):
            return siblings
    return None


# --------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------

def _is_layer(obj):
    return flavour(obj) is not None


def _pair_of_positive_ints(value, argname):
    try:
        pair = tuple(int(v) for v in value)
    except TypeError:
        pair = ()
    if len(pair) != 2 or any(v <= 0 for v in pair) or any(
            isinstance(v, bool) or not is_step_count(v) for v in value):
        raise ValueError(f"`{argname}` must be a pair of positive ints; got {value!r}.")
    return pair


def _plural(n, word):
    return f"{n} {word}" + ("" if n == 1 else "s")


INCOMPLETE_CHOICES = ("finish", "warn", "raise")


class PruneCallback(Callback):
    """Magnitude-prune a plain Keras 3 or tf_keras model while it trains.

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
        first step of the schedule's training (step 1); then ``begin``, ``end`` and
        ``frequency`` must be left unset, and the schedule must reach ``target_sparsity``
        within the training.
    begin, end : float or int, optional
        Where pruning starts and ends: a float is a fraction of the training this callback is
        attached to (the steps its first ``fit`` runs: ``(epochs - initial_epoch) *
        steps_per_epoch``), an int a step count from its first step. Defaults 0.0 and 1.0 (the
        whole fit). ``end`` is moved down to the last mask update (``begin + k * frequency``),
        so the target sparsity is reached exactly. An ``end`` past the training is an error
        (rather than clamping, which would silently never reach the target sparsity).
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
    prune_frozen : bool or None, optional
        Whether weights of frozen layers (``trainable=False``, e.g. a transfer-learning
        backbone) are pruned. ``None`` (default): they are, as tfmot prunes them, with a warning
        that names them (they cannot retrain around their pruned weights) unless ``layers``
        chose them; ``True``: they are, silently; ``False``: they are left dense.
    if_incomplete : {"finish", "warn", "raise"}
        What happens when training ends before the schedule does (EarlyStopping, a dataset
        that runs out, an int ``end`` past the steps the data holds). ``"finish"`` (default):
        the masks are completed to ``target_sparsity`` in one step at the end of training and a
        :class:`pie_tf.errors.PruningWarning` gives the sparsity reached, the target and the
        fix; ``"warn"``: the model is left at the sparsity reached, with the same warning;
        ``"raise"``: :class:`pie_tf.errors.IncompletePruningError` (the model is left at the
        sparsity reached).
    log_dir : str, optional
        If given, per-tensor sparsity (from the masks) and the scheduled sparsity are written to
        ``log_dir/pruning`` as TensorBoard scalars at every epoch end.

    Notes
    -----
    * Either Keras: a Keras 3 model (``import keras``, TensorFlow backend) or a tf_keras one.
      The callback is a ``keras.callbacks.Callback`` of both.
    * tf_keras: the pruning step and masks live on the model as a checkpoint dependency named
      ``"pie_tf_pruning"``: ``tf.train.Checkpoint(model=model)``, ``model.save_weights`` (TF
      format) and ``ModelCheckpoint(save_weights_only=True)`` save them; ``model.weights`` is
      unchanged. To resume, restore the checkpoint into the model, then call ``fit`` with the
      same ``epochs`` and an ``initial_epoch`` > 0 and a ``PruneCallback`` with the same
      arguments. ``initial_epoch`` > 0 without a restored checkpoint starts a new schedule over
      the steps that fit runs (with a warning), never a jump into the middle of one.
    * Keras 3: they live in the model's attribute ``_pie_tf_pruning``, which ``model.save``
      (``.keras``), ``model.save_weights`` (``.weights.h5``) and ``ModelCheckpoint`` write.
      A load restores them into a model that carries a state: ``fit`` attaches one when it hands
      the model to the callback (so ``keras.callbacks.BackupAndRestore`` resumes as it is), and
      so does ``callback.set_model(model)``: to resume by hand, ``cb.set_model(model)``, then
      ``model.load_weights(path)``, then ``fit(..., initial_epoch=k, callbacks=[cb])``.
    * A later ``fit`` with the same callback continues the step count: once the schedule has
      ended the masks stay fixed and pruned weights stay zero. A *new* callback with
      ``initial_epoch=0`` starts a new schedule, from the model's current zeros: weights that
      are zero when it starts stay zero.
    * At the end of training the masks are applied once more, after every other callback: the
      weights EarlyStopping(restore_best_weights=True) restores are pruned too (with a warning
      when they came from an epoch before the schedule ended).
    * ``steps_per_execution`` must be 1: Keras calls callbacks once per execution, and masking
      only every k-th step would let pruned weights take part in the steps in between.
    * Under ``tf.distribute.MirroredStrategy`` the masks are mirrored variables updated in
      cross-replica context; build and compile the model in ``strategy.scope()`` as usual.
    * A model built on its first batch (a Sequential without ``Input``) gets its masks after
      that batch: the first step runs on the weights as initialised.
    """

    def __init__(self, target_sparsity, *, schedule=None, begin=None, end=None, frequency=None,
                 m_by_n=None, block_size=None, block_pooling_type="AVG", layers=None,
                 prune_frozen=None, if_incomplete="finish", log_dir=None):
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
        elif schedule is not None and schedule not in SCHEDULE_NAMES:
            raise ValueError(f"`schedule` must be None, one of {list(SCHEDULE_NAMES)} or a "
                             "tfmot.sparsity.keras.PruningSchedule instance; got "
                             f"{schedule!r}.")
        self.schedule = schedule
        for value, argname in ((begin, "begin"), (end, "end")):
            if value is not None:
                check_fraction_or_step(value, argname)
        first, last = (0.0 if begin is None else begin), (1.0 if end is None else end)
        if is_step_count(first) == is_step_count(last) and last <= first:
            # both fractions or both steps: wrong whatever the fit (mixed kinds are checked
            # against the fit's length when it starts)
            raise InvalidArgumentError(f"`end` ({last}) must come after `begin` ({first}); "
                                       "pruning ramps from begin to end.")
        self.begin, self.end = begin, end
        if frequency is not None and (not is_step_count(frequency) or frequency < 1):
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
        if layers is not None and not (callable(layers) or isinstance(layers, str)
                                       or _is_layer(layers) or np.iterable(layers)):
            raise TypeError(f"`layers` must be None, a callable, or layer names/objects; got "
                            f"{layers!r}.")
        self.layers = layers
        if prune_frozen not in (None, True, False):
            raise ValueError(f"`prune_frozen` must be None, True or False; got {prune_frozen!r}.")
        self.prune_frozen = prune_frozen
        if if_incomplete not in INCOMPLETE_CHOICES:
            raise ValueError(f"`if_incomplete` must be one of {list(INCOMPLETE_CHOICES)}; got "
                             f"{if_incomplete!r}.")
        self.if_incomplete = if_incomplete
        if log_dir is not None and (not isinstance(log_dir, (str, os.PathLike)) or not
                                    str(log_dir)):
            raise ValueError(f"`log_dir` must be a non-empty path; got {log_dir!r}.")
        self.log_dir = None if log_dir is None else os.fspath(log_dir)

        # Required so Keras does not copy logs to numpy (a device sync) after every batch.
        self._supports_tf_logs = True
        self.resolved_schedule = None     # ResolvedSchedule of the state in force
        self._state = None
        self._weights = None
        self._sync_fn = None
        self._apply_fn = None
        self._finish_fn = None
        self._writer = None
        self._pending_epoch = None        # epoch at which the state is still to be attached
        self._siblings = None
        self._finisher = None
        self._fit = None                  # what the current fit did, for end-of-training checks
        self._continuing = False

    # -- keras hooks -------------------------------------------------------------------------

    def set_model(self, model):
        check_model(model, "model", allow_keras3=True)
        super().set_model(model)
        if flavour(model) == KERAS3 and model.built:
            # Attached now, before any on_train_begin, so that what loads weights into the model
            # before training (BackupAndRestore, or the user after set_model) restores it.
            self._attach_state(warn=False)

    def on_train_begin(self, logs=None):
        model = self.model
        check_model(model, "model", allow_keras3=True)
        spe = _steps_per_execution(model)
        if spe != 1:
            raise ValueError(
                f"PruneCallback needs `steps_per_execution=1` in model.compile (got "
                f"{spe}): callbacks run once per execution, so pruned weights would "
                "take part in the steps in between.")
        self._fit = {"steps": 0, "epoch_sparsity": {}, "epoch_logs": {}, "first_epoch": None}
        self._siblings = _sibling_callbacks(self)
        if self._siblings is not None:
            # End-of-training work runs after every other callback's on_train_end.
            self._siblings[:] = [c for c in self._siblings if not isinstance(c, _EndOfTraining)]
            self._finisher = _EndOfTraining(self)
            self._siblings.append(self._finisher)
        self._pending_epoch = True
        if self.model.built:
            self._attach_state()

    def on_epoch_begin(self, epoch, logs=None):
        if self._pending_epoch is not True:
            return
        self._pending_epoch = epoch
        self._fit["first_epoch"] = epoch
        if self.model.built:
            self._start(epoch)

    def on_train_batch_end(self, batch, logs=None):
        self._fit["steps"] += 1
        if self._pending_epoch is not None:      # a model built by its first batch
            self._attach_state()
            self._start(self._pending_epoch)
        self._sync_fn(tf.constant(True))

    def on_epoch_end(self, epoch, logs=None):
        if self._state is None:
            return
        self._fit["epoch_sparsity"][epoch] = self._state.mask_sparsity()
        self._fit["epoch_logs"][epoch] = {k: _as_float(v) for k, v in (logs or {}).items()}
        if self._writer is None:
            return
        step = int(self._state.step.numpy())
        with self._writer.as_default(step=step):
            tf.summary.scalar("pruning/scheduled_sparsity",
                              self.resolved_schedule.sparsity_at(step))
            for name, mask in zip(self._state.weight_names, self._state.masks):
                tf.summary.scalar(f"pruning/sparsity/{name.split(':')[0]}",
                                  1.0 - float(tf.reduce_mean(mask)))
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._finisher is None:      # no callback list found: do the end work here
            self._end_of_training()

    # -- set-up --------------------------------------------------------------------------------

    def _select_weights(self, model, warn=True):
        """(names, tf.Variables) of the weights to prune, checked against the options."""
        pairs = prunable_weights(model, self.layers)
        if not pairs:
            raise ValueError(
                "`model` has no prunable weights: tfmot's prune registry selects kernels of "
                "Conv/Dense-type layers (and `layers=` selects explicitly); this model has "
                f"layers {[type(layer).__name__ for layer in _all_layers(model)]}.")
        trainable = {id(w) for w in model.trainable_weights}
        frozen = [(layer, w) for layer, w in pairs if id(w) not in trainable]
        if frozen and self.prune_frozen is False:
            pairs = [(layer, w) for layer, w in pairs if id(w) in trainable]
            if not pairs:
                raise ValueError("`prune_frozen=False` leaves nothing to prune: every prunable "
                                 "weight of `model` belongs to a frozen layer "
                                 "(trainable=False).")
        elif frozen and self.prune_frozen is None and self.layers is None and warn:
            names = [weight_name(w) for _, w in frozen]
            warnings.warn(
                f"PruneCallback prunes {_plural(len(frozen), 'weight tensor')} of frozen layers "
                f"(trainable=False), which do not train and so cannot adapt to their pruned "
                f"weights: {names[:5]}{' ...' if len(names) > 5 else ''}. Pass "
                "prune_frozen=False to leave them dense, or prune_frozen=True to prune them "
                "without this warning.", PruningWarning, stacklevel=3)
        names = tuple(weight_name(w) for _, w in pairs)
        weights = [tf_variable(w) for _, w in pairs]
        if self.m_by_n is not None:
            n = self.m_by_n[1]
            bad = [name for name, w in zip(names, weights)
                   if w.shape.rank not in (2, 4) or w.shape[-2 if w.shape.rank == 4 else 0] % n]
            if bad:
                raise ValueError(
                    f"`m_by_n`={self.m_by_n} needs rank-2 or rank-4 weights whose input dimension "
                    f"is divisible by {n}; these cannot take it: {bad}. Exclude them with "
                    "`layers=`.")
        if self.block_size is not None:
            bad = [name for name, w in zip(names, weights) if w.shape.rank != 2]
            if bad:
                raise ValueError(
                    f"`block_size`={self.block_size} applies to rank-2 (Dense) kernels only "
                    f"(tfmot's block sparsity); these cannot take it: {bad}. Select Dense layers "
                    "with `layers=`.")
            bad = [name for name, w in zip(names, weights)
                   if w.shape[0] < self.block_size[0] or w.shape[1] < self.block_size[1]]
            if bad:
                raise ValueError(f"`block_size`={self.block_size} is larger than these weights: "
                                 f"{bad}.")
        return names, weights

    def _training(self, initial_epoch):
        """(steps this fit runs or None, how messages describe it)."""
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        if not (epochs and steps):
            return None, "this fit"
        n_epochs = int(epochs) - int(initial_epoch)
        return n_epochs * int(steps), (f"this fit ({_plural(n_epochs, 'epoch')} x "
                                       f"{int(steps)} steps)")

    def _resolve(self, total, training):
        return resolve_schedule(self.target_sparsity, schedule=self.schedule, begin=self.begin,
                                end=self.end, frequency=self.frequency, m_by_n=self.m_by_n,
                                total_steps=total, training=training)

    def _attach_state(self, warn=True):
        """Attach the pruning state to the model (restoring a checkpoint's), or re-use ours."""
        model = self.model
        names, weights = self._select_weights(model, warn=warn)
        state = get_pruning_state(model)
        ours = (state is not None and state is self._state
                and tuple(state.weight_names) == names
                and all(m.shape == w.shape for m, w in zip(state.masks, weights)))
        # Continuing: a later fit with this callback. Ours but not started: attached by
        # set_model (and perhaps restored since); it starts (or resumes) in _start.
        self._continuing = ours and self._sync_fn is not None
        if ours:
            return
        with model.distribute_strategy.scope():
            state = _PruningState(weights, names)
        # A checkpoint restored into a tf_keras model before this fit (model.load_weights,
        # tf.train.Checkpoint(model=...).restore) restores the state here, on attachment.
        _attach(model, state)
        self._state, self._weights = state, weights

    def _start(self, initial_epoch):
        """Decide resume or new schedule, resolve it, and apply the masks for the next step."""
        self._pending_epoch = None
        state, weights = self._state, self._weights
        if self._continuing:
            self._sync_fn(tf.constant(False))   # a later fit with the same callback: continue
            return
        total, training = self._training(initial_epoch)
        restored = int(state.step.numpy()) != _PruningState._UNSET
        if restored and initial_epoch > 0:
            # A resume: the checkpoint holds the step; fractions refer to the training the
            # interrupted run started (recorded in the state; older checkpoints: the whole fit).
            saved_total = int(state.total_steps.numpy())
            if saved_total >= 0:
                total, training = saved_total, f"the resumed run ({saved_total} steps)"
            else:
                total, training = self._training(0)
            resolved = self._resolve(total, training)
        else:
            resolved = self._resolve(total, training)
            if initial_epoch > 0:
                warnings.warn(
                    f"PruneCallback: fit starts at initial_epoch={initial_epoch}, but no pruning "
                    "checkpoint was restored into the model, so this is not a resume: a new "
                    f"schedule starts now and spans {training}"
                    + (f", {total} steps" if total is not None else "")
                    + ". To resume an interrupted pruning run, restore its checkpoint first "
                    + ("(callback.set_model(model), then model.load_weights(path))."
                       if flavour(self.model) == KERAS3 else
                       "(model.load_weights(path) or "
                       "tf.train.Checkpoint(model=model).read(path))."),
                    PruningWarning, stacklevel=3)
            state.restart(weights, total)
        self.resolved_schedule = resolved
        self._warn_if_already_sparser()
        self._build_functions(state)
        if self.log_dir is not None and self._writer is None:
            self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "pruning"))
        self._sync_fn(tf.constant(False))

    def _warn_if_already_sparser(self):
        target = self.target_sparsity
        above = []
        for name, keep in zip(self._state.weight_names, self._state.keep):
            size = int(tf.size(keep))
            zeros = size - int(tf.math.count_nonzero(keep))
            if zeros > size - max(int(np.round(np.float32(size) * np.float32(1 - target))), 1):
                above.append(f"{name} ({zeros / size:.4f})")
        if above:
            warnings.warn(
                f"PruneCallback: these tensors already hold more zeros than target_sparsity="
                f"{target:g}; their zeros are kept, so they end above the target: "
                f"{', '.join(above[:5])}{' ...' if len(above) > 5 else ''}.",
                PruningWarning, stacklevel=4)

    def _build_functions(self, state):
        """tfmot's Pruning over all (weight, mask, threshold) triples, and the compiled steps."""
        triples = list(zip(self._weights, state.masks, state.thresholds))
        common = dict(block_size=self.block_size or (1, 1),
                      block_pooling_type=self.block_pooling_type, keep=state.keep)
        pruning = _FlooredPruning(
            training_step_fn=lambda: state.step + 1, pruning_vars=triples,
            pruning_schedule=self.resolved_schedule.schedule, sparsity_m_by_n=self.m_by_n,
            **common)
        # The same arithmetic at the target sparsity, for a schedule that training cut short.
        at_target = _FlooredPruning(
            training_step_fn=lambda: tf.constant(1, tf.int64), pruning_vars=triples,
            pruning_schedule=tfmot_sparsity.ConstantSparsity(self.target_sparsity, 0,
                                                             frequency=1),
            sparsity_m_by_n=self.m_by_n, **common)

        def apply_masks():
            for weight, mask in zip(self._weights, state.masks):
                weight.assign(weight * mask)

        def sync(advance):
            """One compiled step for all pruned tensors: advance, maybe re-mask, apply."""
            step = tf.cond(advance, lambda: state.step.assign_add(1),
                           lambda: tf.identity(state.step))
            with tf.control_dependencies([step]):
                # tfmot's own tf.cond on the schedule (or on step 1 for m-by-n masks).
                update = pruning.conditional_mask_update()
            with tf.control_dependencies([update]):
                apply_masks()
            return step

        def finish():
            update = at_target.conditional_mask_update()
            with tf.control_dependencies([update]):
                for keep, mask in zip(state.keep, state.masks):
                    keep.assign(tf.not_equal(mask, 0))
                apply_masks()

        # Traced once per state; later fits with the same callback reuse the graphs. Run in the
        # model's strategy scope (cross-replica context): Keras 3 calls callbacks outside it,
        # where tfmot's merge_call would hand mirrored masks to the default strategy.
        strategy = self.model.distribute_strategy

        def in_scope(fn):
            def call(*args):
                with strategy.scope():
                    return fn(*args)
            return call

        self._sync_fn = in_scope(tf.function(sync))
        self._apply_fn = in_scope(tf.function(apply_masks))
        self._finish_fn = in_scope(tf.function(finish))

    # -- end of training -------------------------------------------------------------------

    def _schedule_reached(self):
        """Whether the target-sparsity masks are in force (the schedule's last update ran)."""
        if self.m_by_n is not None:
            return True                          # computed once, before the first step
        next_step = int(self._state.step.numpy()) + 1
        steps = tf.range(1, next_step + 1, dtype=tf.int64)
        should, sparsity = self.resolved_schedule.schedule(steps)
        should = np.broadcast_to(np.asarray(should), (next_step,))
        sparsity = np.broadcast_to(np.asarray(sparsity, np.float64), (next_step,))
        return bool(np.any(should & (np.abs(sparsity - self.target_sparsity) < 1e-6)))

    def _end_of_training(self):
        self._finisher = None
        state, fit = self._state, self._fit
        if state is None or fit is None or fit["steps"] == 0:
            return
        self._fit = None
        messages = []
        # Weights replaced after the last step (EarlyStopping(restore_best_weights=True), a
        # user's set_weights): the masks no longer match them.
        revived = any(bool(tf.reduce_any((w != 0) & (m == 0)))
                      for w, m in zip(self._weights, state.masks))
        restorer = self._best_weights_restorer()
        reached = state.mask_sparsity()
        incomplete = not self._schedule_reached()
        if incomplete and not bool(self._reached_before()):
            messages.append(self._incomplete_message(fit, reached))
            if self.if_incomplete == "finish":
                self._finish_fn()
                messages.append(
                    f"The masks were completed to {self.target_sparsity:g} in one step, "
                    "without training after it (accuracy may suffer); pass "
                    "if_incomplete='warn' to keep the sparsity reached, or 'raise'.")
            elif self.if_incomplete == "warn":
                messages.append(f"The model is left at {reached:.4f} sparsity.")
        if revived:
            self._apply_fn()
            if restorer is not None:
                epoch = restorer.best_epoch
                at = fit["epoch_sparsity"].get(epoch)
                messages.append(
                    f"EarlyStopping(restore_best_weights=True) restored the weights of epoch "
                    f"{epoch + 1}" + (f", when the masks were {at:.4f} sparse" if at is not None
                                      else "")
                    + "; the final masks were applied to them. To restore only epochs after "
                    "pruning ended, pass EarlyStopping(start_from_epoch="
                    f"{self._first_epoch_at_target(fit)}).")
            else:
                messages.append("The weights were replaced after the last training step (by "
                                "another callback?); the masks were applied to them again.")
        messages.extend(self._checkpoint_messages(fit))
        if self._writer is not None:
            self._writer.flush()
        if not messages:
            return
        text = "PruneCallback: " + " ".join(messages)
        if incomplete and self.if_incomplete == "raise" and not bool(self._reached_before()):
            raise IncompletePruningError(text, reached=reached, target=self.target_sparsity)
        warnings.warn(text, PruningWarning, stacklevel=2)

    def _reached_before(self):
        """True once the masks have been at the target (a completed or finished schedule)."""
        zeros_target = sum(
            int(tf.size(k)) - max(int(np.round(np.float32(int(tf.size(k)))
                                               * np.float32(1 - self.target_sparsity))), 1)
            for k in self._state.keep)
        zeros_floor = sum(int(tf.size(k)) - int(tf.math.count_nonzero(k))
                          for k in self._state.keep)
        return zeros_floor >= zeros_target

    def _incomplete_message(self, fit, reached):
        resolved, step = self.resolved_schedule, int(self._state.step.numpy())
        planned = None if self.params.get("epochs") is None or not self.params.get("steps") \
            else (int(self.params["epochs"]) - fit["first_epoch"]) * int(self.params["steps"])
        end = resolved.end_step
        head = (f"training ended at step {step} of the pruning schedule"
                + (f", which ends at step {end}" if end is not None and end >= 0 else "")
                + f": the pruned tensors are {reached:.4f} sparse, target "
                f"{self.target_sparsity:g}.")
        if self.model.stop_training and planned is not None and fit["steps"] < planned:
            epochs_needed = self._first_epoch_at_target(fit)
            cause = (f"Training was stopped after {fit['steps']} of {planned} steps (EarlyStopping "
                     "or another callback set model.stop_training). To prune fully before it "
                     "can stop, end the schedule earlier (e.g. `end=0.5`) and let EarlyStopping "
                     f"start after it (EarlyStopping(start_from_epoch=...), here >= "
                     f"{epochs_needed} with the current schedule).")
        elif planned is not None and fit["steps"] < planned:
            cause = (f"The data ran out after {fit['steps']} of the {planned} steps fit was "
                     f"asked for (steps_per_epoch x epochs). `.repeat()` the dataset, or pass "
                     "the steps_per_epoch it really holds.")
        else:
            cause = (f"This fit ran {fit['steps']} steps; the schedule needs "
                     f"{end if end is not None else 'more'}. Give `end` as a step count within "
                     "the steps the data holds, or pass `steps_per_epoch` to fit so fractions "
                     "can be used.")
        return head + " " + cause

    def _first_epoch_at_target(self, fit):
        end, steps = self.resolved_schedule.end_step, self.params.get("steps")
        if end is None or not steps:
            return "the first epoch after pruning ends"
        # The masks of step `end` are in force after step end - 1.
        return fit["first_epoch"] + int(np.ceil(max(end - 1, 0) / int(steps)))

    def _best_weights_restorer(self):
        for cb in self._siblings or ():
            if (isinstance(cb, callback_classes("EarlyStopping")) and cb.restore_best_weights
                    and getattr(cb, "best_weights", None) is not None):
                return cb
        return None

    def _checkpoint_messages(self, fit):
        """A ModelCheckpoint(save_best_only=True) whose file holds a less sparse epoch."""
        out = []
        floor = self.target_sparsity - 1e-3
        for cb in self._siblings or ():
            if not (isinstance(cb, callback_classes("ModelCheckpoint")) and cb.save_best_only):
                continue
            best = _as_float(getattr(cb, "best", None))
            saved = [e for e, logs in fit["epoch_logs"].items()
                     if best is not None and logs.get(cb.monitor) == best]
            if not saved:
                continue
            epoch = saved[-1]
            at = fit["epoch_sparsity"].get(epoch)
            if at is not None and at < floor:
                out.append(
                    f"ModelCheckpoint(save_best_only=True) kept epoch {epoch + 1} "
                    f"({cb.monitor}={best:.4g}) in {cb.filepath!r}, when the masks were "
                    f"{at:.4f} sparse (target {self.target_sparsity:g}): loading that file gives "
                    "a less sparse model. Compare only pruned epochs: attach the checkpoint to a "
                    "fit that starts after pruning ends, or save every epoch "
                    "(save_best_only=False).")
        return out


def _steps_per_execution(model):
    spe = getattr(model, "_steps_per_execution", None)         # tf_keras: a variable
    if spe is not None and hasattr(spe, "numpy"):
        return int(spe.numpy())
    return int(getattr(model, "steps_per_execution", 1) or 1)  # Keras 3: an int


def _as_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class _EndOfTraining(Callback):
    """Placed last in a fit's callback list, so a PruneCallback's end-of-training work (finishing
    a cut-short schedule, re-applying the masks) sees the weights other callbacks restore."""

    def __init__(self, owner):
        super().__init__()
        self._owner = owner
        self._supports_tf_logs = True

    def on_train_end(self, logs=None):
        try:
            self._owner._end_of_training()
        finally:
            siblings = self._owner._siblings
            if siblings is not None and siblings and siblings[-1] is self:
                siblings.pop()
