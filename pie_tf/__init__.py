"""pie_tf: compress Keras models, then show what the compression cost.

Public API (imported lazily, so ``import pie_tf`` stays cheap and each part loads on first use)::

    pie_tf.PruneCallback(0.9)          # prune a plain Keras 3 (or tf_keras) model during fit
    pie_tf.sparsity_report(model)      # one row per weight tensor
    pie_tf.clone_dense(model)          # an independent copy to keep before pruning
    pie_tf.quantize(model)             # quantization-aware training model (tfmot; tf_keras only)
    pie_tf.QuantizeCallback(...)       # freeze BN statistics / quantizer ranges late in QAT
    pie_tf.mitigation                  # distillation / re-weighting during the pruning run
    pie_tf.export_tflite(model, mode)  # float32 | float16 | dynamic | int8 flatbuffer
    pie_tf.compare_deployment(...)     # a TFLite model against the Keras model it came from
    pie_tf.audit(...)                  # PIE/CIE, class impact, attributes, loyalty, robustness
    pie_tf.data, pie_tf.corruptions, pie_tf.models, pie_tf.store, pie_tf.population, pie_tf.report
    pie_tf.errors                      # the typed errors pie_tf raises, to catch by type

pie_tf takes Keras 3 models (``import keras``, TensorFlow backend) and tf_keras (Keras 2) models in
the same process, and dispatches on the model's class. Importing pie_tf changes nothing about the
user's Keras: it sets no ``TF_USE_LEGACY_KERAS`` and does not resolve ``tf.keras``, and it imports
tfmot so that tfmot does not either (see ``pie_tf._tfmot``). ``pie_tf.keras`` is the ``tf_keras``
module, for the parts that need tfmot's Keras (quantization-aware training).
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> (module, attribute); attribute None means the module itself.
_API = {
    "keras": ("pie_tf._keras", "keras"),
    "PruneCallback": ("pie_tf.compress.pruning", "PruneCallback"),
    "sparsity_report": ("pie_tf.compress.sparsity", "sparsity_report"),
    "clone_dense": ("pie_tf.compress.pruning", "clone_dense"),
    "quantize": ("pie_tf.compress.quantize", "quantize"),
    "QuantizeCallback": ("pie_tf.compress.quantize", "QuantizeCallback"),
    "mitigation": ("pie_tf.compress.mitigation", None),
    "export_tflite": ("pie_tf.export.tflite", "export_tflite"),
    "TFLiteModel": ("pie_tf.export.tflite", "TFLiteModel"),
    "compare_deployment": ("pie_tf.export.compare", "compare_deployment"),
    # The audit package module is callable (pie_tf.audit(...) builds an Audit) and also holds
    # the audit functions, so the name resolves to the module, not to the function.
    "audit": ("pie_tf.audit", None),
    "Audit": ("pie_tf.audit", "Audit"),
    "PredictionStore": ("pie_tf.store", "PredictionStore"),
    "data": ("pie_tf.data", None),
    "corruptions": ("pie_tf.corruptions", None),
    "models": ("pie_tf.models", None),
    "store": ("pie_tf.store", None),
    "population": ("pie_tf.population", None),
    "report": ("pie_tf.report", None),
    "errors": ("pie_tf.errors", None),
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    try:
        module_name, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'pie_tf' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return __all__
