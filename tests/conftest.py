"""Shared test set-up: quiet, seeded TensorFlow with two logical CPU devices.

Two logical CPUs let MirroredStrategy tests run on this machine; they must be configured before
TensorFlow initialises its devices, hence here, at collection time.
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras  # noqa: E402

import keras as keras3  # noqa: E402  (Keras 3, installed with TensorFlow)

# --doctest-modules (pyproject.toml) would import every module under tests/ for examples; the
# helpers named _*.py are scripts and fixtures that hold none (some run only as subprocesses).
collect_ignore_glob = ["_*.py", "**/_*.py"]

_cpus = tf.config.list_physical_devices("CPU")
try:
    tf.config.set_logical_device_configuration(
        _cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
except RuntimeError:  # devices already initialised by an earlier import
    pass


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same seeds."""
    tf.keras.utils.set_random_seed(0)
    keras3.utils.set_random_seed(0)
    np.random.seed(0)
    yield


KERAS_FLAVOURS = {"tf_keras": tf_keras, "keras3": keras3}


@pytest.fixture(params=sorted(KERAS_FLAVOURS))
def each_keras(request, monkeypatch):
    """Run the test once per Keras: Keras 3 (``import keras``) and tf_keras.

    The test module's global ``keras`` is that Keras for the test (so the module's model
    builders build with it); the fixture's value is the module too.
    """
    module = KERAS_FLAVOURS[request.param]
    monkeypatch.setattr(request.module, "keras", module, raising=False)
    return module


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One MirroredStrategy over the two logical CPUs, shared by every test that needs one.

    Each MirroredStrategy numbers its collective ops from the same starting keys, and TensorFlow's
    collective executor keeps the parameters of a key for the life of the process: a second
    strategy in the same process meets the first one's cached shapes ("Shape mismatch in the
    collective instance 100") and aborts. Sharing one instance keeps the keys increasing.
    """
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    return strategy
