"""corrupt / corruption_fn / corrupt_dataset: dtypes, shapes, seeding, datasets, bad input."""
import numpy as np
import pytest
import tensorflow as tf

from pie_tf import corruptions
from pie_tf.corruptions import CORRUPTIONS, EXTRA_CORRUPTIONS, corrupt, corrupt_dataset
from tests.corruptions._reference import fashion_mnist, natural

RANDOM = {"gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "glass_blur",
          "motion_blur", "snow", "frost", "fog", "elastic_transform", "spatter"}
ALL = [n for n in CORRUPTIONS + EXTRA_CORRUPTIONS if n in corruptions.api._FUNCTIONS]


def test_names():
    assert len(CORRUPTIONS) == 15 and len(EXTRA_CORRUPTIONS) == 4
    assert set(CORRUPTIONS).isdisjoint(EXTRA_CORRUPTIONS)


@pytest.mark.parametrize("name", ALL)
def test_fashion_mnist_28x28_grayscale_uint8_and_seeding(name):
    """28x28 one-channel uint8 (below the reference's 32 px minimum) -> same shape and dtype,
    changed -- except saturate, which leaves gray pixels gray (as the reference does).
    Random corruptions: same seed, same output; another seed, other output; the same image
    twice in a batch gets different noise (each example has its own stream)."""
    images = fashion_mnist()[[0, 0, 1], :, :, None]
    out = corrupt(images, name, 5, seed=1)
    assert out.dtype == tf.uint8 and out.shape == images.shape
    out = out.numpy()
    assert np.any(out != images) == (name != "saturate")
    again = corrupt(images, name, 5, seed=1).numpy()
    np.testing.assert_array_equal(out, again)
    other = corrupt(images, name, 5, seed=2).numpy()
    assert np.any(out != other) == (name in RANDOM)
    assert np.any(out[0] != out[1]) == (name in RANDOM)


def test_float_in_float_out_and_uint8_agree():
    images = natural(64)[:2]
    for name in ("contrast", "gaussian_noise", "zoom_blur"):
        u8 = corrupt(images, name, 3).numpy()
        f32 = corrupt(images.astype(np.float32) / 255.0, name, 3)
        assert f32.dtype == tf.float32
        f = f32.numpy()
        assert f.min() >= 0.0 and f.max() <= 1.0
        # uint8 output is the float result truncated (np.uint8 as ImageNet-C did)
        assert np.abs(np.floor(f * 255 + 1e-3) - u8).max() <= 1
    f16 = corrupt(tf.constant(images[:1], tf.float16) / 255, "brightness", 2)
    assert f16.dtype == tf.float16


def _dataset(images, ids):
    return tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": np.arange(len(ids)) % 3, "id": ids})


def test_corrupt_dataset_keeps_ids_and_is_independent_of_batching():
    images = natural(64)
    ids = np.array([b"astronaut", b"chelsea", b"coffee"])
    ds = _dataset(images, ids)
    single = list(corrupt_dataset(ds, "shot_noise", 4, seed=3).as_numpy_iterator())
    batched = list(corrupt_dataset(ds.batch(2), "shot_noise", 4, seed=3).as_numpy_iterator())
    reordered = list(corrupt_dataset(ds.skip(1).batch(2), "shot_noise", 4, seed=3)
                     .as_numpy_iterator())
    assert [e["id"] for e in single] == list(ids)
    assert [int(e["label"]) for e in single] == [0, 1, 2]
    np.testing.assert_array_equal(np.stack([e["image"] for e in single]),
                                  np.concatenate([b["image"] for b in batched]))
    np.testing.assert_array_equal(single[2]["image"], reordered[0]["image"][1])
    assert single[0]["image"].dtype == np.uint8
    assert np.any(single[0]["image"] != images[0])


def test_corrupt_equals_dataset_with_positional_ids():
    images = natural(64)
    ds = _dataset(images, np.arange(3, dtype=np.int64)).batch(3)
    via_ds = next(iter(corrupt_dataset(ds, "impulse_noise", 2, seed=5)))["image"].numpy()
    np.testing.assert_array_equal(via_ds, corrupt(images, "impulse_noise", 2, seed=5).numpy())


def test_corruption_fn_works_in_a_graph_map_with_attributes():
    ds = tf.data.Dataset.from_tensor_slices(
        {"image": fashion_mnist()[:4, :, :, None], "label": np.arange(4), "id": np.arange(4),
         "attributes": {"Male": np.array([True, False, True, False])}}).batch(4)
    out = next(iter(ds.map(corruptions.corruption_fn("fog", 2))))
    assert out["image"].shape == (4, 28, 28, 1)
    np.testing.assert_array_equal(out["attributes"]["Male"], [True, False, True, False])


def test_bad_input():
    images = natural(64)[:1]
    with pytest.raises(ValueError, match="gaussian_noise.*saturate"):
        corrupt(images, "gaussian", 1)
    for bad in (0, 6, 2.0, "3", True):
        with pytest.raises(ValueError, match="severity"):
            corrupt(images, "fog", bad)
    with pytest.raises(ValueError, match="rank 4"):
        corrupt(images[0], "fog", 1)
    with pytest.raises(ValueError, match="1 or 3 channels"):
        corrupt(images[..., :2], "fog", 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        corrupt(images.astype(np.float32), "fog", 1)
    with pytest.raises(TypeError, match="uint8 or floating"):
        corrupt(images.astype(np.int32), "fog", 1)
    with pytest.raises(ValueError, match="at least 8x8"):
        corrupt(images[:, :4, :4], "fog", 1)
    with pytest.raises(TypeError, match="seed"):
        corrupt(images, "fog", 1, seed="0")
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        corrupt_dataset([images], "fog", 1)
    plain = tf.data.Dataset.from_tensor_slices(images)
    with pytest.raises(TypeError, match="'image' and 'id'"):
        corrupt_dataset(plain, "fog", 1)


def test_table_choice_and_scaling():
    from pie_tf.corruptions import _params
    assert _params.select("gaussian_blur", 5, 224, 224) == (6, "imagenet", 1.0)
    assert _params.select("gaussian_blur", 5, 32, 32) == (1, "cifar", 1.0)
    assert _params.select("gaussian_blur", 5, 28, 28)[1:] == ("cifar", 28 / 32)
    assert _params.select("gaussian_blur", 5, 112, 300)[1:] == ("imagenet", 0.5)
    assert _params.select("gaussian_blur", 1, 84, 84)[1] == "cifar"
    assert _params.select("gaussian_blur", 1, 85, 85)[1] == "imagenet"


def test_corrupted_evaluation_set_from_the_data_layer():
    """Fashion-MNIST test images through ``pie_tf.data.load`` (string ids): the corrupted set
    keeps ids, labels and order, changes the images, and an example's corrupted image is the
    same whether it comes in batches of 8 or alone after a shuffle."""
    import pie_tf.data as pdata
    clean = pdata.load("fashion_mnist", "test[:24]")
    batched = list(corrupt_dataset(clean.batch(8), "shot_noise", 2, seed=1).as_numpy_iterator())
    shuffled = corrupt_dataset(clean.shuffle(24, seed=3), "shot_noise", 2, seed=1)
    by_id = {ex["id"]: ex["image"] for ex in shuffled.as_numpy_iterator()}
    ref = list(clean.batch(24).as_numpy_iterator())[0]
    ids = np.concatenate([b["id"] for b in batched])
    images = np.concatenate([b["image"] for b in batched])
    np.testing.assert_array_equal(ids, ref["id"])
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batched]), ref["label"])
    assert images.shape == ref["image"].shape == (24, 28, 28, 1) and images.dtype == np.uint8
    assert np.mean(images != ref["image"]) > 0.3
    for i, image in zip(ids, images):
        np.testing.assert_array_equal(by_id[i], image)
