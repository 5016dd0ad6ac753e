"""quantize (QAT / prune-preserving QAT) and QuantizeCallback on small real models."""
import numpy as np
import pytest
import tensorflow_model_optimization as tfmot

import pie_tf
from pie_tf._keras import keras
from pie_tf.compress.quantize import _quantizers, prunable_kernel_sparsity


def _residual_model(width=16):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(inputs)
    x = keras.layers.BatchNormalization(momentum=0.5)(x)
    x = keras.layers.ReLU()(x)
    h = keras.layers.Conv2D(width, 3, padding="same", use_bias=False)(x)
    h = keras.layers.BatchNormalization(momentum=0.5)(h)
    x = keras.layers.ReLU()(keras.layers.Add()([x, h]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3)(x))


def _compiled(model, lr=1e-2):
    model.compile(keras.optimizers.Adam(lr),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    return model


def _data(n=96):
    rng = np.random.default_rng(0)
    return (rng.uniform(size=(n, 8, 8, 1)).astype(np.float32), rng.integers(0, 3, size=n))


def _prune_by_magnitude(model, sparsity):
    """Zero the smallest-magnitude fraction of every Conv/Dense kernel (what pruning leaves)."""
    for layer in model.layers:
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) <= np.quantile(np.abs(kernel), sparsity)] = 0.0
            layer.kernel.assign(kernel)
    return model


def _float_kernels(qat_model):
    """{layer name: float kernel} of a QAT model, read independently of pie_tf's helpers."""
    kernels = {}
    for layer in qat_model.layers:
        for weight in layer.weights:
            if weight.name.split("/")[-1] == "kernel:0":
                kernels[layer.name] = weight.numpy()
    return kernels


def test_dense_model_gets_default_qat_ready_to_fit_and_the_original_is_untouched():
    model = _compiled(_residual_model())
    before = [w.copy() for w in model.get_weights()]
    optimizer = model.optimizer
    qat = pie_tf.quantize(model)
    assert qat.quantization_scheme == "default_8bit" and qat.source_sparsity == 0.0
    assert qat.optimizer is not None and qat.optimizer is not optimizer  # compiled, fresh state
    assert qat.optimizer.get_config()["learning_rate"] == pytest.approx(1e-2)
    history = qat.fit(*_data(), epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0]) and "accuracy" in history.history
    assert any(isinstance(layer, tfmot.quantization.keras.QuantizeWrapperV2)
               for layer in qat.layers)
    # the source model keeps its weights, plain layers and optimizer
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer is optimizer
    assert not any(isinstance(layer, tfmot.quantization.keras.QuantizeWrapperV2)
                   for layer in model.layers)
    assert pie_tf.quantize(_residual_model()).optimizer is None  # uncompiled in, uncompiled out


def test_pqat_keeps_sparsity_through_qat_and_int8_export():
    x, y = _data()
    model = _prune_by_magnitude(_compiled(_residual_model()), 0.8)
    masks = {f"quant_{layer.name}": layer.kernel.numpy() == 0 for layer in model.layers
             if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))}
    assert prunable_kernel_sparsity(model) == pytest.approx(0.8, abs=0.01)

    pqat = pie_tf.quantize(model)
    assert pqat.quantization_scheme == "prune_preserve_8bit"
    pqat.fit(x, y, epochs=2, batch_size=16, verbose=0)
    kernels = _float_kernels(pqat)
    for name, mask in masks.items():
        assert np.all(kernels[name][mask] == 0), name  # every pruned weight is still zero
        assert np.any(kernels[name][~mask] != 0)

    # what PQAT prevents: plain QAT on the same sparse model moves the zeros
    plain = pie_tf.quantize(model, scheme="default_8bit")
    plain.fit(x, y, epochs=2, batch_size=16, verbose=0)
    assert prunable_kernel_sparsity(plain) < 0.1

    tflite = pie_tf.export_tflite(pqat, "int8")  # QAT ranges: no representative data needed
    assert tflite.mode == "int8" and tflite.quantization_aware
    assert tflite.quantization_scheme == "prune_preserve_8bit"
    assert tflite.input_details[0]["dtype"] == np.int8
    sparsity = tflite.weight_sparsity()
    assert set(sparsity["dtype"]) == {"int8"}
    assert sparsity.attrs["overall"] >= 0.79
    out = tflite.predict(x)
    reference = pqat.predict(x, verbose=0)
    assert np.mean(out.argmax(1) == reference.argmax(1)) >= 0.9
    with pytest.raises(ValueError, match="mode='int8'"):
        pie_tf.export_tflite(pqat, "float32")


def test_scheme_choice_follows_the_threshold():
    model = _prune_by_magnitude(_residual_model(), 0.03)
    assert pie_tf.quantize(model).quantization_scheme == "default_8bit"
    assert pie_tf.quantize(model, sparsity_threshold=0.01).quantization_scheme == \
        "prune_preserve_8bit"
    with pytest.raises(ValueError, match="scheme"):
        pie_tf.quantize(model, scheme="int4")
    with pytest.raises(ValueError, match="sparsity_threshold"):
        pie_tf.quantize(model, sparsity_threshold=0.0)


def test_unquantizable_models_name_the_offending_layer():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(4, name="block")(inputs)
    with pytest.raises(ValueError, match=r"'tf.__operators__.add'.*keras.layers.Add"):
        pie_tf.quantize(keras.Model(inputs, h + inputs))

    inner = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)], name="backbone")
    inputs = keras.Input((4,))
    with pytest.raises(ValueError, match="'backbone'.*nested model"):
        pie_tf.quantize(keras.Model(inputs, keras.layers.Dense(2)(inner(inputs))))

    inputs = keras.Input((4,))
    h = keras.layers.LayerNormalization(name="norm")(keras.layers.Dense(4)(inputs))
    h = keras.layers.Lambda(lambda t: t * 2, name="double")(h)
    with pytest.raises(ValueError, match=r"'norm'.*not supported[\s\S]*'double'.*Lambda"):
        pie_tf.quantize(keras.Model(inputs, h))

    inputs = keras.Input((4,))
    h = keras.layers.Dense(2)(keras.layers.BatchNormalization(name="input_bn")(inputs))
    with pytest.raises(ValueError, match="'input_bn'.*not supported in this position"):
        pie_tf.quantize(keras.Model(inputs, h))

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(TypeError, match="subclassed"):
        pie_tf.quantize(Subclassed())
    pruning = tfmot.sparsity.keras.prune_low_magnitude(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="strip_pruning"):
        pie_tf.quantize(pruning)
    qat = pie_tf.quantize(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="already quantization-aware"):
        pie_tf.quantize(qat)
    import keras as keras3  # TensorFlow 2.21 installs Keras 3 beside tf_keras
    assert keras3.__version__.startswith("3")
    with pytest.raises(TypeError, match="Keras 3"):
        pie_tf.quantize(keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)]))


class _Recorder(keras.callbacks.Callback):
    """Snapshots of BN moving means, quantizer range variables and gamma after every epoch."""

    def __init__(self):
        super().__init__()
        self.moving_mean, self.ranges, self.gamma = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        weights = {w.name: w.numpy().copy() for w in self.model.weights}
        self.moving_mean.append({k: v for k, v in weights.items() if "moving_mean" in k})
        self.ranges.append({k: v for k, v in weights.items() if k.split("/")[-1].split(":")[0]
                            in ("kernel_min", "kernel_max", "output_min", "output_max",
                                "post_activation_min", "post_activation_max")})
        self.gamma.append({k: v for k, v in weights.items() if "gamma" in k})


def _changed(a, b):
    return any(not np.array_equal(a[k], b[k]) for k in a)


def test_quantize_callback_freezes_bn_then_ranges():
    x, y = _data()
    qat = pie_tf.quantize(_compiled(_residual_model(), lr=5e-2))
    recorder = _Recorder()
    callback = pie_tf.QuantizeCallback(freeze_bn_after=1, freeze_ranges_after=2)
    qat.fit(x, y, epochs=4, batch_size=16, verbose=0, callbacks=[callback, recorder])
    mm, ranges, gamma = recorder.moving_mean, recorder.ranges, recorder.gamma
    assert mm[0] and ranges[0] and gamma[0]
    # epoch 0: everything moves; from epoch 1 BN statistics are frozen, gamma/beta still learn
    assert not _changed(mm[0], mm[1]) and not _changed(mm[1], mm[3])
    assert _changed(gamma[2], gamma[3])
    # epoch 1: ranges still adapt; from epoch 2 they are fixed
    assert _changed(ranges[0], ranges[1])
    assert not _changed(ranges[1], ranges[2]) and not _changed(ranges[2], ranges[3])
    # after fit the model is restored: ordinary quantizer classes and trainable BN
    assert not callback.bn_frozen and not callback.ranges_frozen
    assert all(not type(q).__name__.startswith("RangeFrozen") for q in _quantizers(qat))
    assert all(layer.trainable for layer in qat.layers)
    # and training without the callback moves them again
    qat.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[recorder])
    assert _changed(mm[3], mm[4]) and _changed(ranges[3], ranges[4])


def test_quantize_callback_rejects_bad_arguments():
    with pytest.raises(ValueError, match="freeze_bn_after"):
        pie_tf.QuantizeCallback(freeze_bn_after=-1)
    with pytest.raises(ValueError, match="freeze_ranges_after"):
        pie_tf.QuantizeCallback(freeze_ranges_after=1.5)
    with pytest.raises(ValueError, match="freeze_ranges_after.*>= 1"):
        pie_tf.QuantizeCallback(freeze_ranges_after=0)
    with pytest.raises(ValueError, match="neither"):
        pie_tf.QuantizeCallback()
    model = _compiled(_residual_model())
    with pytest.raises(ValueError, match="quantization-aware"):
        model.fit(*_data(16), epochs=1, verbose=0,
                  callbacks=[pie_tf.QuantizeCallback(freeze_bn_after=0)])
