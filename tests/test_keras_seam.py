"""pie_tf's Keras seam: tf_keras models pass, Keras 3 and subclassed models get a clear error."""
import os
import subprocess
import sys

import keras as keras3
import pytest

import pie_tf
from pie_tf._keras import check_model, is_keras3_model, keras


def _functional():
    inputs = keras.Input((4,))
    return keras.Model(inputs, keras.layers.Dense(2)(inputs))


def test_tf_keras_models_pass():
    model = _functional()
    assert check_model(model) is model
    seq = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    assert check_model(seq) is seq
    assert pie_tf.keras is keras


def test_keras3_model_is_refused_with_the_way_out():
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    assert is_keras3_model(model)
    with pytest.raises(TypeError, match=r"`my_model` is a Keras 3 model.*tf_keras"):
        check_model(model, "my_model")


def test_subclassed_and_foreign_objects_are_refused():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match="subclassed.*functional API"):
        check_model(Net())
    assert check_model(Net(), allow_subclassed=True) is not None
    with pytest.raises(TypeError, match="must be a tf_keras.Model"):
        check_model("not a model")


def test_import_sets_legacy_keras_without_overriding_the_user():
    code = "import os, pie_tf; print(os.environ['TF_USE_LEGACY_KERAS'])"
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "1"
    out = subprocess.run([sys.executable, "-c", code], env={**env, "TF_USE_LEGACY_KERAS": "0"},
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_unknown_public_name():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pie_tf.nope  # noqa: B018
