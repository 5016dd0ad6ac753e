"""The one place pie_tf meets Keras.

tensorflow-model-optimization 0.8 supports only Keras 2 (the ``tf_keras`` package). TensorFlow
2.16+ makes ``tf.keras`` Keras 3 unless ``TF_USE_LEGACY_KERAS=1`` is set before ``tf.keras`` is
first used, so this module sets it (without overriding a user's explicit choice) and every pie_tf
module takes ``keras`` from here. Models that reach a pie_tf API are checked with
:func:`check_model`, which turns a Keras 3 model or a subclassed model into an error that says
what to build instead.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402  (the variable above must be set first)
import tf_keras as keras  # noqa: E402

__all__ = ["keras", "tf", "check_model", "is_keras3_model"]

_KERAS3_HINT = (
    "pie_tf works on Keras 2 models (the `tf_keras` package), because "
    "tensorflow-model-optimization "
    "supports nothing else. Build the model with `import tf_keras as keras` (or "
    "`from pie_tf import keras`), or set TF_USE_LEGACY_KERAS=1 before importing TensorFlow and use "
    "`tf.keras`."
)


def is_keras3_model(obj) -> bool:
    """True when ``obj`` is a model or layer from the Keras 3 package (``keras>=3``)."""
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module == "keras" or module.startswith("keras.") or module.startswith("keras.src"):
            return True
    return False


def check_model(model, argname: str = "model", *, allow_subclassed: bool = False):
    """Validate that ``model`` is a tf_keras Sequential or functional model.

    Raises
    ------
    TypeError
        When ``model`` is not a Keras model, is a Keras 3 model, or (unless ``allow_subclassed``)
        is a subclassed model, whose layers tfmot cannot wrap.
    """
    if is_keras3_model(model):
        raise TypeError(f"`{argname}` is a Keras 3 model ({type(model).__module__}."
                        f"{type(model).__name__}). {_KERAS3_HINT}")
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{argname}` must be a tf_keras.Model (Sequential or functional); got "
                        f"{type(model).__module__}.{type(model).__name__}.")
    if not allow_subclassed:
        is_graph_network = isinstance(model, keras.Sequential) or getattr(
            model, "_is_graph_network", False)
        if not is_graph_network:
            raise TypeError(
                f"`{argname}` is a subclassed model ({type(model).__name__}); pie_tf needs a "
                "Sequential or functional tf_keras model, because pruning and quantization wrap "
                "each layer. Rewrite it with the functional API (inputs = keras.Input(...); "
                "outputs = ...; keras.Model(inputs, outputs)).")
    return model
