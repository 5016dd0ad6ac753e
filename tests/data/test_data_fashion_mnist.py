"""Fashion-MNIST read from the real IDX files Debian ships, a user directory, or tfds."""
import gzip
import os
import struct

import numpy as np
import pytest
import tensorflow_datasets as tfds

import pie_tf.data as pdata
from pie_tf.data import fashion_mnist as fm

# Debian's dataset-fashion-mnist is installed by scripts/setup.sh: a missing copy fails, not skips.
assert fm.find_idx_dir() is not None, "install Debian's dataset-fashion-mnist (scripts/setup.sh)"


def test_real_files_have_60000_and_10000_balanced_examples():
    for split, n in (("train", 60000), ("test", 10000)):
        images, labels = fm.fashion_mnist_arrays(split)
        assert images.shape == (n, 28, 28) and images.dtype == np.uint8
        # Fashion-MNIST is balanced: 6,000 / 1,000 images of each of the 10 classes.
        np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, n // 10))
        ds = pdata.load("fashion_mnist", split)
        assert ds.cardinality().numpy() == n
    meta = pdata.info("fashion_mnist")
    assert meta.n_classes == 10 and meta.class_names[9] == "Ankle boot"


def test_ids_follow_file_positions_and_slices_work():
    images, labels = fm.fashion_mnist_arrays("test")
    examples = list(pdata.load("fashion_mnist", "test[-3:]").as_numpy_iterator())
    assert [e["id"] for e in examples] == [b"test/09997", b"test/09998", b"test/09999"]
    for offset, ex in zip(range(9997, 10000), examples):
        assert ex["label"] == labels[offset]
        np.testing.assert_array_equal(ex["image"][..., 0], images[offset])
    first = next(iter(pdata.load("fashion_mnist", "train[:1]+test[:1]").batch(2)))
    assert list(first["id"].numpy()) == [b"train/00000", b"test/00000"]


def _write_idx(path, array):
    # Independent IDX writer: magic (0, 0, uint8 code 0x08, ndim), big-endian dims, raw bytes.
    header = (struct.pack(">BBBB", 0, 0, 8, array.ndim)
              + struct.pack(f">{array.ndim}I", *array.shape))
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_user_directory_is_read(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {}
    for split, prefix, n in (("train", "train", 5), ("test", "t10k", 3)):
        images = rng.integers(0, 256, size=(n, 28, 28)).astype(np.uint8)
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _write_idx(os.path.join(tmp_path, f"{prefix}-images-idx3-ubyte.gz"), images)
        _write_idx(os.path.join(tmp_path, f"{prefix}-labels-idx1-ubyte.gz"), labels)
        arrays[split] = images, labels
    got = list(pdata.load("fashion_mnist", "test", data_dir=str(tmp_path)).as_numpy_iterator())
    assert len(got) == 3
    np.testing.assert_array_equal(np.stack([g["image"][..., 0] for g in got]), arrays["test"][0])
    np.testing.assert_array_equal([g["label"] for g in got], arrays["test"][1])


def test_falls_back_to_tfds_when_no_files(tmp_path, monkeypatch):
    monkeypatch.setattr(fm, "DEBIAN_DIR", str(tmp_path / "absent"))
    with pytest.raises(pdata.DatasetNotPreparedError, match="dataset-fashion-mnist"):
        pdata.load("fashion_mnist", "train", data_dir=str(tmp_path))
    with tfds.testing.mock_data(num_examples=4):
        examples = list(pdata.load("fashion_mnist", "train", data_dir=str(tmp_path))
                        .as_numpy_iterator())
    assert len(examples) == 4 and examples[0]["image"].shape == (28, 28, 1)
    assert examples[0]["id"].startswith(b"fashion_mnist-train.tfrecord")


def test_bad_idx_file_is_refused(tmp_path):
    path = tmp_path / "x-idx3-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 20)
    with pytest.raises(ValueError, match="not a uint8 IDX file"):
        fm.read_idx(str(path))
