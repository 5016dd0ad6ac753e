"""PruneCallback refuses bad input with errors that name the argument and what is valid."""

import numpy as np
import pytest

import pie_tf
from pie_tf import keras
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity


def conv_model():
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    outputs = keras.layers.Dense(4, name="head")(keras.layers.Flatten(name="flatten")(x))
    return keras.Model(inputs, outputs)


def fit(model, callback, epochs=1, **compile_kwargs):
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  **compile_kwargs)
    x = np.zeros((8,) + model.input_shape[1:], "float32") + 0.5
    model.fit(x, np.zeros(8, "int64"), batch_size=4, epochs=epochs, callbacks=[callback],
              verbose=0)


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, True, "0.5"])
def test_target_sparsity_outside_unit_interval(bad):
    with pytest.raises(ValueError, match=r"`target_sparsity` must be in range \[0, 1\)"):
        pie_tf.PruneCallback(bad)


@pytest.mark.parametrize("kwargs, message", [
    (dict(begin=1.5), r"`begin` as a fraction of training must be in \[0, 1\]"),
    (dict(end=-3), r"`end` as a step count must be >= 0"),
    (dict(frequency=0), r"`frequency` must be a positive int"),
    (dict(begin=0.8, end=0.2), r"`end` \(0.2\) must come after `begin` \(0.8\)"),
    (dict(begin=100, end=100), r"`end` \(100\) must come after `begin` \(100\)"),
    (dict(begin=1.0), r"`end` \(1.0\) must come after `begin` \(1.0\)"),
    (dict(schedule="cubic"), r"`schedule` must be None, one of \['polynomial_decay', 'constant'\]"),
    (dict(schedule=tfmot_sparsity.ConstantSparsity(0.5, 0), end=4), r"`end` cannot be combined"),
    (dict(m_by_n=(4, 2)), r"`m_by_n` = \(4, 2\): m \(zeros\) must be smaller than n"),
    (dict(m_by_n=(2, 4)), r"pass target_sparsity=0.5"),
    (dict(block_size=(0, 2)), r"`block_size` must be a pair of positive ints"),
    (dict(block_pooling_type="MIN"), r"`block_pooling_type` must be 'AVG' or 'MAX'"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        pie_tf.PruneCallback(0.3, **kwargs)


def test_model_without_prunable_weights():
    model = keras.Sequential([keras.Input((4,)), keras.layers.BatchNormalization()])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="`model` has no prunable weights"):
        model.fit(np.ones((4, 4)), np.ones((4, 4)), verbose=0,
                  callbacks=[pie_tf.PruneCallback(0.5)])


@pytest.mark.usefixtures("each_keras")
def test_subclassed_models():
    class Sub(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match="subclassed model"):
        pie_tf.PruneCallback(0.5).set_model(Sub())
    with pytest.raises(TypeError, match="subclassed model"):
        pie_tf.clone_dense(Sub())
    with pytest.raises(TypeError, match="must be a keras.Model"):
        pie_tf.sparsity_report(keras.layers.Dense(2))


def test_structured_sparsity_on_weights_that_cannot_take_it():
    with pytest.raises(ValueError, match=r"`m_by_n`=\(2, 4\) needs .* divisible by 4.*conv/kernel"):
        fit(conv_model(), pie_tf.PruneCallback(0.5, m_by_n=(2, 4)))      # conv has 1 input channel
    with pytest.raises(ValueError, match=r"`block_size`=\(2, 2\) applies to rank-2.*conv/kernel"):
        fit(conv_model(), pie_tf.PruneCallback(0.5, block_size=(2, 2)))
    fit(conv_model(), pie_tf.PruneCallback(0.5, block_size=(2, 2), layers=["head"]))   # fine


def test_schedule_past_the_training():
    # 1 epoch x 2 steps: an end at step 5 lies past it.
    with pytest.raises(ValueError, match=r"`end`=5 lies past the training .* 2 steps"):
        fit(conv_model(), pie_tf.PruneCallback(0.5, end=5))
    with pytest.raises(ValueError, match=r"`schedule` ends at step 100, past the training"):
        fit(conv_model(), pie_tf.PruneCallback(
            0.5, schedule=tfmot_sparsity.PolynomialDecay(0.0, 0.5, 0, 100)))
    with pytest.raises(ValueError, match=r"`schedule` \(PolynomialDecay\) does not reach "
                                         r"target_sparsity=0.7"):
        fit(conv_model(), pie_tf.PruneCallback(
            0.7, schedule=tfmot_sparsity.PolynomialDecay(0.0, 0.5, 0, 2, frequency=1)))


def test_steps_per_execution_must_be_one():
    with pytest.raises(ValueError, match="needs `steps_per_execution=1`.*got 2"):
        fit(conv_model(), pie_tf.PruneCallback(0.5), steps_per_execution=2)


def test_layers_argument():
    with pytest.raises(ValueError, match="`layers` names 'nope', which is not a layer"):
        fit(conv_model(), pie_tf.PruneCallback(0.5, layers=["nope"]))
    with pytest.raises(ValueError, match="`layers` names layer 'flatten'.*no weight of rank"):
        fit(conv_model(), pie_tf.PruneCallback(0.5, layers=["flatten"]))
