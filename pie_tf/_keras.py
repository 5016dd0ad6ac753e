"""The one place pie_tf meets Keras: which Keras a model comes from, and what that Keras offers.

pie_tf takes models of both Keras flavours in one process and never chooses for the user:

* **Keras 3** (``import keras``; ``tf.keras`` in TensorFlow 2.16+ unless the user sets
  ``TF_USE_LEGACY_KERAS=1``) on the TensorFlow backend, and
* **tf_keras** (Keras 2: ``import tf_keras``, or ``tf.keras`` with ``TF_USE_LEGACY_KERAS=1``).

The rule: pie_tf dispatches on the model's class (a ``tf_keras.Model`` or a ``keras.Model``),
never on an environment variable. Importing pie_tf sets no environment variable and does not
resolve ``tf.keras``; tensorflow-model-optimization, which binds to tf_keras, is imported through
:mod:`pie_tf._tfmot`, which keeps it from doing either. ``pie_tf.keras`` stays the ``tf_keras``
module (the Keras of tfmot and of pie_tf's own ResNets); Keras 3 users keep ``import keras``.

Models that reach a pie_tf API are checked with :func:`check_model`.
"""
from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

__all__ = ["keras", "tf", "check_model", "is_keras3_model", "keras3", "keras_of",
           "is_model", "flavour", "weight_name", "tf_variable", "TF_KERAS", "KERAS3",
           "Callback", "callback_classes", "KerasSaveable", "input_spec"]

TF_KERAS, KERAS3 = "tf_keras", "keras3"

try:  # Keras 3 is a TensorFlow dependency, but its import fails for a backend not installed.
    import keras as _keras3
    if not str(_keras3.__version__).startswith("3."):
        _keras3 = None
except ImportError:  # pragma: no cover - depends on the environment
    _keras3 = None


def keras3():
    """The Keras 3 module, or ``None`` where Keras 3 cannot be imported."""
    return _keras3


if _keras3 is not None:
    from keras.src.saving.keras_saveable import KerasSaveable
else:  # pragma: no cover
    KerasSaveable = object


def is_keras3_model(obj) -> bool:
    """True when ``obj`` is a model or layer from the Keras 3 package (``keras>=3``)."""
    for cls in type(obj).__mro__:
        module = getattr(cls, "__module__", "") or ""
        if module == "keras" or module.startswith("keras.") or module.startswith("keras.src"):
            return True
    return False


def flavour(obj):
    """``"keras3"``, ``"tf_keras"`` or ``None``: the Keras ``obj`` (model, layer) belongs to."""
    if _keras3 is not None and isinstance(obj, (_keras3.layers.Layer, _keras3.Model)):
        return KERAS3
    if isinstance(obj, keras.layers.Layer):
        return TF_KERAS
    return KERAS3 if is_keras3_model(obj) else None


def keras_of(obj):
    """The Keras module of ``obj``'s flavour (``keras`` or ``tf_keras``)."""
    return _keras3 if flavour(obj) == KERAS3 else keras


def is_model(obj) -> bool:
    """Whether ``obj`` is a model of either Keras."""
    return isinstance(obj, keras.Model) or (
        _keras3 is not None and isinstance(obj, _keras3.Model))


def input_spec(model):
    """(shape without the batch dimension, numpy dtype) of ``model``'s first input, either Keras.

    A Keras 3 input is a ``KerasTensor`` (a shape tuple and a dtype name), a tf_keras one a
    symbolic tensor (a ``TensorShape`` and a ``tf.DType``).
    """
    spec = model.inputs[0]
    return tuple(spec.shape)[1:], tf.as_dtype(spec.dtype).as_numpy_dtype


def callback_classes(name):
    """``keras.callbacks.<name>`` of both flavours, for isinstance checks."""
    classes = [getattr(keras.callbacks, name)]
    if _keras3 is not None:
        classes.append(getattr(_keras3.callbacks, name))
    return tuple(classes)


def weight_name(weight):
    """A weight's unique name: ``path`` (``"dense/kernel"``) in Keras 3, ``name`` in tf_keras."""
    path = getattr(weight, "path", None)
    return path if isinstance(path, str) and not isinstance(weight, tf.Variable) else weight.name


def tf_variable(weight):
    """The ``tf.Variable`` holding ``weight`` (a Keras 3 variable's ``.value`` on TensorFlow)."""
    if isinstance(weight, tf.Variable):
        return weight
    value = getattr(weight, "_value", None)
    if isinstance(value, tf.Variable):
        return value
    raise TypeError(f"weight {weight_name(weight)!r} is not backed by a tf.Variable "
                    f"({type(weight).__name__}); pie_tf needs Keras on the TensorFlow backend.")


_CALLBACK_BASES = (keras.callbacks.Callback,) + (
    (_keras3.callbacks.Callback,) if _keras3 is not None else ())


class Callback(*_CALLBACK_BASES):
    """A callback that is a ``keras.callbacks.Callback`` of both Keras flavours.

    A pie_tf callback is made before the model it will see, so it is an instance of both
    ``tf_keras.callbacks.Callback`` and ``keras.callbacks.Callback``: either Keras's ``fit``
    (and ``isinstance`` checks in user code) takes it as its own.
    """

    def __init__(self):
        self._model = None
        keras.callbacks.Callback.__init__(self)

    @property
    def model(self):
        return self._model

    @model.setter
    def model(self, value):
        self._model = value

    def set_model(self, model):
        self._model = model


_KERAS3_HINT = (
    "This pie_tf function works on tf_keras models only (the `tf_keras` package), because "
    "tensorflow-model-optimization supports nothing else. Build the model with "
    "`import tf_keras as keras` (or `from pie_tf import keras`), or set TF_USE_LEGACY_KERAS=1 "
    "before importing TensorFlow and use `tf.keras`."
)


def _check_keras3_backend(argname):
    backend = _keras3.backend.backend()
    if backend != "tensorflow":
        raise TypeError(
            f"`{argname}` is a Keras 3 model on the {backend!r} backend; pie_tf prunes and "
            "exports Keras 3 models on the TensorFlow backend only (its masks, schedules and "
            "TFLite conversion are TensorFlow ops on tf.Variables). Set KERAS_BACKEND=tensorflow "
            "before importing keras, or keras.config.set_backend('tensorflow').")


def _is_graph_network(model):
    if _keras3 is not None and isinstance(model, _keras3.Model):
        from keras.src.models.functional import Functional
        return isinstance(model, (_keras3.Sequential, Functional))
    return isinstance(model, keras.Sequential) or getattr(model, "_is_graph_network", False)


def check_model(model, argname: str = "model", *, allow_subclassed: bool = False,
                allow_keras3: bool = False, keras3_hint: str | None = None):
    """Validate that ``model`` is a Sequential or functional model of either Keras.

    Parameters
    ----------
    allow_keras3 : bool
        False where the caller supports tf_keras models only; ``keras3_hint`` then says what to
        use instead (default: build the model with tf_keras).

    Raises
    ------
    TypeError
        When ``model`` is not a Keras model, is a Keras 3 model on a backend other than
        TensorFlow (or where refused), or (unless ``allow_subclassed``) is a subclassed model.
    """
    kind = flavour(model)
    if kind == KERAS3:
        if not allow_keras3 or _keras3 is None:
            raise TypeError(f"`{argname}` is a Keras 3 model ({type(model).__module__}."
                            f"{type(model).__name__}). {keras3_hint or _KERAS3_HINT}")
        if not isinstance(model, _keras3.Model):
            raise TypeError(f"`{argname}` must be a keras.Model (Sequential or functional); got "
                            f"{type(model).__module__}.{type(model).__name__}.")
        _check_keras3_backend(argname)
    elif not isinstance(model, keras.Model):
        raise TypeError(f"`{argname}` must be a keras.Model or tf_keras.Model (Sequential or "
                        f"functional); got {type(model).__module__}.{type(model).__name__}.")
    if not allow_subclassed and not _is_graph_network(model):
        raise TypeError(
            f"`{argname}` is a subclassed model ({type(model).__name__}); pie_tf needs a "
            "Sequential or functional model, because pruning and quantization work layer by "
            "layer and export rebuilds the model from its config. Rewrite it with the "
            "functional API (inputs = keras.Input(...); outputs = ...; "
            "keras.Model(inputs, outputs)).")
    return model
