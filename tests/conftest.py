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
    np.random.seed(0)
    yield
