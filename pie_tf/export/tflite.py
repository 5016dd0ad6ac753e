"""TFLite export of pie_tf models, and running the flatbuffer the way a device runs it (LiteRT).

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

import gzip
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

from pie_tf._keras import check_model, keras, tf
from pie_tf.errors import InvalidArgumentError, ModelFileError, NotAFlatbufferError

try:  # LiteRT replaces tf.lite.Interpreter, which is deprecated.
    from ai_edge_litert.interpreter import Interpreter as _Interpreter
    from ai_edge_litert.interpreter import OpResolverType as _OpResolverType
    RUNTIME = "ai_edge_litert"
except ImportError:  # pragma: no cover - exercised only where ai-edge-litert is absent
    _Interpreter = tf.lite.Interpreter
    _OpResolverType = tf.lite.experimental.OpResolverType
    RUNTIME = "tf.lite"

__all__ = ["export_tflite", "TFLiteModel", "MODES", "RUNTIME", "iter_examples"]

MODES = ("float32", "float16", "dynamic", "int8")

_WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}


# ---------------------------------------------------------------------------------------------
# Data in: arrays, tf.data of tensors / (x, y) tuples / pie_tf example dicts.
# ---------------------------------------------------------------------------------------------

def _element_parts(element, input_key, label_key, id_key):
    """(x, label or None, id or None) from one dataset element (a dict, tuple or tensor)."""
    if isinstance(element, dict):
        if input_key not in element:
            raise ValueError(f"dataset elements are dicts with keys {sorted(element)}; expected "
                             f"the input under `input_key`={input_key!r}.")
        return element[input_key], element.get(label_key), element.get(id_key)
    if isinstance(element, (tuple, list)):
        if not 1 <= len(element) <= 3:
            raise ValueError("tuple dataset elements must be (x,), (x, y) or (x, y, sample_weight); "
                             f"got a tuple of {len(element)}.")
        return element[0], (element[1] if len(element) > 1 else None), None
    return element, None, None


def iter_examples(data, example_rank, *, input_key="image", label_key="label", id_key="id",
                  labels=None, ids=None, chunk_size=256, limit=None, argname="data"):
    """Yield ``(x, labels, ids)`` chunks of at most ``chunk_size`` examples from any data source.

    Parameters
    ----------
    data : ndarray of shape (n, *example_shape), or tf.data.Dataset
        Dataset elements may be tensors, ``(x, y)`` tuples or pie_tf example dicts
        (``image``, ``label``, ``id``, ...), batched or not: an element whose input has rank
        ``example_rank + 1`` is taken as a batch.
    example_rank : int
        Rank of one example (without batch axis), e.g. 3 for images.
    labels, ids : array_like of shape (n,), optional
        For array ``data`` only.
    limit : int, optional
        Stop after this many examples.

    Yields
    ------
    x : ndarray of shape (m, *example_shape); labels, ids : ndarray of shape (m,) or None.
    """
    if isinstance(data, tf.data.Dataset):
        if labels is not None or ids is not None:
            raise ValueError("`labels`/`ids` are only for array data; a dataset carries them "
                             f"(under {label_key!r} and {id_key!r}, or as the y of (x, y)).")
        source = _dataset_chunks(data, example_rank, input_key, label_key, id_key, argname)
    else:
        source = _array_chunks(data, example_rank, labels, ids, argname)
    yield from _rechunk(source, chunk_size, limit)


def _array_chunks(data, example_rank, labels, ids, argname):
    if isinstance(data, (tf.Tensor, tf.Variable)):
        data = data.numpy()
    if not isinstance(data, np.ndarray):
        try:
            data = np.asarray(data)
        except Exception:
            raise TypeError(f"`{argname}` must be an array or a tf.data.Dataset; got "
                            f"{type(data).__name__}.") from None
    if data.ndim == example_rank:
        data = data[None]
    if data.ndim != example_rank + 1:
        raise ValueError(f"`{argname}` must have shape (n_examples, ...) with examples of rank "
                         f"{example_rank}; got shape {data.shape}.")
    n = len(data)
    for argname_extra, extra in (("labels", labels), ("ids", ids)):
        if extra is not None and len(np.asarray(extra)) != n:
            raise ValueError(f"`{argname_extra}` has {len(np.asarray(extra))} entries but "
                             f"`{argname}` has {n} examples.")
    labels = None if labels is None else np.asarray(labels)
    ids = None if ids is None else np.asarray(ids)
    yield data, labels, ids


def _dataset_chunks(dataset, example_rank, input_key, label_key, id_key, argname):
    for element in dataset.as_numpy_iterator():
        x, y, ids = _element_parts(element, input_key, label_key, id_key)
        x = np.asarray(x)
        if x.ndim == example_rank:
            x = x[None]
            y = None if y is None else np.asarray(y)[None]
            ids = None if ids is None else np.asarray(ids)[None]
        elif x.ndim != example_rank + 1:
            raise ValueError(f"`{argname}` yields inputs of shape {x.shape}; the model takes "
                             f"examples of rank {example_rank} (batched or not).")
        y = None if y is None else np.asarray(y).reshape(len(x), *np.shape(y)[1:])
        if y is not None and y.ndim > 1 and y.shape[-1] == 1:
            y = y[..., 0]
        if ids is not None:
            ids = np.asarray(ids).reshape(len(x))
            if ids.dtype == object or ids.dtype.kind == "S":  # tf.string arrives as bytes
                ids = np.array([i.decode("utf-8") if isinstance(i, bytes) else i for i in ids])
        yield x, y, ids


def _rechunk(source, chunk_size, limit):
    """Regroup (x, y, ids) pieces into chunks of ``chunk_size`` examples, stopping at ``limit``."""
    pending, count = [], 0
    pending_n = 0
    for x, y, ids in source:
        if limit is not None and count + len(x) > limit:
            keep = limit - count
            x = x[:keep]
            y = None if y is None else y[:keep]
            ids = None if ids is None else ids[:keep]
        start = 0
        while start < len(x):
            take = min(chunk_size - pending_n, len(x) - start)
            pending.append((x[start:start + take], None if y is None else y[start:start + take],
                            None if ids is None else ids[start:start + take]))
            pending_n += take
            start += take
            if pending_n == chunk_size:
                yield _concat(pending)
                pending, pending_n = [], 0
        count += len(x)
        if limit is not None and count >= limit:
            break
    if pending:
        yield _concat(pending)


def _concat(pieces):
    x = np.concatenate([p[0] for p in pieces])
    y = None if any(p[1] is None for p in pieces) else np.concatenate([p[1] for p in pieces])
    ids = None if any(p[2] is None for p in pieces) else np.concatenate([p[2] for p in pieces])
    return x, y, ids


# ---------------------------------------------------------------------------------------------
# Conversion
# ---------------------------------------------------------------------------------------------

def _model_input(model):
    if len(model.inputs) != 1:
        raise ValueError(f"`model` has {len(model.inputs)} inputs; export_tflite supports models "
                         "with a single input tensor.")
    spec = model.inputs[0]
    return tuple(spec.shape[1:]), spec.dtype.as_numpy_dtype


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
    """Convert a tf_keras model (dense, pruned or QAT) to a TFLite flatbuffer.

    Parameters
    ----------
    model : tf_keras.Model
        Sequential or functional, one input. Pruned models must be stripped of tfmot's pruning
        wrappers (``pie_tf.PruneCallback`` does that after fit). A QAT model from
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
    check_model(model, "model")
    if mode not in MODES:
        raise ValueError(f"`mode` must be one of {MODES}; got {mode!r}.")
    if (isinstance(num_calibration_examples, bool) or not isinstance(num_calibration_examples,
                                                                    (int, np.integer))
            or num_calibration_examples < 1):
        raise ValueError("`num_calibration_examples` must be an integer >= 1; got "
                         f"{num_calibration_examples!r}.")
    from pie_tf.compress.quantize import _unquantizable_layers, is_quantization_aware

    pruning_left = [p for p in _unquantizable_layers(model, _AcceptAll())
                    if p.kind == "pruning_wrapper"]
    if pruning_left:
        raise ValueError(f"`model` cannot be exported: {pruning_left[0]}.")
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
        # The converter warns that QAT input statistics are "expected"; the QuantizeLayer holds them.
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


class _AcceptAll:
    """A stand-in registry for reusing the layer checks of quantize() without its registry."""

    @staticmethod
    def supports(layer):
        return True


# ---------------------------------------------------------------------------------------------
# The flatbuffer and its runner
# ---------------------------------------------------------------------------------------------

class TFLiteModel:
    """A TFLite flatbuffer with its size, a LiteRT runner and save/load.

    Parameters
    ----------
    flatbuffer : bytes
    mode : {"float32", "float16", "dynamic", "int8"}, optional
        Inferred from the tensor types when omitted (see :meth:`load`).

    Attributes
    ----------
    flatbuffer : bytes
    mode : str
    size_bytes : int
        Length of the flatbuffer.
    gzip_bytes : int
        Length after gzip at level 9 (deterministic header, mtime 0): the download size, and
        the figure in which weight sparsity shows up.
    quantization_aware : bool
        Exported from a QAT model; ``quantization_scheme`` then names its scheme
        (``"default_8bit"`` / ``"prune_preserve_8bit"``; None otherwise or after :meth:`load`).
    num_calibration_examples : int
        Examples that calibrated an int8 export (0 when none did).
    """

    def __init__(self, flatbuffer: bytes, mode: str | None = None, *,
                 quantization_aware: bool = False, num_calibration_examples: int = 0):
        if not isinstance(flatbuffer, (bytes, bytearray)) or len(flatbuffer) == 0:
            raise TypeError("`flatbuffer` must be non-empty bytes (a TFLite model).")
        self.flatbuffer = bytes(flatbuffer)
        self._interpreters = {}
        self._fallback_warned = False
        try:
            inferred = self._infer_mode()
        except ValueError as err:  # LiteRT's verifier: garbage or truncated bytes
            raise NotAFlatbufferError(f"`flatbuffer` ({len(flatbuffer)} bytes) is not a valid "
                                      f"TFLite model: {err}.") from None
        if mode is not None and mode not in MODES:
            raise ValueError(f"`mode` must be one of {MODES} or None; got {mode!r}.")
        self.mode = mode or inferred
        self.quantization_aware = quantization_aware
        self.quantization_scheme = None
        self.num_calibration_examples = num_calibration_examples

    # --- size, persistence ----------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        return len(self.flatbuffer)

    @property
    def gzip_bytes(self) -> int:
        return len(gzip.compress(self.flatbuffer, compresslevel=9, mtime=0))

    def save(self, path) -> str:
        """Write the flatbuffer to ``path`` (atomically) and return the path."""
        path = os.fspath(path)
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(self.flatbuffer)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        return path

    @classmethod
    def load(cls, path, mode: str | None = None) -> "TFLiteModel":
        """Read a ``.tflite`` file; ``mode`` is inferred from its tensors unless given.

        Inference: int8 input tensor or QUANTIZE ops -> ``int8``; float16 weights ->
        ``float16``; int8 weights otherwise -> ``dynamic``; else ``float32``.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"`path` {path!r} is not a file.")
        with open(path, "rb") as f:
            content = f.read()
        try:
            return cls(content, mode=mode)
        except NotAFlatbufferError as err:
            raise ModelFileError(path, f"{err} Re-export the model, or copy the file again if "
                                       "it was cut short.") from None

    def __repr__(self):
        return (f"TFLiteModel(mode={self.mode!r}, size_bytes={self.size_bytes}, "
                f"gzip_bytes={self.gzip_bytes})")

    # --- interpreters -----------------------------------------------------------------------
    def _new_interpreter(self, num_threads, builtin_only):
        kwargs = {"model_content": self.flatbuffer, "num_threads": num_threads}
        if builtin_only:
            kwargs["experimental_op_resolver_type"] = _OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        return _Interpreter(**kwargs)

    def _interpreter(self, num_threads=None):
        """A cached interpreter for ``num_threads``; falls back to builtin kernels if XNNPACK
        refuses the model (sparse flatbuffers)."""
        key = num_threads
        if key not in self._interpreters:
            self._interpreters[key] = self._allocated(
                self._new_interpreter(key, builtin_only=False), key)
        return self._interpreters[key]

    def _allocated(self, interpreter, key, batch=None):
        """``interpreter`` with its tensors allocated; if XNNPACK refuses the model, a
        builtin-kernel interpreter for ``key`` instead (its input resized to ``batch``).

        The runtime's errors carry no type or code saying a delegate refused the model, so the
        builtin kernels are tried on any allocation error: if they allocate, the delegate was the
        cause (and a warning says so); if they fail too, the original error is raised."""
        try:
            interpreter.allocate_tensors()
            return interpreter
        except (RuntimeError, ValueError) as error:
            delegate_error = error
        fallback = self._new_interpreter(key, builtin_only=True)
        try:
            if batch is not None:
                detail = fallback.get_input_details()[0]
                fallback.resize_tensor_input(detail["index"], [batch, *detail["shape"][1:]],
                                             strict=False)
            fallback.allocate_tensors()
        except (RuntimeError, ValueError):
            raise delegate_error from None
        self._warn_fallback(delegate_error)
        return fallback

    def _warn_fallback(self, error):
        if not self._fallback_warned:
            warnings.warn("XNNPACK cannot run this flatbuffer (" +
                          str(error).strip().splitlines()[0][:160] +
                          "); running it on TFLite's builtin kernels instead. This happens for "
                          "sparse-format (EXPERIMENTAL_SPARSITY) dynamic/int8 models; export "
                          "with sparse_format=False to use XNNPACK.", RuntimeWarning, stacklevel=5)
            self._fallback_warned = True

    def _resize(self, key, interpreter, n):
        detail = interpreter.get_input_details()[0]
        if detail["shape"][0] == n:
            return interpreter
        interpreter.resize_tensor_input(detail["index"], [n, *detail["shape"][1:]], strict=False)
        self._interpreters[key] = self._allocated(interpreter, key, n)
        return self._interpreters[key]

    @property
    def input_details(self):
        return self._interpreter(None).get_input_details()

    @property
    def output_details(self):
        return self._interpreter(None).get_output_details()

    def _infer_mode(self):
        interpreter = self._new_interpreter(None, builtin_only=True)
        inputs = interpreter.get_input_details()
        if any(np.dtype(d["dtype"]) in (np.int8, np.uint8) for d in inputs):
            return "int8"
        ops = {op["op_name"] for op in interpreter._get_ops_details()}
        dtypes = {np.dtype(d["dtype"]) for d in interpreter.get_tensor_details()}
        if "QUANTIZE" in ops:
            return "int8"
        if np.dtype(np.float16) in dtypes:
            return "float16"
        if np.dtype(np.int8) in dtypes:
            return "dynamic"
        return "float32"

    # --- inference --------------------------------------------------------------------------
    def _run_batch(self, key, x):
        interpreter = self._resize(key, self._interpreter(key), len(x))
        inp = interpreter.get_input_details()[0]
        dtype = np.dtype(inp["dtype"])
        if dtype in (np.int8, np.uint8, np.int16):
            scale, zero_point = inp["quantization"]
            info = np.iinfo(dtype)
            x = np.clip(np.round(np.asarray(x, np.float32) / scale + zero_point), info.min, info.max)
        interpreter.set_tensor(inp["index"], np.ascontiguousarray(x, dtype=dtype))
        interpreter.invoke()
        outputs = []
        for out in interpreter.get_output_details():
            y = interpreter.get_tensor(out["index"])
            if np.dtype(out["dtype"]) in (np.int8, np.uint8, np.int16):
                scale, zero_point = out["quantization"]
                y = (y.astype(np.float32) - zero_point) * scale
            outputs.append(np.array(y, dtype=np.float32))
        return outputs

    def _example_rank(self):
        return len(self._interpreter(None).get_input_details()[0]["shape"]) - 1

    def predict(self, x, batch_size: int = 32, num_threads: int | None = None, verbose="auto",
                *, input_key: str = "image"):
        """Run the flatbuffer on ``x`` like ``model.predict``.

        Parameters
        ----------
        x : ndarray of shape (n, *input_shape), or tf.data.Dataset
            Dataset elements: tensors, ``(x, y)`` tuples or pie_tf example dicts (input under
            ``input_key``), batched or not; any length. Inputs are cast to float32 (and, for an
            int8 model, quantized with the input tensor's scale and zero point).
        batch_size : int
            Examples per invocation (the input tensor is resized to it).
        num_threads : int, optional
            CPU threads for LiteRT (None: the runtime's default).
        verbose : "auto", 0 or 1
            A progress bar (in examples); "auto" shows one for runs of known length above 5000.

        Returns
        -------
        ndarray of shape (n, *output_shape), float32 (dequantized for int8 models); a list of
        them, in the flatbuffer's output order, for a model with several outputs.
        """
        _check_positive_int(batch_size, "batch_size")
        if num_threads is not None:
            _check_positive_int(num_threads, "num_threads")
        if verbose not in ("auto", 0, 1, True, False):
            raise ValueError(f"`verbose` must be 'auto', 0 or 1; got {verbose!r}.")
        rank = self._example_rank()
        if isinstance(x, tf.data.Dataset):
            total = int(x.cardinality().numpy())
            element_x = _element_parts(x.element_spec, input_key, "label", "id")[0]
            if total < 0 or len(element_x.shape) != rank:  # unknown length, or batched elements
                total = None
        else:
            total = len(x) if np.ndim(x) > rank else 1
        show = bool(verbose) if verbose != "auto" else (total is not None and total > 5000)
        progress = keras.utils.Progbar(total, unit_name="example") if show else None

        detail = self._interpreter(None).get_input_details()[0]
        expected = [int(d) for d in detail.get("shape_signature", detail["shape"])[1:]]
        collected = None
        done = 0
        for chunk, _, _ in iter_examples(x, rank, input_key=input_key, chunk_size=batch_size,
                                         argname="x"):
            if any(e not in (-1, g) for e, g in zip(expected, chunk.shape[1:])):
                raise InvalidArgumentError(
                    f"`x` has examples of shape {tuple(chunk.shape[1:])}; the model takes "
                    f"{tuple(None if e == -1 else e for e in expected)} (give (n, "
                    f"{', '.join(map(str, expected))}) or one example of that shape).")
            outputs = self._run_batch(num_threads, chunk)
            if collected is None:
                collected = [[] for _ in outputs]
            for store, y in zip(collected, outputs):
                store.append(y)
            done += len(chunk)
            if progress is not None:
                progress.update(done)
        if collected is None:
            raise ValueError("`x` holds no examples.")
        results = [np.concatenate(parts) for parts in collected]
        return results[0] if len(results) == 1 else results

    def latency(self, example, num_threads: int = 1, runs: int = 50, warmup: int = 5) -> float:
        """Median wall time, in seconds, of one single-example invocation.

        Parameters
        ----------
        example : ndarray of shape input_shape or (1, *input_shape)
        num_threads : int
        runs, warmup : int
            Timed invocations, and untimed ones before them (caches, XNNPACK packing).
        """
        _check_positive_int(num_threads, "num_threads")
        _check_positive_int(runs, "runs")
        example = np.asarray(example, np.float32)
        if example.ndim == self._example_rank():
            example = example[None]
        if example.shape[0] != 1:
            raise ValueError(f"`example` must be one example; got shape {example.shape}.")
        for _ in range(warmup):
            self._run_batch(num_threads, example)
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            self._run_batch(num_threads, example)
            times.append(time.perf_counter() - start)
        return float(np.median(times))

    def weight_sparsity(self) -> pd.DataFrame:
        """Exact zeros in the weight (filter) tensors of the flatbuffer's conv/dense ops.

        Returns
        -------
        DataFrame with one row per weight tensor: ``op``, ``tensor``, ``shape``, ``dtype``,
        ``size``, ``zeros``, ``sparsity``; ``DataFrame.attrs["overall"]`` is zeros / size over
        all rows. Quantized weights are symmetric (zero point 0), so a pruned weight stays an
        exact 0 in int8. Sparse-format tensors count the zeros their encoding leaves out.
        """
        interpreter = self._new_interpreter(None, builtin_only=True)
        interpreter.allocate_tensors()
        ops = interpreter._get_ops_details()
        producer = {t: op for op in ops for t in op["outputs"]}
        details = {d["index"]: d for d in interpreter.get_tensor_details()}
        rows = []
        for op in ops:
            position = _WEIGHT_OPS.get(op["op_name"])
            if position is None or len(op["inputs"]) <= position:
                continue
            index = op["inputs"][position]
            # float16 / sparse weights reach the op through a DEQUANTIZE / DENSIFY op
            while index in producer and producer[index]["op_name"] in ("DEQUANTIZE", "DENSIFY"):
                index = producer[index]["inputs"][0]
            try:
                values = interpreter.get_tensor(index)
            except ValueError:
                continue
            detail = details[index]
            shape = tuple(int(s) for s in detail["shape"])
            size = int(np.prod(shape))
            # a sparse-format tensor stores only its non-zero values
            stored_zeros = int(np.count_nonzero(values == 0))
            zeros = (size - values.size + stored_zeros) if detail.get("sparsity_parameters") \
                else stored_zeros
            rows.append({"op": op["op_name"], "tensor": detail["name"], "shape": shape,
                         "dtype": np.dtype(values.dtype).name, "size": size, "zeros": zeros})
        frame = pd.DataFrame(rows, columns=["op", "tensor", "shape", "dtype", "size", "zeros"])
        frame["sparsity"] = frame["zeros"] / frame["size"].where(frame["size"] > 0)
        total = int(frame["size"].sum())
        frame.attrs["overall"] = float(frame["zeros"].sum() / total) if total else 0.0
        return frame


def _check_positive_int(value, argname):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{argname}` must be an integer >= 1; got {value!r}.")
