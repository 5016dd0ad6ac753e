"""pie_tf.export: a tf_keras model as a TFLite flatbuffer, run the way a device runs it.

Public names (loaded on first use)::

    export_tflite(model, mode)      # float32 | float16 | dynamic | int8 flatbuffer (tflite.py)
    TFLiteModel                     # the flatbuffer: size, save/load, LiteRT predict, latency
    MODES, RUNTIME                  # the export modes; the runtime in use ("ai_edge_litert")
    iter_examples(data, rank)       # arrays or tf.data, in chunks of (x, labels, ids)
    compare_deployment(...)         # a TFLite model against the Keras model it came from
    DeploymentComparison, keras_weight_bytes, to_probabilities

Modules: ``tflite`` (conversion), ``compare`` (deployment comparison); ``_examples`` (reading
examples) and ``_runtime`` (:class:`TFLiteModel`) are internal, their names exported here.
"""
from __future__ import annotations

from pie_tf._lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(__name__, {
    "pie_tf.export.tflite": ["export_tflite"],
    "pie_tf.export._runtime": ["TFLiteModel", "MODES", "RUNTIME"],
    "pie_tf.export._examples": ["iter_examples"],
    "pie_tf.export.compare": ["compare_deployment", "DeploymentComparison", "keras_weight_bytes",
                              "to_probabilities"],
})
