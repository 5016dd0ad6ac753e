"""Fixtures for the export tests: a small functional ResNet (BatchNorm + Add) trained for a few
steps on a learnable synthetic task, and its flatbuffers in every mode, built once per session
because each TFLite conversion takes seconds. The model is built once with each Keras (Keras 3 and
tf_keras), so every test taking it runs for both."""
import numpy as np
import pytest

import keras as keras3
import tf_keras

N_CLASSES = 4


def make_images(n, seed):
    """16x16x1 images in [0, 1] whose class is a texture: horizontal stripes, vertical stripes,
    a checkerboard or a central blob, under uniform noise (learnable by a pooled ResNet)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, N_CLASSES, size=n)
    rows, cols = np.mgrid[0:16, 0:16]
    patterns = np.stack([(rows % 4 < 2), (cols % 4 < 2), ((rows + cols) % 4 < 2),
                         (np.abs(rows - 7.5) < 4) & (np.abs(cols - 7.5) < 4)]).astype(np.float32)
    images = 0.6 * patterns[labels] + rng.uniform(0.0, 0.4, size=(n, 16, 16))
    return images[..., None].astype(np.float32), labels


def build_resnet(width=16, keras=tf_keras):
    inputs = keras.Input((16, 16, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.9)(x)
    x = keras.layers.ReLU()(x)
    h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
    h = keras.layers.BatchNormalization(momentum=0.9)(h)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(h)
    h = keras.layers.BatchNormalization(momentum=0.9)(h)
    x = keras.layers.ReLU()(keras.layers.Add()([x, h]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(N_CLASSES)(x)
    return keras.Model(inputs, outputs, name="small_resnet")


@pytest.fixture(scope="session")
def data():
    return make_images(256, seed=1)


@pytest.fixture(scope="session", params=["keras3", "tf_keras"])
def trained_resnet(request, data):
    keras = {"keras3": keras3, "tf_keras": tf_keras}[request.param]
    keras.utils.set_random_seed(0)
    model = build_resnet(keras=keras)
    model.compile(keras.optimizers.Adam(1e-2),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(*data, epochs=4, batch_size=32, verbose=0)
    return model


@pytest.fixture(scope="session")
def exported(trained_resnet, data):
    from pie_tf.export.tflite import MODES, export_tflite
    return {mode: export_tflite(trained_resnet, mode,
                                representative_data=data[0] if mode == "int8" else None)
            for mode in MODES}
