"""A TFLite flatbuffer and its runner: size, save/load, LiteRT inference, latency, weight sparsity.

Sparse storage: a flatbuffer converted with TFLite's ``EXPERIMENTAL_SPARSITY`` optimization
stores pruned weights in a sparse format, but dynamic-range and int8 models converted that way
fail to delegate to XNNPACK at run time (measured, TF 2.21 / LiteRT 2.x). When such a flatbuffer
is run, :class:`TFLiteModel` falls back to the builtin kernels with a warning instead of failing.
"""
from __future__ import annotations

import gzip
import os
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

from pie_tf._keras import keras, tf
from pie_tf.errors import InvalidArgumentError, ModelFileError, NotAFlatbufferError
from pie_tf.export._examples import check_positive_int, element_parts, iter_examples

try:  # LiteRT replaces tf.lite.Interpreter, which is deprecated.
    from ai_edge_litert.interpreter import Interpreter as _Interpreter
    from ai_edge_litert.interpreter import OpResolverType as _OpResolverType
    RUNTIME = "ai_edge_litert"
except ImportError:  # pragma: no cover - exercised only where ai-edge-litert is absent
    _Interpreter = tf.lite.Interpreter
    _OpResolverType = tf.lite.experimental.OpResolverType
    RUNTIME = "tf.lite"

__all__ = ["TFLiteModel", "MODES", "RUNTIME"]

MODES = ("float32", "float16", "dynamic", "int8")

_WEIGHT_OPS = {"CONV_2D": 1, "DEPTHWISE_CONV_2D": 1, "FULLY_CONNECTED": 1, "TRANSPOSE_CONV": 1}


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
            kwargs["experimental_op_resolver_type"] = (
                _OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
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
            x = np.clip(np.round(np.asarray(x, np.float32) / scale + zero_point),
                        info.min, info.max)
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
        check_positive_int(batch_size, "batch_size")
        if num_threads is not None:
            check_positive_int(num_threads, "num_threads")
        if verbose not in ("auto", 0, 1, True, False):
            raise ValueError(f"`verbose` must be 'auto', 0 or 1; got {verbose!r}.")
        rank = self._example_rank()
        if isinstance(x, tf.data.Dataset):
            total = int(x.cardinality().numpy())
            element_x = element_parts(x.element_spec, input_key, "label", "id")[0]
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
        check_positive_int(num_threads, "num_threads")
        check_positive_int(runs, "runs")
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

