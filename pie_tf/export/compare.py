"""Compare a deployed TFLite model with the Keras model it came from, example by example.

Export can change predictions (float16 rounding, int8 calibration, fused kernels). The comparison
reports what a user must know before shipping: accuracy of each, how often they agree (label
loyalty), how close their class distributions are (probability loyalty, ``1 - sqrt(JS)`` in bits,
as in the compression lecture notes the project follows), which examples they disagree on (the
"deployment-identified exemplars", by analogy with Hooker et al.'s compression-identified
exemplars, here for one model pair rather than populations), sizes and single-example latency.
"""
from __future__ import annotations

import gzip
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pie_tf._keras import check_model, input_spec, tf
from pie_tf._probabilities import (
    as_probabilities, check_kind, looks_like_probabilities, renormalize)
from pie_tf.audit import label_loyalty, probability_loyalty
from pie_tf.errors import InvalidArgumentError
from pie_tf.export._examples import check_positive_int, iter_examples
from pie_tf.export._runtime import TFLiteModel

__all__ = ["compare_deployment", "DeploymentComparison", "keras_weight_bytes", "to_probabilities"]


@dataclass
class DeploymentComparison:
    """What :func:`compare_deployment` measured.

    Attributes
    ----------
    summary : pandas.Series
        ``n_examples``, ``keras_accuracy``, ``tflite_accuracy``, ``label_agreement`` (mean label
        loyalty), ``probability_loyalty`` (mean), ``n_disagreements``, sizes and latencies.
    per_example : pandas.DataFrame
        One row per example, indexed by ``id``: ``label`` (when known), ``keras_label``,
        ``tflite_label``, ``agree``, ``probability_loyalty``.
    sizes : pandas.DataFrame
        Rows ``keras`` and ``tflite``; columns ``bytes``, ``gzip_bytes``, ``what``.
    latency : pandas.DataFrame
        One row per thread count: ``median_ms`` of single-example TFLite invocations, ``runs``.
    mode : str
        The TFLite model's mode.
    """

    summary: pd.Series
    per_example: pd.DataFrame
    sizes: pd.DataFrame
    latency: pd.DataFrame
    mode: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def exemplars(self) -> np.ndarray:
        """Ids of the examples whose top-1 label differs between Keras and TFLite."""
        return self.per_example.index[~self.per_example["agree"].to_numpy()].to_numpy()

    @property
    def keras_accuracy(self) -> float:
        return float(self.summary["keras_accuracy"])

    @property
    def tflite_accuracy(self) -> float:
        return float(self.summary["tflite_accuracy"])

    @property
    def label_agreement(self) -> float:
        return float(self.summary["label_agreement"])

    @property
    def probability_loyalty(self) -> float:
        return float(self.summary["probability_loyalty"])

    def __repr__(self):
        return f"DeploymentComparison(mode={self.mode!r})\n{self.summary.to_string()}"


def keras_weight_bytes(model):
    """Raw and gzip-9 bytes of ``model``'s weights as float arrays, concatenated in layer order.

    This is pie_tf's "Keras model size": the parameters a framework file must store, without any
    format overhead (an .h5/.keras file adds the architecture and optimizer state on top, a
    float32 flatbuffer adds the graph). Pruned weights' zeros show in the gzip figure.

    Returns
    -------
    (int, int)
    """
    blob = b"".join(np.ascontiguousarray(w).tobytes() for w in model.get_weights())
    return len(blob), len(gzip.compress(blob, compresslevel=9, mtime=0))


def to_probabilities(outputs, kind: str = "auto"):
    """Class probabilities from model outputs, by pie_tf's one probability policy.

    Parameters
    ----------
    outputs : ndarray of shape (n, n_classes) or (n, 1) / (n,)
        One column: a binary classifier (sigmoid output or its logit), expanded to
        ``[1 - p, p]``.
    kind : {"auto", "logits", "probabilities"}
        "auto" treats rows that are non-negative and sum to 1 (tolerance 1e-3) as probabilities
        (single column: values in [0, 1]), anything else as logits (softmax / sigmoid); see
        :func:`pie_tf._probabilities.as_probabilities`.

    Returns
    -------
    ndarray of shape (n, max(n_classes, 2)), float64.

    Raises
    ------
    pie_tf.errors.NotProbabilitiesError
    """
    y = np.asarray(outputs)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"model outputs must have shape (n,) or (n, n_classes); got {y.shape}.")
    return as_probabilities(y, kind, argname="outputs")


def compare_deployment(keras_model, tflite_model, data, *, labels=None, ids=None,
                       outputs: str = "auto", batch_size: int = 64, input_key: str = "image",
                       label_key: str = "label", id_key: str = "id", latency_threads=(1, 2),
                       latency_runs: int = 50) -> DeploymentComparison:
    """Run ``keras_model`` and ``tflite_model`` on the same examples and compare them.

    Parameters
    ----------
    keras_model : keras.Model or tf_keras.Model
        The model the flatbuffer was exported from (dense, pruned or QAT).
    tflite_model : TFLiteModel
        From :func:`pie_tf.export_tflite` or :meth:`TFLiteModel.load`.
    data : ndarray of shape (n, *input_shape), or tf.data.Dataset
        Dataset elements: pie_tf example dicts (``image``, ``label``, ``id``, ... under the keys
        given), ``(x, y)`` tuples or tensors, batched or not. Streamed in chunks of
        ``batch_size``, so any length works.
    labels, ids : array_like of shape (n,), optional
        For array ``data``. Without labels the accuracies are NaN; without ids the ids are the
        example positions 0..n-1.
    outputs : {"auto", "logits", "probabilities"}
        What the models output; see :func:`to_probabilities`. Decided once, from the Keras
        model's first chunk, and applied to both models.
    latency_threads : tuple of int
        Thread counts at which the median single-example latency of the flatbuffer is measured
        (on the first example).
    latency_runs : int
        Timed invocations per thread count.

    Returns
    -------
    DeploymentComparison
    """
    check_model(keras_model, "keras_model", allow_keras3=True)
    if not isinstance(tflite_model, TFLiteModel):
        raise TypeError("`tflite_model` must be a pie_tf TFLiteModel (from pie_tf.export_tflite or "
                        f"TFLiteModel.load); got {type(tflite_model).__name__}.")
    check_kind(outputs, "outputs")
    check_positive_int(batch_size, "batch_size")
    check_positive_int(latency_runs, "latency_runs")
    latency_threads = tuple(latency_threads)
    for threads in latency_threads:
        check_positive_int(threads, "latency_threads")
    if len(keras_model.inputs) != 1 or len(keras_model.outputs) != 1:
        raise ValueError("compare_deployment supports models with one input and one output.")

    shape, dtype = input_spec(keras_model)
    rank = len(shape)
    keras_probs, tflite_probs, all_labels, all_ids = [], [], [], []
    kind, first_example, position = outputs, None, 0
    for x, y, chunk_ids in iter_examples(data, rank, input_key=input_key, label_key=label_key,
                                         id_key=id_key, labels=labels, ids=ids,
                                         chunk_size=batch_size, argname="data"):
        x = x.astype(dtype, copy=False)
        if first_example is None:
            first_example = x[:1]
        keras_out = np.asarray(keras_model(tf.constant(x), training=False))
        tflite_out = tflite_model.predict(x, batch_size=batch_size, verbose=0)
        if kind == "auto":
            kind = "probabilities" if looks_like_probabilities(keras_out) else "logits"
        keras_probs.append(to_probabilities(keras_out, kind))
        if kind == "probabilities":  # an int8 softmax, dequantized, sums to 1 +- a few 1e-3
            tflite_out = renormalize(np.asarray(tflite_out, dtype=np.float64))
        tflite_probs.append(to_probabilities(tflite_out, kind))
        all_labels.append(y)
        all_ids.append(np.arange(position, position + len(x)) if chunk_ids is None else chunk_ids)
        position += len(x)
    if first_example is None:
        raise ValueError("`data` holds no examples.")

    keras_probs = np.concatenate(keras_probs)
    tflite_probs = np.concatenate(tflite_probs)
    if keras_probs.shape != tflite_probs.shape:
        raise ValueError(f"the Keras model outputs shape {keras_probs.shape[1:]} but the TFLite "
                         f"model {tflite_probs.shape[1:]}: they are not the same model.")
    keras_labels = keras_probs.argmax(axis=1)
    tflite_labels = tflite_probs.argmax(axis=1)
    agree = label_loyalty(tflite_labels, keras_labels)
    with np.errstate(invalid="ignore"):  # scipy's sqrt of a -1e-17 JS (identical rows) -> 0
        loyalty = probability_loyalty(tflite_probs, keras_probs)
    ids_array = np.concatenate(all_ids)
    per_example = pd.DataFrame({"keras_label": keras_labels, "tflite_label": tflite_labels,
                                "agree": agree, "probability_loyalty": loyalty},
                               index=pd.Index(ids_array, name="id"))
    if any(y is None for y in all_labels):
        true_labels = None
        keras_accuracy = tflite_accuracy = float("nan")
    else:
        true_labels = _check_true_labels(np.concatenate(all_labels), keras_probs.shape[1])
        per_example.insert(0, "label", true_labels)
        keras_accuracy = float(np.mean(keras_labels == true_labels))
        tflite_accuracy = float(np.mean(tflite_labels == true_labels))

    keras_raw, keras_gzip = keras_weight_bytes(keras_model)
    sizes = pd.DataFrame(
        {"bytes": [keras_raw, tflite_model.size_bytes],
         "gzip_bytes": [keras_gzip, tflite_model.gzip_bytes],
         "what": ["Keras weights (float arrays, concatenated)",
                  f"TFLite flatbuffer ({tflite_model.mode})"]},
        index=pd.Index(["keras", "tflite"], name="model"))
    latency = pd.DataFrame(
        {"median_ms": [1e3 * tflite_model.latency(first_example, num_threads=t, runs=latency_runs)
                       for t in latency_threads],
         "runs": latency_runs},
        index=pd.Index(latency_threads, name="num_threads"))

    summary = pd.Series({
        "n_examples": len(ids_array),
        "keras_accuracy": keras_accuracy,
        "tflite_accuracy": tflite_accuracy,
        "label_agreement": float(agree.mean()),
        "probability_loyalty": float(loyalty.mean()),
        "n_disagreements": int((~agree).sum()),
        "keras_bytes": keras_raw, "keras_gzip_bytes": keras_gzip,
        "tflite_bytes": tflite_model.size_bytes, "tflite_gzip_bytes": tflite_model.gzip_bytes,
        **{f"latency_ms_{t}_threads": v for t, v in zip(latency_threads, latency["median_ms"])},
    }, dtype=object)
    return DeploymentComparison(summary=summary, per_example=per_example, sizes=sizes,
                                latency=latency, mode=tflite_model.mode,
                                extra={"outputs": kind})


def _check_true_labels(labels, n_classes):
    """Integer class indices in [0, n_classes): anything else would score accuracy 0 silently."""
    labels = np.asarray(labels)
    if (labels.dtype.kind == "f" and np.all(np.isfinite(labels))
            and np.all(labels == np.round(labels))):
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iub":
        raise InvalidArgumentError(f"`labels` must be integer class indices; got dtype "
                                   f"{labels.dtype} (e.g. {labels.ravel()[:3].tolist()}).")
    labels = labels.astype(np.int64)
    outside = (labels < 0) | (labels >= n_classes)
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        raise InvalidArgumentError(f"`labels` must be class indices in [0, {n_classes}) (the "
                                   f"models output {n_classes} classes); labels[{first}] is "
                                   f"{int(labels[first])} ({int(outside.sum())} outside).")
    return labels

