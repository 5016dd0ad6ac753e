"""tfds loaders through tfds.testing.mock_data (offline, random examples with the real features)."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

import pie_tf.data as pdata
from pie_tf.data.tfds_loaders import CELEBA_ATTRIBUTES

N = 12
CASES = [  # name, split, n_classes, has dataset-given id feature
    ("imagenet2012", "validation", 1000, True),
    ("imagenet_a", "test", 1000, True),
    ("imagenet2012_corrupted/fog_3", "validation", 1000, True),
    ("cifar10", "train", 10, True),
    ("cifar10_corrupted/brightness_1", "test", 10, False),
]


def _take(ds, n=N):
    return list(ds.take(n).as_numpy_iterator())


def _check_schema(ds, n_classes, attributes=None):
    spec = ds.element_spec
    assert spec["image"].dtype == tf.uint8 and spec["image"].shape.rank == 3
    assert spec["image"].shape[-1] in (1, 3)
    assert spec["label"].dtype == tf.int64 and spec["label"].shape.rank == 0
    assert spec["id"].dtype == tf.string and spec["id"].shape.rank == 0
    if attributes is None:
        assert "attributes" not in spec
    else:
        assert set(spec["attributes"]) == set(attributes)
        assert all(s.dtype == tf.bool for s in spec["attributes"].values())
    examples = _take(ds)
    assert len(examples) == N
    for ex in examples:
        assert 0 <= ex["label"] < n_classes
    return examples


@pytest.mark.parametrize("name,split,n_classes,native_id", CASES)
def test_tfds_loader_schema_and_stable_ids(name, split, n_classes, native_id):
    with tfds.testing.mock_data(num_examples=N):
        first = _check_schema(pdata.load(name, split), n_classes)
        second = _take(pdata.load(name, split))
        raw = list(tfds.builder(name).as_dataset(split=split, shuffle_files=False).take(N)
                   .as_numpy_iterator())
    ids = [ex["id"] for ex in first]
    assert ids == [ex["id"] for ex in second]          # same ids, same order, on reloading
    assert len(set(ids)) == N
    for ex, r in zip(first, raw):                      # label and image pass through untouched
        assert ex["label"] == r["label"]
        np.testing.assert_array_equal(ex["image"], r["image"])
        if native_id:
            assert ex["id"] == r["file_name" if "imagenet" in name else "id"]
        else:
            assert ex["id"].decode().startswith(name.split("/")[0] + "-test.tfrecord")
    meta = pdata.info(name)
    assert meta.n_classes == n_classes == len(meta.class_names)
    assert split in meta.splits and meta.attribute_names == ()


def test_celeb_a_label_is_target_attributes_kept_and_image_size():
    with tfds.testing.mock_data(num_examples=N):
        examples = _check_schema(pdata.load("celeb_a", "train"), 2, CELEBA_ATTRIBUTES)
        raw = list(tfds.builder("celeb_a").as_dataset(split="train", shuffle_files=False)
                   .as_numpy_iterator())
        male = list(pdata.load("celeb_a", "test", target="Male", attributes=["Smiling"])
                    .as_numpy_iterator())
        small = _take(pdata.load("celeb_a", "train", image_size=64))
    for ex, r in zip(examples, raw):
        assert ex["label"] == int(r["attributes"]["Blond_Hair"])
        assert ex["attributes"] == r["attributes"]
        assert ex["id"].decode().startswith("celeb_a-train.tfrecord")
    assert all(ex["label"] == int(ex["attributes"]["Male"]) for ex in male)
    assert {0, 1} == {int(ex["label"]) for ex in male}   # the mapping was exercised both ways
    assert set(male[0]["attributes"]) == {"Smiling", "Male", "Young"}   # protected always kept
    # image_size resizes (still uint8) and leaves ids alone.
    assert small[0]["image"].shape == (64, 64, 3) and small[0]["image"].dtype == np.uint8
    assert [e["id"] for e in small] == [e["id"] for e in examples]
    meta = pdata.info("celeb_a", target="Smiling", protected=["Male"], image_size=64)
    assert meta.class_names == ("not Smiling", "Smiling") and meta.protected_attributes == ("Male",)
    assert meta.image_shape == (64, 64, 3)
    assert len(pdata.info("celeb_a").attribute_names) == 40


def test_corruption_given_as_options_matches_name():
    with tfds.testing.mock_data(num_examples=3):
        a = _take(pdata.load("cifar10_corrupted", "test", corruption="fog", severity=3), 3)
        b = _take(pdata.load("cifar10_corrupted/fog_3", "test"), 3)
    assert [e["id"] for e in a] == [e["id"] for e in b]


@pytest.mark.parametrize("name,kwargs,match", [
    ("cifar10_corrupted/fogg_3", {}, "Corruptions: brightness, contrast"),
    ("imagenet2012_corrupted/fog_6", {}, "severities 1-5"),
    ("imagenet2012_corrupted", {}, "needs a corruption"),
    ("celeb_a", {"target": "Blonde"}, "Blond_Hair"),
    ("celeb_a", {"protected": ["Gender"]}, "valid: 5_o_Clock_Shadow"),
    ("imagenet", {}, "valid: celeba_standin, celeb_a, imagenet2012"),
])
def test_unknown_names_list_the_valid_ones(name, kwargs, match):
    with pytest.raises(ValueError, match=match):
        pdata.load(name, "test", **kwargs)


def test_unknown_split_and_option():
    with pytest.raises(ValueError, match="valid: train, validation, test"):
        pdata.load("celeb_a", "valid")
    with pytest.raises(ValueError, match="valid: test"):
        pdata.load("imagenet_a", "validation")
    with pytest.raises(TypeError, match="valid: target, protected"):
        pdata.load("celeb_a", "train", targte="Male")


@pytest.mark.parametrize("name,needles", [
    ("celeb_a", ["tfds build celeb_a", "quota", "downloads/manual", "img_align_celeba.zip"]),
    ("imagenet2012", ["--manual_dir", "ILSVRC2012_img_val.tar", "image-net.org"]),
    ("imagenet2012_corrupted/fog_3", ["tfds build imagenet2012_corrupted/fog_3", "manual_dir"]),
    ("imagenet_a", ["tfds build imagenet_a", "imagenet-a.tar"]),
    ("cifar10_corrupted/fog_3", ["CIFAR-10-C.tar"]),
])
def test_not_prepared_says_how_to_prepare(tmp_path, name, needles):
    split = pdata.info(name).splits[0]
    with pytest.raises(pdata.DatasetNotPreparedError) as err:
        pdata.load(name, split, data_dir=str(tmp_path))
    for needle in needles:
        assert needle in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_imagenet_a_indices_are_200_imagenet_classes():
    idx = pdata.imagenet_a_class_indices()
    assert idx.shape == (200,) and idx.dtype == np.int64
    assert np.all(np.diff(idx) > 0) and idx[0] >= 0 and idx[-1] < 1000
    wnids = pdata.imagenet_wnids()
    assert len(wnids) == 1000 and len(set(wnids)) == 1000
    # First and last ImageNet-A classes: stingray and acorn (imagenet-a/README.txt).
    assert pdata.imagenet_a_wnids()[0] == "n01498041" == wnids[6]
    assert pdata.imagenet_a_wnids()[-1] == "n12267677" == wnids[988]
    # Restricting 1000-way logits: argmax over the 200 columns maps back to ImageNet labels.
    logits = np.random.default_rng(0).normal(size=(5, 1000))
    restricted = idx[np.argmax(logits[:, idx], axis=1)]
    assert np.all(np.isin(restricted, idx))
    assert np.all(logits[np.arange(5), restricted] == logits[:, idx].max(axis=1))


def test_imagenet_a_verify_reads_the_prepared_labels():
    idx = pdata.imagenet_a_class_indices()

    def labels_dataset(labels):
        def as_dataset(self, split, decoders=None, **kwargs):
            images = np.zeros((len(labels), 4, 4, 3), np.uint8)
            return tf.data.Dataset.from_tensor_slices(
                {"image": images, "label": np.asarray(labels, np.int64),
                 "file_name": np.array([f"{i}.jpg" for i in range(len(labels))])})
        return as_dataset

    with tfds.testing.mock_data(as_dataset_fn=labels_dataset(np.concatenate([idx, idx[:7]]))):
        np.testing.assert_array_equal(pdata.imagenet_a_class_indices(verify=True), idx)
    with tfds.testing.mock_data(as_dataset_fn=labels_dataset(np.append(idx[1:], 0))):
        with pytest.raises(ValueError, match="differ"):
            pdata.imagenet_a_class_indices(verify=True)
