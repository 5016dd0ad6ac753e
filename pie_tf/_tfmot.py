"""tensorflow-model-optimization, imported without changing the user's Keras.

tfmot 0.8 binds to tf_keras in ``tensorflow_model_optimization/python/core/keras/compat.py``: on
import it sets ``TF_USE_LEGACY_KERAS=1`` and reads ``tf.keras.version`` -- which, when the user
has not touched ``tf.keras`` yet, resolves TensorFlow's lazy ``tf.keras`` to tf_keras for the
rest of the process. A user who imports pie_tf and then builds a ``tf.keras`` model would get
Keras 2 without asking.

Every pie_tf module takes tfmot from here. The first import hands compat.py a stand-in for the
unresolved ``tf.keras`` that reports Keras 3 (so compat.py takes its own Keras 3 branch and
imports ``tf_keras``, the Keras it uses whenever ``tf.keras`` is Keras 3), then puts TensorFlow's
lazy loader back and restores the environment variable. tfmot's ``keras`` is tf_keras either way;
``tf.keras`` and ``TF_USE_LEGACY_KERAS`` stay what the user makes of them.
"""
from __future__ import annotations

import os
import sys
import types

import tensorflow as tf

_ENV = "TF_USE_LEGACY_KERAS"
_COMPAT = "tensorflow_model_optimization.python.core.keras.compat"


def _import_tfmot():
    if _COMPAT in sys.modules:          # imported before pie_tf (by the user): nothing to keep
        import tensorflow_model_optimization
        return tensorflow_model_optimization
    saved = os.environ.get(_ENV)
    loader = vars(tf).get("keras")
    unresolved = (type(loader).__name__ == "KerasLazyLoader"
                  and not getattr(loader, "_tfll_initialized", True))
    try:
        if unresolved:
            tf.keras = types.SimpleNamespace(version=lambda: "3.0")
        import tensorflow_model_optimization
    finally:
        if unresolved:
            tf.keras = loader
        if saved is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = saved
    return tensorflow_model_optimization


tfmot = _import_tfmot()

from tensorflow_model_optimization.python.core.quantization.keras import quantize_wrapper  # noqa
from tensorflow_model_optimization.python.core.sparsity.keras import prunable_layer  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl  # noqa: E402
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_wrapper  # noqa: E402
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity  # noqa: E402

__all__ = ["tfmot", "quantize_wrapper", "prunable_layer", "prune_registry", "pruning_impl",
           "pruning_wrapper", "tfmot_sparsity"]
