"""pie_tf's Keras seam: models of both Keras pass where supported, in one process, whatever the
import order; subclassed models and Keras 3 models where unsupported get a clear error."""
import json
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


def test_keras3_models_pass_where_allowed_and_are_refused_with_the_way_out_elsewhere():
    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    assert is_keras3_model(model)
    assert check_model(model, allow_keras3=True) is model
    with pytest.raises(TypeError, match=r"`my_model` is a Keras 3 model.*tf_keras models only"):
        check_model(model, "my_model")
    with pytest.raises(TypeError, match=r"subclassed.*functional API"):
        check_model(keras3.Model(), allow_keras3=True)


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
    with pytest.raises(TypeError, match="must be a keras.Model or tf_keras.Model"):
        check_model("not a model")


# Each script prunes a model of each Keras in one process, after importing in the given order,
# and prints what became of the user's Keras.
_PRUNE_BOTH = """
import json, os
import numpy as np
import keras, tf_keras
import pie_tf

def prune(k):
    model = k.Sequential([k.Input((8,)), k.layers.Dense(16, name="hidden")])
    model.compile("sgd", "mse")
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    model.fit(x, x @ np.ones((8, 16), "float32"), batch_size=8, epochs=2, verbose=0,
              callbacks=[pie_tf.PruneCallback(0.75)])
    return float(pie_tf.sparsity_report(model).attrs["overall_sparsity"])

user_model = tf.keras.Sequential([tf.keras.Input((8,)), tf.keras.layers.Dense(16)])
print(json.dumps({"env": os.environ.get("TF_USE_LEGACY_KERAS"),
                  "tf_keras_is": "keras3" if isinstance(user_model, keras.Model) else "tf_keras",
                  "keras3": prune(keras), "tf_keras": prune(tf_keras)}))
"""

_ORDERS = {
    # pie_tf (and tfmot through it) before tf.keras is first used: tf.keras stays Keras 3.
    "pie_tf_first": ("import pie_tf; pie_tf.PruneCallback; import tensorflow as tf", None),
    # tf.keras used first, then pie_tf.
    "tf_keras_first": ("import tensorflow as tf; tf.keras.layers.Dense; import pie_tf", None),
    # The user asked for Keras 2 through the environment: pie_tf keeps it.
    "legacy_env": ("import pie_tf; pie_tf.PruneCallback; import tensorflow as tf", "1"),
    # tfmot imported by the user first (tfmot then sets the variable itself, as it always does).
    "tfmot_first": ("import tensorflow_model_optimization, pie_tf; import tensorflow as tf",
                    None),
}


@pytest.mark.slow
@pytest.mark.parametrize("order", sorted(_ORDERS))
def test_both_keras_in_one_process_whatever_the_import_order(order):
    head, env_value = _ORDERS[order]
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    if env_value is not None:
        env["TF_USE_LEGACY_KERAS"] = env_value
    out = subprocess.run([sys.executable, "-c", head + "\n" + _PRUNE_BOTH], env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["keras3"] == result["tf_keras"] == 0.75
    expected = {"pie_tf_first": (None, "keras3"), "tf_keras_first": (None, "keras3"),
                "legacy_env": ("1", "tf_keras"), "tfmot_first": ("1", "tf_keras")}[order]
    assert (result["env"], result["tf_keras_is"]) == expected


def test_unknown_public_name():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pie_tf.nope  # noqa: B018
