"""from_arrays, the schema checks and the preprocessing steps."""
import numpy as np
import pytest
import tensorflow as tf

import pie_tf
import pie_tf.data as pdata


def _arrays(n=6, size=8, channels=3):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, size, size, channels)).astype(np.uint8)
    return images, rng.integers(0, 10, size=n)


def test_from_arrays_schema_and_default_ids():
    images, labels = _arrays()
    ds = pdata.from_arrays(images, labels, {"Male": labels > 4, "age": labels * 3})
    spec = ds.element_spec
    assert spec["image"].dtype == tf.uint8 and spec["label"].dtype == tf.int64
    assert spec["attributes"]["Male"].dtype == tf.bool
    assert spec["attributes"]["age"].dtype == tf.int64
    examples = list(ds.as_numpy_iterator())
    assert [e["id"] for e in examples] == [str(i).encode() for i in range(6)]
    np.testing.assert_array_equal(np.stack([e["image"] for e in examples]), images)
    gray = pdata.from_arrays(images[..., 0], labels, ids=[10, 11, 12, 13, 14, 15])
    assert gray.element_spec["image"].shape == (8, 8, 1)
    assert next(iter(gray))["id"].numpy() == b"10"
    assert pie_tf.data is pdata


@pytest.mark.parametrize("kwargs,error,match", [
    ({"images": np.zeros((2, 4, 4), np.float32)}, TypeError, "uint8"),
    ({"images": np.zeros((2, 4, 4, 2), np.uint8)}, ValueError, "C in"),
    ({"labels": np.zeros(3, int)}, ValueError, "labels"),
    ({"labels": np.zeros(2, float)}, ValueError, "labels"),
    ({"attributes": {"Male": [True]}}, ValueError, r"attributes\['Male'\]"),
    ({"attributes": {"Male": [0.5, 1.0]}}, TypeError, "bool or integer"),
    ({"ids": ["a", "a"]}, ValueError, "unique"),
])
def test_from_arrays_rejects_bad_input(kwargs, error, match):
    args = {"images": np.zeros((2, 4, 4), np.uint8), "labels": np.zeros(2, int)}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        pdata.from_arrays(**args)


def test_preprocess_changes_images_only_and_keeps_ids():
    images, labels = _arrays(size=40)
    ds = pdata.from_arrays(images, labels, {"Male": labels > 4}, ids=[f"x{i}" for i in range(6)])
    out = pdata.preprocess(ds, pdata.resize(16), pdata.normalize((0.5, 0.5, 0.5), (0.25,) * 3))
    raw = list(ds.as_numpy_iterator())
    got = list(out.as_numpy_iterator())
    for r, g in zip(raw, got):
        assert (g["id"], g["label"], g["attributes"]) == (r["id"], r["label"], r["attributes"])
        assert g["image"].shape == (16, 16, 3) and g["image"].dtype == np.float32
    # normalize is (x / 255 - mean) / std: compare with numpy on the un-resized image.
    plain = list(pdata.preprocess(ds, pdata.normalize((0.5, 0.5, 0.5), (0.25,) * 3))
                 .as_numpy_iterator())
    np.testing.assert_allclose(plain[0]["image"], (images[0] / 255.0 - 0.5) / 0.25, rtol=1e-5,
                               atol=1e-5)


def test_resnet_preprocessing_shapes_and_seeded_augmentation():
    images, labels = _arrays(n=4, size=150)
    images = np.concatenate([images[:, :, :130], images[:, :, :130]], axis=0)   # 150 x 130
    ds = pdata.from_arrays(images, np.arange(8))
    eval_batch = next(iter(pdata.preprocess(ds, pdata.resnet_eval(112, 128)).batch(8)))
    assert eval_batch["image"].shape == (8, 112, 112, 3)
    # Eval: shorter side 130 -> 128, central 112 crop, then (x / 255 - mean) / std. Undo the
    # normalization and compare with numpy's mean of the central region (uniform noise, so the
    # resize barely moves the mean).
    mean = np.array(pdata.preprocessing.IMAGENET_MEAN)
    std = np.array(pdata.preprocessing.IMAGENET_STD)
    pixels = eval_batch["image"].numpy() * std + mean
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5
    np.testing.assert_allclose(pixels.mean(), images[:, 19:131, 9:121].mean() / 255, atol=0.01)
    a = next(iter(pdata.preprocess(ds, pdata.resnet_train(32), seed=1).batch(8)))["image"].numpy()
    b = next(iter(pdata.preprocess(ds, pdata.resnet_train(32), seed=1).batch(8)))["image"].numpy()
    c = next(iter(pdata.preprocess(ds, pdata.resnet_train(32), seed=2).batch(8)))["image"].numpy()
    assert a.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # The same image at positions 0 and 4 is augmented differently (per-example seeds).
    assert not np.array_equal(a[0], a[4])


def test_as_supervised_and_spec_check():
    images, labels = _arrays()
    pairs = pdata.as_supervised(pdata.from_arrays(images, labels))
    x, y = next(iter(pairs))
    assert x.shape == (8, 8, 3) and y.numpy() == labels[0]
    with pytest.raises(TypeError, match="image, label, id"):
        pdata.preprocess(tf.data.Dataset.from_tensor_slices(images), pdata.resize(4))
    with pytest.raises(ValueError, match="size"):
        pdata.resize(0)
