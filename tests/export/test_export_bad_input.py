"""Bad input to export and deployment comparison: errors naming the argument or the file, never a
segmentation fault or an accuracy of 0.0 from labels outside the model's classes."""
import numpy as np
import pytest

import pie_tf
from pie_tf.errors import InvalidArgumentError, ModelFileError, NotAFlatbufferError
from pie_tf.export.tflite import TFLiteModel, export_tflite

from .conftest import build_resnet, make_images


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_non_finite_calibration_data_is_refused_before_conversion(value):
    images, _ = make_images(8, seed=0)
    images[3, 2, 2, 0] = value          # +inf crashed the converter (SIGSEGV); NaN went through
    with pytest.raises(InvalidArgumentError, match="`representative_data` holds 1 NaN or inf"):
        export_tflite(build_resnet(4), "int8", representative_data=images)


@pytest.fixture(scope="module")
def float_model(exported):
    return exported["float32"]


@pytest.mark.parametrize("shape", [(2, 20, 20, 1), (2, 16, 16, 3), (2, 16, 16)])
def test_predict_with_wrong_example_shape_names_x_and_the_expected_shape(float_model, shape):
    with pytest.raises(InvalidArgumentError, match=r"`x` has examples of shape .*takes \(16, 16, "
                                                   r"1\)"):
        float_model.predict(np.zeros(shape, np.float32))
    with pytest.raises(ValueError, match="`x` must have shape"):
        float_model.predict(np.zeros((1, 2, 16, 16, 1), np.float32))


def test_load_of_garbage_or_truncated_file_names_the_path(float_model, tmp_path):
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a flatbuffer" * 50)
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(float_model.flatbuffer[: float_model.size_bytes // 2])
    for path in (garbage, truncated):
        with pytest.raises(ModelFileError, match=f"{path}: .*not a valid TFLite model") as err:
            TFLiteModel.load(path)
        assert err.value.path == str(path)
    with pytest.raises(NotAFlatbufferError, match="`flatbuffer`"):
        TFLiteModel(b"garbage")
    good = tmp_path / "good.tflite"
    float_model.save(good)
    assert TFLiteModel.load(good).flatbuffer == float_model.flatbuffer


def test_compare_deployment_refuses_labels_outside_the_classes(trained_resnet, float_model):
    images, labels = make_images(8, seed=2)
    for bad, match in ((labels + 4, r"\[0, 4\).*labels\[0\] is \d+ \(8 outside\)"),
                       (np.where(np.arange(8) == 5, -1, labels), r"labels\[5\] is -1"),
                       (labels + 0.5, "integer class indices")):
        with pytest.raises(InvalidArgumentError, match="`labels`.*" + match):
            pie_tf.compare_deployment(trained_resnet, float_model, images, labels=bad,
                                      latency_runs=1, latency_threads=(1,))
    good = pie_tf.compare_deployment(trained_resnet, float_model, images, labels=labels,
                                     latency_runs=1, latency_threads=(1,))
    keras_labels = np.asarray(trained_resnet(images)).argmax(axis=1)
    assert good.keras_accuracy == pytest.approx(np.mean(keras_labels == labels))
