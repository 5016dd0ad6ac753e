"""Quantization-aware training (QAT) on tfmot, with prune-preserving QAT for sparse models.

``quantize(model)`` returns a new tf_keras model whose layers carry tfmot's fake-quantization
(8-bit, the scheme TFLite's full-integer kernels implement), compiled like ``model`` when ``model``
was compiled, so ``quantize(model).fit(...)`` is the whole QAT step. When ``model`` is already
sparse (for instance after :class:`pie_tf.PruneCallback`), plain QAT would let the optimizer move
the pruned weights away from zero (measured: an 80%-pruned ResNet loses its zeros); tfmot's
prune-preserving scheme (``Default8BitPrunePreserveQuantizeScheme``, "PQAT") masks the updates so
the zeros survive QAT and the int8 export. The chosen scheme is recorded on the returned model as
``model.quantization_scheme`` (``"default_8bit"`` or ``"prune_preserve_8bit"``).

``QuantizeCallback`` implements the two late-training freezes of the common QAT recipe
(Krishnamoorthi 2018, "Quantizing deep convolutional networks for efficient inference", sec. 3.2;
PyTorch's ``freeze_bn_stats`` / ``disable_observer``): BatchNormalization switches from batch
statistics to its moving averages, so training sees the normalisation the deployed model applies,
and the quantizers stop updating their ranges, so the last epochs fine-tune against fixed grids.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np

from pie_tf._tfmot import tfmot  # first: tfmot imported without changing the user's Keras
from tensorflow_model_optimization.python.core.quantization.keras import (
    quantize_annotate as _tfmot_annotate,
    quantize_aware_activation as _tfmot_activation,
    quantize_layer as _tfmot_quantize_layer,
    quantize_wrapper as _tfmot_wrapper,
)
from tensorflow_model_optimization.python.core.sparsity.keras import (
    pruning_wrapper as _tfmot_pruning_wrapper,
)

from pie_tf._keras import check_model, keras
from pie_tf.compress.pruning import prunable_weights

_KERAS3_QAT_HINT = (
    "Quantization-aware training runs on tensorflow-model-optimization, which supports tf_keras "
    "models only. For a Keras 3 model use post-training quantization instead: "
    "pie_tf.export_tflite(model, mode='int8', representative_data=...) (full int8, calibrated "
    "on examples) or mode='dynamic' (int8 weights); both keep a pruned model's zeros. For QAT, "
    "build the model with `import tf_keras as keras` (or `from pie_tf import keras`).")

__all__ = ["quantize", "QuantizeCallback", "is_quantization_aware", "prunable_kernel_sparsity",
           "SCHEMES"]

_qkeras = tfmot.quantization.keras

#: Scheme names accepted by :func:`quantize` and recorded in ``model.quantization_scheme``.
SCHEMES = ("default_8bit", "prune_preserve_8bit")

# TF-op lambdas (what `h + shortcut`, `tf.concat(...)` become in a functional model) and the layer
# that does the same job in a form tfmot can quantize.
_OP_REPLACEMENTS = {
    "add": "keras.layers.Add()([a, b])",
    "subtract": "keras.layers.Subtract()([a, b])",
    "sub": "keras.layers.Subtract()([a, b])",
    "multiply": "keras.layers.Multiply()([a, b])",
    "mul": "keras.layers.Multiply()([a, b])",
    "concat": "keras.layers.Concatenate(axis=...)([a, b])",
    "reshape": "keras.layers.Reshape(target_shape)(x)",
    "relu": "keras.layers.ReLU()(x)",
    "reduce_mean": "keras.layers.GlobalAveragePooling2D()(x)",
    "getitem": "a Cropping/Reshape layer, or slice outside the model",
}


# Layers the 8-bit registry does not list but tfmot's layout transforms quantize in some
# positions (BatchNormalization folded after Conv2D/DepthwiseConv2D, SeparableConv split into
# depthwise + pointwise); whether their position is supported is known only after the transforms,
# so tfmot's own check (translated in `quantize`) covers them.
_TRANSFORM_HANDLED = (keras.layers.BatchNormalization, keras.layers.SeparableConv1D,
                      keras.layers.SeparableConv2D)

_TFMOT_UNSUPPORTED = re.compile(
    r"Layer (?P<name>[^:\s]+):<class '(?P<cls>[^']+)'> is not supported")


def is_quantization_aware(model) -> bool:
    """True when ``model`` already carries tfmot quantization wrappers (a QAT model)."""
    wrappers = (_tfmot_wrapper.QuantizeWrapper, _tfmot_quantize_layer.QuantizeLayer)
    return any(isinstance(layer, wrappers) for layer in model.layers)


def prunable_kernel_sparsity(model) -> float:
    """Fraction of exact zeros over all prunable kernels of ``model`` (Conv/Dense-type layers).

    The kernels are those tfmot's pruning registry would prune, so this is the sparsity that
    :class:`pie_tf.PruneCallback` produces. Works on plain and on QAT models.

    Returns
    -------
    float in [0, 1]; 0.0 when the model has no prunable kernel.
    """
    zeros = total = 0
    for _, variable in prunable_weights(model):   # the float variables, in a QAT model too
        values = variable.numpy()
        zeros += int(np.count_nonzero(values == 0))
        total += values.size
    return zeros / total if total else 0.0


def _op_suggestion(layer) -> str:
    symbol = str(getattr(layer, "symbol", "") or layer.name)
    op = symbol.split(".")[-1].strip("_").lower()
    for key, replacement in _OP_REPLACEMENTS.items():
        if op == key or op.endswith(key):
            return replacement
    return "the matching keras.layers layer"


@dataclasses.dataclass(frozen=True)
class _LayerProblem:
    """Why tfmot's QAT cannot handle one layer: ``kind`` for code, ``message`` for people."""

    layer: str
    kind: str  # one of _PROBLEM_KINDS
    message: str

    def __str__(self):
        return self.message


_PROBLEM_KINDS = ("pruning_wrapper", "nested_model", "raw_op", "lambda", "unsupported")


def _unquantizable_layers(model, registry):
    """One :class:`_LayerProblem` per layer tfmot's QAT cannot handle, in model order."""
    problems = []
    for layer in model.layers:
        name = f"'{layer.name}' ({type(layer).__name__})"

        def problem(kind, message):
            problems.append(_LayerProblem(layer.name, kind, message))

        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, _tfmot_pruning_wrapper.PruneLowMagnitude):
            problem("pruning_wrapper",
                    f"layer {name} still carries tfmot's pruning wrapper; finish pruning "
                    "(pie_tf.PruneCallback strips it after fit) or call "
                    "tfmot.sparsity.keras.strip_pruning(model) first")
        elif isinstance(layer, keras.Model):
            problem("nested_model",
                    f"layer {name} is a nested model; tfmot cannot quantize inside it. "
                    "Build one flat functional model, e.g. call the inner model's layers "
                    "on the outer tensors instead of calling the inner model")
        elif type(layer).__name__ in ("TFOpLambda", "SlicingOpLambda"):
            problem("raw_op",
                    f"layer {name} is a raw TensorFlow op `{getattr(layer, 'symbol', '?')}` "
                    f"written inside the model (e.g. `h + shortcut`); use "
                    f"{_op_suggestion(layer)} instead")
        elif isinstance(layer, keras.layers.Lambda):
            problem("lambda",
                    f"layer {name} is a Lambda layer, whose computation tfmot cannot "
                    "inspect; replace it with a standard layer, or a custom layer "
                    "annotated with tfmot.quantization.keras.quantize_annotate_layer("
                    "layer, quantize_config=...)")
        elif isinstance(layer, _tfmot_annotate.QuantizeAnnotate):
            continue  # the user chose a QuantizeConfig for it
        elif not registry.supports(layer) and not isinstance(layer, _TRANSFORM_HANDLED):
            problem("unsupported",
                    f"layer {name} is not supported by tfmot's 8-bit scheme; replace it, "
                    "or annotate it with tfmot.quantization.keras.quantize_annotate_layer("
                    "layer, quantize_config=...) and quantize inside "
                    "tfmot.quantization.keras.quantize_scope")
    return problems


def quantize(model, *, scheme: str = "auto", sparsity_threshold: float = 0.05):
    """Make a quantization-aware (QAT) copy of ``model``, ready to ``fit``.

    Parameters
    ----------
    model : tf_keras.Model
        Sequential or functional, not nested, with layers tfmot's 8-bit scheme supports
        (Conv/Dense/BatchNormalization/ReLU/Add/pooling ...). Not modified: its weights, layers
        and optimizer are left as they were.
    scheme : {"auto", "default_8bit", "prune_preserve_8bit"}
        ``"auto"`` picks ``"prune_preserve_8bit"`` when at least ``sparsity_threshold`` of the
        prunable kernels' weights are exactly zero, else ``"default_8bit"``.
    sparsity_threshold : float in (0, 1]
        Fraction of exact zeros over the prunable kernels above which ``"auto"`` treats the model
        as pruned. A trained dense float model has essentially no exact zeros, so the default
        (5%) separates pruned from dense models; lower it for lightly pruned ones.

    Returns
    -------
    tf_keras.Model
        The QAT model, with ``quantization_scheme`` (one of :data:`SCHEMES`) and
        ``source_sparsity`` (the prunable-kernel sparsity of ``model``) attributes. When
        ``model`` was compiled, the QAT model is compiled with the same loss, metrics and a fresh
        optimizer of the same configuration (tfmot returns an uncompiled model); otherwise
        compile it yourself. Export it with ``pie_tf.export_tflite(qat_model, mode="int8")``.

    Raises
    ------
    TypeError
        ``model`` is not a tf_keras Sequential/functional model (Keras 3, subclassed).
    ValueError
        ``model`` is already quantization-aware, or has layers tfmot cannot quantize (each one
        named, with what to use instead), or ``scheme``/``sparsity_threshold`` are invalid.
    """
    check_model(model, "model", keras3_hint=_KERAS3_QAT_HINT)
    if scheme not in ("auto",) + SCHEMES:
        raise ValueError(f"`scheme` must be one of {('auto',) + SCHEMES}; got {scheme!r}.")
    if not 0.0 < float(sparsity_threshold) <= 1.0:
        raise ValueError(f"`sparsity_threshold` must be in (0, 1]; got {sparsity_threshold!r}.")
    if is_quantization_aware(model):
        raise ValueError("`model` is already quantization-aware (it has tfmot quantize wrappers); "
                         "fit it or export it with pie_tf.export_tflite(model, mode='int8').")

    sparsity = prunable_kernel_sparsity(model)
    if scheme == "auto":
        scheme = "prune_preserve_8bit" if sparsity >= sparsity_threshold else "default_8bit"
    tfmot_scheme = (tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
                    if scheme == "prune_preserve_8bit"
                    else _qkeras.default_8bit.Default8BitQuantizeScheme())

    problems = _unquantizable_layers(model, tfmot_scheme.get_quantize_registry())
    if problems:
        raise ValueError("`model` cannot be quantized by tfmot:\n  - "
                         + "\n  - ".join(map(str, problems)))

    compile_args = model._get_compile_args() if model.optimizer is not None else None
    optimizer = model.optimizer
    annotated_already = any(isinstance(layer, _tfmot_annotate.QuantizeAnnotate)
                            for layer in model.layers)
    try:
        with _qkeras.quantize_scope():
            annotated = model if annotated_already else _qkeras.quantize_annotate_model(model)
            qat_model = _qkeras.quantize_apply(annotated, tfmot_scheme)
    except RuntimeError as error:
        # tfmot reports a layer it cannot quantize in that position only as a bare RuntimeError
        # whose text names it (no type, no attribute); anything else is re-raised unchanged.
        match = _TFMOT_UNSUPPORTED.search(str(error))
        if match is None:
            raise
        raise ValueError(
            f"`model` cannot be quantized by tfmot: layer '{match['name']}' "
            f"({match['cls'].split('.')[-1]}) is not supported in this position by tfmot's 8-bit "
            "scheme (BatchNormalization, for instance, is quantized only right after a Conv2D, "
            "DepthwiseConv2D or Dense, where it can be folded); move or replace it, or annotate "
            "it with tfmot.quantization.keras.quantize_annotate_layer(layer, quantize_config=...)."
        ) from error
    finally:
        if optimizer is not None and model.optimizer is None:  # tfmot drops it from the original
            model.optimizer = optimizer
    if compile_args is not None:
        fresh_optimizer = keras.optimizers.deserialize(
            keras.optimizers.serialize(compile_args["optimizer"]))
        qat_model.compile(optimizer=fresh_optimizer, loss=compile_args["loss"],
                          metrics=compile_args["metrics"],
                          weighted_metrics=compile_args["weighted_metrics"],
                          loss_weights=compile_args["loss_weights"])
    qat_model.quantization_scheme = scheme
    qat_model.source_sparsity = sparsity
    return qat_model


def _quantizers(model):
    """Every tfmot quantizer object in a QAT model (weights, activations, outputs, inputs)."""
    found = []
    for layer in model.layers:
        if isinstance(layer, _tfmot_quantize_layer.QuantizeLayer):
            found.append(layer.quantizer)
        elif isinstance(layer, _tfmot_wrapper.QuantizeWrapper):
            found.extend(quantizer for _, quantizer, _ in layer._weight_vars)
            found.extend(layer._output_quantizers or [])
            found.extend(act.quantizer for act in layer._quantize_activations
                         if isinstance(act, _tfmot_activation.QuantizeAwareActivation))
    unique = {id(q): q for q in found if q is not None}  # a quantizer may serve several tensors
    return list(unique.values())


_FROZEN_CLASSES = {}


def _frozen_class(cls):
    """A subclass of the quantizer class ``cls`` that always quantizes in inference mode.

    tfmot's quantizers update their ranges (weight min/max, moving averages of activation
    min/max) only when called with ``training=True``; in inference mode they quantize with the
    stored ranges. Forcing inference mode is therefore exactly "freeze the ranges".
    """
    if cls not in _FROZEN_CLASSES:
        def __call__(self, inputs, training, weights, **kwargs):
            return cls.__call__(self, inputs, False, weights, **kwargs)
        _FROZEN_CLASSES[cls] = type(f"RangeFrozen{cls.__name__}", (cls,), {"__call__": __call__})
    return _FROZEN_CLASSES[cls]


class QuantizeCallback(keras.callbacks.Callback):
    """Freeze BatchNorm statistics and quantizer ranges for the last epochs of QAT.

    Attach it to ``fit`` of a model returned by :func:`quantize`::

        qat = pie_tf.quantize(model)
        qat.fit(ds, epochs=10, callbacks=[pie_tf.QuantizeCallback(freeze_bn_after=6,
                                                                  freeze_ranges_after=8)])

    Parameters
    ----------
    freeze_bn_after : int or None
        From the start of this epoch (0-based, as ``fit`` counts) every BatchNormalization layer
        normalises with its moving mean/variance and stops updating them; its gamma/beta keep
        training (tfmot's quantize wrapper owns them as trainable weights), which is PyTorch's
        ``freeze_bn_stats``. None: never.
    freeze_ranges_after : int or None, >= 1
        From the start of this epoch the quantizers' ranges (weight and activation min/max) stay
        fixed; weights keep training against the fixed grids. At least 1, so that
        the ranges have been observed on data for an epoch. None: never.

    Notes
    -----
    Both freezes last until the end of the ``fit`` they are attached to; afterwards the model's
    layers and quantizers are restored to their usual classes and trainable flags (inference is
    unaffected: it always uses the moving statistics and stored ranges). Resuming with
    ``initial_epoch`` past a freeze point freezes from the first epoch. The train step is
    re-traced when a freeze begins, because Keras reads these flags when it traces.
    """

    def __init__(self, freeze_bn_after=None, freeze_ranges_after=None):
        super().__init__()
        # Ranges frozen before any training step would keep tfmot's initial placeholders
        # (e.g. [-6, 6]) instead of ranges observed on data, hence >= 1 for them.
        for argname, value, least in (("freeze_bn_after", freeze_bn_after, 0),
                                      ("freeze_ranges_after", freeze_ranges_after, 1)):
            if value is not None and (isinstance(value, bool)
                                      or not isinstance(value, (int, np.integer))
                                      or value < least):
                raise ValueError(f"`{argname}` must be None or an epoch index >= {least}; got "
                                 f"{value!r}.")
        if freeze_bn_after is None and freeze_ranges_after is None:
            raise ValueError("Give `freeze_bn_after` and/or `freeze_ranges_after`; with neither, "
                             "QuantizeCallback would do nothing.")
        self.freeze_bn_after = freeze_bn_after
        self.freeze_ranges_after = freeze_ranges_after
        self._bn_frozen = []       # (layer, trainable before freezing)
        self._ranges_frozen = []   # (quantizer, class before freezing)

    def on_train_begin(self, logs=None):
        if not is_quantization_aware(self.model):
            raise ValueError("QuantizeCallback needs a quantization-aware model; pass "
                             "pie_tf.quantize(model) to fit.")

    def _batch_norms(self):
        layers = []
        for layer in self.model.layers:
            inner = layer.layer if isinstance(layer, _tfmot_wrapper.QuantizeWrapper) else layer
            if isinstance(inner, keras.layers.BatchNormalization):
                layers.append(inner)
        return layers

    def on_epoch_begin(self, epoch, logs=None):
        changed = False
        if (self.freeze_bn_after is not None and epoch >= self.freeze_bn_after
                and not self._bn_frozen):
            for layer in self._batch_norms():
                self._bn_frozen.append((layer, layer.trainable))
                layer.trainable = False
            changed = True
        if (self.freeze_ranges_after is not None and epoch >= self.freeze_ranges_after
                and not self._ranges_frozen):
            for quantizer in _quantizers(self.model):
                self._ranges_frozen.append((quantizer, type(quantizer)))
                quantizer.__class__ = _frozen_class(type(quantizer))
            changed = True
        if changed:
            self.model.make_train_function(force=True)

    def on_train_end(self, logs=None):
        for layer, trainable in self._bn_frozen:
            layer.trainable = trainable
        for quantizer, cls in self._ranges_frozen:
            quantizer.__class__ = cls
        if self._bn_frozen or self._ranges_frozen:
            self.model.train_function = None
        self._bn_frozen, self._ranges_frozen = [], []

    @property
    def bn_frozen(self) -> bool:
        """True while BatchNormalization statistics are frozen (during the attached fit)."""
        return bool(self._bn_frozen)

    @property
    def ranges_frozen(self) -> bool:
        """True while quantizer ranges are frozen (during the attached fit)."""
        return bool(self._ranges_frozen)

    def get_config(self):
        return {"freeze_bn_after": self.freeze_bn_after,
                "freeze_ranges_after": self.freeze_ranges_after}
