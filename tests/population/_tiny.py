"""A tiny population for tests: 8x8 images, 3 classes, a one-block Conv-BN-ReLU network."""
import functools

import numpy as np

from pie_tf._keras import keras as tf_keras
from pie_tf._keras import tf
from pie_tf.population import Recipe

NUM_CLASSES = 3


def arrays(n, offset=0, seed=0):
    rng = np.random.default_rng(seed + offset)
    labels = rng.integers(0, NUM_CLASSES, n)
    images = rng.normal(0, 1, (n, 8, 8, 1)).astype(np.float32)
    images[np.arange(n), labels * 2 + 1, labels * 2 + 1, 0] += 4.0  # a learnable cue
    return images, labels


def dataset(n, offset=0):
    images, labels = arrays(n, offset)
    return tf.data.Dataset.from_tensor_slices({
        "image": images, "label": labels,
        "id": np.array([f"ex{offset + i}" for i in range(n)]),
        "attributes": {"group": labels == 0}})


def build_model(keras=tf_keras):
    """The tiny network, built with ``keras`` (tf_keras by default, or Keras 3)."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(NUM_CLASSES, activation="softmax")(x)
    return keras.Model(inputs, outputs)


RECIPE = Recipe(epochs=1, batch_size=16, learning_rate=0.05, fine_tune_learning_rate=0.02,
                calibration_examples=16, eval_batch_size=32)


def population(store, keras=tf_keras, **kwargs):
    from pie_tf.population import Population
    options = dict(recipe=RECIPE, seeds=[0], variants=["dense"], verbose=0)
    options.update(kwargs)
    model_fn = build_model if keras is tf_keras else functools.partial(build_model, keras=keras)
    return Population(model_fn, dataset(64), {"test": dataset(40, offset=1000)},
                      store=store, **options)

