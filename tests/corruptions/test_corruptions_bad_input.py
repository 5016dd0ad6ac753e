"""Bad input to the corruptions: refused with the argument named, never a silent NaN or clip."""
import numpy as np
import pytest
import tensorflow as tf

import pie_tf.data as pdata
from pie_tf.corruptions import corrupt, corrupt_dataset
from pie_tf.errors import InvalidArgumentError


def _images(n=2, side=16):
    return np.random.default_rng(0).uniform(0.1, 0.9, size=(n, side, side, 1)).astype(np.float32)


def test_non_finite_pixels_are_refused():
    images = _images()
    images[0, 3, 4, 0] = np.nan
    with pytest.raises(InvalidArgumentError, match="images: 1 pixel"):
        corrupt(images, "gaussian_blur", 2)
    images[0, 3, 4, 0] = np.inf
    with pytest.raises(InvalidArgumentError, match="NaN or infinite"):
        corrupt(images, "fog", 1)


def test_float_images_outside_unit_interval_are_refused_not_clipped():
    centred = _images() - 0.5   # mean-centred: values in [-0.4, 0.4]
    with pytest.raises(InvalidArgumentError, match=r"\[0, 1\].*-0\.\d+"):
        corrupt(centred, "contrast", 3)


def test_numpy_integer_severity_is_accepted_like_int():
    images = (_images() * 255).astype(np.uint8)
    np.testing.assert_array_equal(corrupt(images, "contrast", np.int64(3)).numpy(),
                                  corrupt(images, "contrast", 3).numpy())
    for bad in (np.int64(9), np.int32(-1), np.float64(3.0), np.bool_(True)):
        with pytest.raises(InvalidArgumentError, match="severity"):
            corrupt(images, "contrast", bad)
    with pytest.raises(InvalidArgumentError, match="name must be one of"):
        corrupt(images, "Fog", 1)


def test_corrupt_dataset_of_tuples_names_the_expected_schema():
    images = (_images() * 255).astype(np.uint8)
    pairs = tf.data.Dataset.from_tensor_slices((images, np.array([0, 1])))
    with pytest.raises(TypeError, match="example dicts with 'image' and 'id'.*pairs"):
        corrupt_dataset(pairs, "fog", 1)
    ds = pdata.from_arrays(images[..., 0], [0, 1])
    assert len(list(corrupt_dataset(ds, "contrast", 1))) == 2
