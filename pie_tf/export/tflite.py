"""TFLite export of pie_tf models: conversion of a tf_keras model to a :class:`TFLiteModel`.

Examples are read by :func:`iter_examples` (``pie_tf.export._examples``); the flatbuffer and its
LiteRT runner are :class:`TFLiteModel` (``pie_tf.export._runtime``). Both names are importable
from here too.

Modes (Hooker et al. 2019/2020 study the last three as "post-training quantization"):

``float32``  the float model as a flatbuffer, the reference deployment.
``float16``  weights stored as float16, dequantized at load time (half the size).
``dynamic``  dynamic-range quantization: int8 weights, float activations quantized on the fly.
``int8``     full integer: int8 weights and activations, int8 inputs and outputs, activation
             ranges calibrated on representative data (default: the first 100 examples, as in
             Hooker et al., "Characterising Bias in Compressed Models"). A QAT model
             (:func:`pie_tf.quantize`) carries its own ranges and needs no representative data.

Sparse storage: TFLite's ``EXPERIMENTAL_SPARSITY`` optimization stores pruned weights in a sparse
format, but dynamic-range and int8 models converted that way fail to delegate to XNNPACK at run
time (measured, TF 2.21 / LiteRT 2.x). pie_tf therefore emits the dense format by default
(gzip captures the zeros: that is the size figure that matters for download), and when a sparse
flatbuffer is run, :class:`TFLiteModel` falls back to the builtin kernels with a warning instead of
failing.
"""
from __future__ import annotations

import warnings

import numpy as np

from pie_tf._keras import check_model, input_spec, tf
from pie_tf.errors import InvalidArgumentError
from pie_tf.export._examples import iter_examples
from pie_tf.export._runtime import MODES, RUNTIME, TFLiteModel

__all__ = ["export_tflite", "TFLiteModel", "MODES", "RUNTIME", "iter_examples"]


def _model_input(model):
    if len(model.inputs) != 1:
        raise ValueError(f"`model` has {len(model.inputs)} inputs; export_tflite supports models "
                         "with a single input tensor.")
    return input_spec(model)


def _representative_dataset(data, model, num_examples, input_key):
    example_shape, dtype = _model_input(model)
    chunks = list(iter_examples(data, len(example_shape), input_key=input_key,
                                limit=num_examples, argname="representative_data"))
    examples = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros((0,))
    if len(examples) == 0:
        raise ValueError("`representative_data` yielded no examples.")
    if tuple(examples.shape[1:]) != tuple(d if d is not None else s for d, s in
                                          zip(example_shape, examples.shape[1:])):
        raise ValueError(f"`representative_data` examples have shape {examples.shape[1:]}; the "
                         f"model takes {example_shape}.")
    examples = examples.astype(dtype)
    if np.issubdtype(examples.dtype, np.floating) and not np.all(np.isfinite(examples)):
        # The converter's calibrator turns one inf into "scale out of expressed type range"
        # and then a segmentation fault, and a NaN into a model with garbage scales.
        bad = int(np.size(examples) - np.count_nonzero(np.isfinite(examples)))
        raise InvalidArgumentError(f"`representative_data` holds {bad} NaN or infinite value(s) "
                                   f"in its first {len(examples)} examples; int8 calibration needs "
                                   "finite inputs.")

    def generator():
        # One example per calibration step, as the converter's calibrator expects.
        for example in examples:
            yield [example[None]]

    return generator, len(examples)


def export_tflite(model, mode: str = "float32", representative_data=None,
                  num_calibration_examples: int = 100, *, input_key: str = "image",
                  int8_io: bool = True, sparse_format: bool = False):
    """Convert a Keras 3 or tf_keras model (dense, pruned or QAT) to a TFLite flatbuffer.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        Sequential or functional, one input (Keras 3: on the TensorFlow backend; the converter
        takes it through ``tf.lite.TFLiteConverter.from_keras_model`` as it takes tf_keras).
        Pruned models must be stripped of tfmot's pruning wrappers (``pie_tf.PruneCallback``
        leaves none). A QAT model from
        :func:`pie_tf.quantize` exports only as ``mode="int8"``: it is trained for its integer
        form, and its fake-quant ops would turn any other mode into an integer model anyway.
    mode : {"float32", "float16", "dynamic", "int8"}
    representative_data : ndarray of shape (n, *input_shape) or tf.data.Dataset, optional
        Calibration data for ``mode="int8"`` (required there unless ``model`` is QAT; ignored
        otherwise). Dataset elements may be tensors, ``(x, y)`` tuples or pie_tf example dicts
        (the input is read from ``input_key``), batched or not. Inputs are cast to the model's
        input dtype, unscaled: preprocess as the model expects before passing them.
    num_calibration_examples : int
        How many leading examples calibrate (Hooker et al. use the first 100 training images).
    input_key : str
        Key of the model input in dict elements.
    int8_io : bool
        For ``mode="int8"``: int8 input and output tensors (True, fully integer, as on
        integer-only accelerators) or float32 ones with quantize/dequantize inside the model.
    sparse_format : bool
        Store pruned weights in TFLite's sparse format (``Optimize.EXPERIMENTAL_SPARSITY``).
        Off by default: XNNPACK cannot run such dynamic/int8 models (they then run on the slower
        builtin kernels, with a warning), and on x86 sparse inference is not faster anyway.

    Returns
    -------
    TFLiteModel
    """
    check_model(model, "model", allow_keras3=True)
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}; got {mode!r}.")
    if (isinstance(num_calibration_examples, bool) or not isinstance(num_calibration_examples,
                                                                    (int, np.integer))
            or num_calibration_examples < 1):
        raise ValueError("`num_calibration_examples` must be an integer >= 1; got "
                         f"{num_calibration_examples!r}.")
    from pie_tf.compress.pruning import pruning_wrapped_layers
    from pie_tf.compress.quantize import is_quantization_aware

    wrapped = pruning_wrapped_layers(model)
    if wrapped:
        raise InvalidArgumentError(
            f"`model` cannot be exported: layer {wrapped[0]!r} still carries tfmot's pruning "
            "wrapper; finish pruning (pie_tf.PruneCallback strips it after fit) or call "
            "tfmot.sparsity.keras.strip_pruning(model) first.")
    _model_input(model)
    qat = is_quantization_aware(model)
    if qat and mode != "int8":
        raise ValueError(f"`model` is quantization-aware (QAT); export it with mode='int8', not "
                         f"{mode!r}. To export a float model, export the model you passed to "
                         "pie_tf.quantize.")
    if mode == "int8" and representative_data is None and not qat:
        raise ValueError("mode='int8' needs `representative_data` (an array or tf.data.Dataset of "
                         "model inputs) to calibrate activation ranges; Hooker et al. use the "
                         "first 100 training examples.")

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    optimizations = []
    n_calibration = 0
    if mode in ("float16", "dynamic", "int8"):
        optimizations.append(tf.lite.Optimize.DEFAULT)
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if mode == "int8":
        if representative_data is not None:
            converter.representative_dataset, n_calibration = _representative_dataset(
                representative_data, model, num_calibration_examples, input_key)
        if not qat:  # a QAT graph carries its ranges; requiring INT8 ops would ask for data
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        if int8_io:
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
    if sparse_format:
        optimizations.append(tf.lite.Optimize.EXPERIMENTAL_SPARSITY)
    converter.optimizations = optimizations
    with warnings.catch_warnings():
        # The converter warns that QAT input statistics are "expected"; the QuantizeLayer holds
        # them.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        try:
            flatbuffer = converter.convert()
        except Exception as error:  # the converter's errors are long MLIR dumps; lead with ours
            raise ValueError(f"TFLite conversion of `model` in mode {mode!r} failed: "
                             f"{str(error).strip().splitlines()[0]}") from error
    exported = TFLiteModel(flatbuffer, mode=mode, quantization_aware=qat,
                           num_calibration_examples=n_calibration)
    exported.quantization_scheme = getattr(model, "quantization_scheme", None) if qat else None
    return exported
