"""export_tflite and TFLiteModel on a small functional ResNet (BatchNorm + Add), built with Keras 3
and with tf_keras (the conftest fixture runs each test taking it for both)."""
import gzip
import zlib

import numpy as np
import pytest
import tensorflow_model_optimization as tfmot
from ai_edge_litert.interpreter import Interpreter

import pie_tf
from pie_tf._keras import keras, tf
from pie_tf.export.tflite import MODES, TFLiteModel, export_tflite


def test_every_mode_converts_runs_and_matches_keras(trained_resnet, exported, data):
    images, labels = data
    reference = trained_resnet.predict(images, verbose=0)
    scale = np.abs(reference).max()
    tolerance = {"float32": 1e-4, "float16": 1e-2, "dynamic": 3e-2, "int8": 6e-2}
    for mode in MODES:
        model = exported[mode]
        assert model.mode == mode
        out = model.predict(images, batch_size=50)
        assert out.shape == reference.shape and out.dtype == np.float32
        # outputs are dequantized to the float scale of the Keras logits, not raw int8
        assert np.abs(out - reference).max() <= tolerance[mode] * scale, mode
        assert np.mean(out.argmax(1) == reference.argmax(1)) >= 0.97, mode
    sizes = {mode: exported[mode].size_bytes for mode in MODES}
    assert sizes["float16"] < sizes["float32"]
    assert sizes["dynamic"] < sizes["float16"] and sizes["int8"] < sizes["float16"]


def test_int8_is_fully_integer_with_quantized_io(exported, data):
    model = exported["int8"]
    inp, out = model.input_details[0], model.output_details[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert inp["quantization"][0] > 0 and out["quantization"][0] > 0
    assert model.num_calibration_examples == 100  # the default: the first 100 examples
    # int8 input quantization applied: raw int8 run of the same quantized input agrees
    interpreter = Interpreter(model_content=model.flatbuffer)
    interpreter.allocate_tensors()
    scale, zero_point = inp["quantization"]
    x = data[0][:1]
    q = np.clip(np.round(x / scale + zero_point), -128, 127).astype(np.int8)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], q)
    interpreter.invoke()
    raw = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    out_scale, out_zero = out["quantization"]
    np.testing.assert_allclose(model.predict(x), (raw.astype(np.float32) - out_zero) * out_scale,
                               atol=1e-6)


def test_predict_batching_and_dataset_inputs_agree(exported, data):
    model = exported["float32"]
    images, labels = data
    expected = model.predict(images, batch_size=64)
    np.testing.assert_allclose(model.predict(images, batch_size=7), expected, atol=1e-5)
    ids = np.array([f"ex{i}" for i in range(len(images))])
    dicts = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels, "id": ids,
         "attributes": {"Male": labels % 2 == 0}}).batch(19)
    np.testing.assert_allclose(model.predict(dicts, batch_size=10), expected, atol=1e-5)
    tuples = tf.data.Dataset.from_tensor_slices((images, labels))  # unbatched
    np.testing.assert_allclose(model.predict(tuples, num_threads=2), expected, atol=1e-5)
    np.testing.assert_allclose(model.predict(images[0]), expected[:1], atol=1e-5)


def test_predict_shows_progress(exported, data, capsys):
    exported["float32"].predict(data[0][:40], batch_size=10, verbose=1)
    assert "40/40" in capsys.readouterr().out


def test_sizes_save_and_load(exported, tmp_path):
    for mode in MODES:
        model = exported[mode]
        # gzip = zlib's deflate stream with a 10-byte header and 8-byte trailer instead of 2 + 4
        assert model.gzip_bytes == len(zlib.compress(model.flatbuffer, 9)) + 12
        assert gzip.decompress(gzip.compress(model.flatbuffer)) == model.flatbuffer
        path = model.save(tmp_path / f"m_{mode}.tflite")
        assert (tmp_path / f"m_{mode}.tflite").stat().st_size == model.size_bytes
        loaded = TFLiteModel.load(path)
        assert loaded.flatbuffer == model.flatbuffer
        assert loaded.mode == mode  # inferred from the tensors
    assert TFLiteModel.load(path, mode="float32").mode == "float32"
    with pytest.raises(FileNotFoundError, match="path"):
        TFLiteModel.load(tmp_path / "missing.tflite")


def test_calibration_uses_a_bounded_prefix_of_any_data_form(exported, trained_resnet, data):
    # exported["int8"] was calibrated on the 256-image array; the default takes its first 100
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": data[0][:100], "label": data[1][:100]}).batch(8).concatenate(
        tf.data.Dataset.from_tensor_slices({"image": np.ones((50, 16, 16, 1), np.float32),
                                            "label": data[1][:50]}).batch(8)).repeat()
    from_dataset = export_tflite(trained_resnet, "int8", representative_data=dataset)
    assert from_dataset.num_calibration_examples == 100  # stopped: the dataset is infinite
    assert from_dataset.flatbuffer == exported["int8"].flatbuffer  # same examples, same ranges


def test_sparse_format_runs_with_a_warning_instead_of_crashing(data):
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((16, 16, 1)), keras.layers.Conv2D(32, 3),
                              keras.layers.ReLU(), keras.layers.Flatten(),
                              keras.layers.Dense(64), keras.layers.Dense(4)])
    for layer in model.layers:
        if hasattr(layer, "kernel"):
            kernel = layer.kernel.numpy()
            kernel[np.abs(kernel) < np.quantile(np.abs(kernel), 0.9)] = 0.0
            layer.kernel.assign(kernel)
    sparse = export_tflite(model, "dynamic", sparse_format=True)
    with pytest.warns(RuntimeWarning, match="builtin kernels"):
        out = sparse.predict(data[0][:8])
    np.testing.assert_allclose(out, model.predict(data[0][:8], verbose=0), atol=0.05)
    assert sparse.weight_sparsity().attrs["overall"] >= 0.85


def test_bad_input_is_rejected_clearly(trained_resnet, exported, data):
    with pytest.raises(ValueError, match="`mode` must be one of"):
        export_tflite(trained_resnet, "int4")
    with pytest.raises(ValueError, match="representative_data"):
        export_tflite(trained_resnet, "int8")
    with pytest.raises(ValueError, match="num_calibration_examples"):
        export_tflite(trained_resnet, "int8", data[0], num_calibration_examples=0)
    with pytest.raises(ValueError, match="representative_data"):
        export_tflite(trained_resnet, "int8", np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(TypeError, match="subclassed"):
        export_tflite(_Subclassed(), "float32")
    pruned = tfmot.sparsity.keras.prune_low_magnitude(
        keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match="strip_pruning"):
        export_tflite(pruned, "float32")
    with pytest.raises(ValueError, match="batch_size"):
        exported["float32"].predict(data[0], batch_size=0)
    with pytest.raises(ValueError, match="expected the input under"):
        exported["float32"].predict(tf.data.Dataset.from_tensor_slices({"pixels": data[0]}))
    with pytest.raises(ValueError, match="examples of rank"):
        exported["float32"].predict(np.zeros((2, 3, 16, 16, 1), np.float32))
    with pytest.raises(TypeError, match="flatbuffer"):
        TFLiteModel(b"")


@pytest.mark.slow
def test_keras3_applications_model_pruned_and_exported_int8_keeps_its_zeros():
    import keras as keras3

    keras3.utils.set_random_seed(0)
    backbone = keras3.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35,
                                               include_top=False, weights=None)
    inputs = keras3.Input((32, 32, 3))
    x = keras3.layers.GlobalAveragePooling2D()(backbone(inputs))
    model = keras3.Model(inputs, keras3.layers.Dense(4)(x))
    model.compile("adam", keras3.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(32, 32, 32, 3)).astype(np.float32)
    model.fit(images, rng.integers(0, 4, 32), batch_size=16, epochs=1, verbose=0,
              callbacks=[pie_tf.PruneCallback(0.8, frequency=1)])
    exported = export_tflite(model, "int8", representative_data=images)
    assert exported.num_calibration_examples == 32
    out = exported.predict(images)
    reference = model.predict(images, verbose=0)
    assert out.shape == reference.shape
    assert np.abs(out - reference).max() <= 0.1 * np.abs(reference).max() + 1e-3
    # the pruned kernels' zeros survive int8 quantization
    assert exported.weight_sparsity().attrs["overall"] >= 0.5


def test_keras3_on_another_backend_is_refused(monkeypatch):
    import keras as keras3

    model = keras3.Sequential([keras3.Input((4,)), keras3.layers.Dense(2)])
    monkeypatch.setattr(keras3.backend, "backend", lambda: "torch")
    with pytest.raises(TypeError, match="'torch' backend.*TensorFlow backend only"):
        pie_tf.export_tflite(model)


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, x):
        return self.dense(x)


def test_public_names_resolve_to_one_object_each():
    import pie_tf.export
    import pie_tf.export.tflite as tflite_module
    from pie_tf.export import _runtime
    assert pie_tf.TFLiteModel is pie_tf.export.TFLiteModel is tflite_module.TFLiteModel
    assert pie_tf.TFLiteModel is _runtime.TFLiteModel
    assert pie_tf.export_tflite is pie_tf.export.export_tflite is export_tflite
    assert pie_tf.export.MODES == MODES == ("float32", "float16", "dynamic", "int8")
    assert set(pie_tf.export.__all__) >= {"export_tflite", "TFLiteModel", "compare_deployment",
                                         "iter_examples"}
    for name in pie_tf.export.__all__:
        assert getattr(pie_tf.export, name) is not None
    with pytest.raises(AttributeError, match="no attribute"):
        pie_tf.export.not_a_name  # noqa: B018


def test_pruning_wrapped_layers_names_what_still_carries_the_wrapper():
    from pie_tf.compress.pruning import pruning_wrapped_layers
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="a"),
                              keras.layers.Dense(2, name="b")])
    assert pruning_wrapped_layers(plain) == []
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(plain)
    assert pruning_wrapped_layers(wrapped) == ["prune_low_magnitude_a", "prune_low_magnitude_b"]
    stripped = tfmot.sparsity.keras.strip_pruning(wrapped)
    assert pruning_wrapped_layers(stripped) == []
