"""Bad input to the data layer: every case is a clear error naming the argument or the file."""
import gzip
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

import pie_tf.data as pdata
from pie_tf.data import fashion_mnist as fm
from pie_tf.errors import DataFileError, InvalidArgumentError

_STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
          "t10k-labels-idx1-ubyte")


def test_normalize_refuses_zero_or_non_finite_std():
    for std in ((0.0,), (0.5, 0.0, 0.5), (float("nan"),), (-1.0,)):
        with pytest.raises(InvalidArgumentError, match="`std`.*> 0"):
            pdata.normalize((0.5,) * len(std), std)
    with pytest.raises(InvalidArgumentError, match="`mean`"):
        pdata.normalize((float("inf"),), (0.5,))
    # The valid case still maps uint8 0 and 255 to (0 - m) / s and (1 - m) / s.
    out = pdata.normalize((0.5,), (0.25,))(tf.constant([[[0]], [[255]]], tf.uint8), None)
    np.testing.assert_allclose(out.numpy().ravel(), [-2.0, 2.0])


def test_from_arrays_refuses_negative_labels():
    images = np.zeros((3, 4, 4), np.uint8)
    with pytest.raises(InvalidArgumentError, match=r"`labels`.*labels\[1\] is -1"):
        pdata.from_arrays(images, [0, -1, 2])
    assert len(list(pdata.from_arrays(images, [0, 1, 2]))) == 3


@pytest.mark.parametrize("size", [0, -1])
def test_standin_split_size_must_be_positive_for_the_requested_split(size):
    with pytest.raises(InvalidArgumentError, match="`train_size`"):
        pdata.load("celeba_standin", "train", train_size=size)
    with pytest.raises(InvalidArgumentError, match="`test_size`"):
        pdata.load("celeba_standin", "train[:2]+test", train_size=8, test_size=size)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", b"garbage bytes here",
                                     b"\x00\x00\x08\x03\x00\x00"])
def test_garbage_idx_files_name_the_file(tmp_path, content):
    for stem in _STEMS:
        (tmp_path / stem).write_bytes(content)
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte") as err:
        pdata.load("fashion_mnist", "train", data_dir=str(tmp_path))
    assert err.value.path.endswith("train-images-idx3-ubyte")


def test_garbage_gzip_and_truncated_idx_name_the_file(tmp_path):
    for stem in _STEMS:
        (tmp_path / (stem + ".gz")).write_bytes(b"not gzip at all")
    with pytest.raises(DataFileError, match="train-images-idx3-ubyte.gz.*gzip"):
        pdata.load("fashion_mnist", "train", data_dir=str(tmp_path))
    # A real file cut short: the header promises 60,000 images.
    with gzip.open(os.path.join(fm.DEBIAN_DIR, "train-images-idx3-ubyte.gz")) as f:
        head = f.read(1000)
    truncated = tmp_path / "cut" / "train-images-idx3-ubyte"
    truncated.parent.mkdir()
    truncated.write_bytes(head)
    with pytest.raises(DataFileError, match="cut/train-images-idx3-ubyte.*header says shape"):
        fm.read_idx(str(truncated))


def test_given_data_dir_missing_or_partial_never_falls_back_to_debian(tmp_path):
    with pytest.raises(pdata.DatasetNotPreparedError, match="`data_dir`.*not a directory"):
        pdata.load("fashion_mnist", "train", data_dir=str(tmp_path / "absent"))
    with pytest.raises(pdata.DatasetNotPreparedError, match="`data_dir`.*not a directory"):
        pdata.load("celeba_standin", "train", data_dir=str(tmp_path / "absent"), train_size=8)
    shutil.copy(os.path.join(fm.DEBIAN_DIR, "train-images-idx3-ubyte.gz"), tmp_path)
    for name in ("fashion_mnist", "celeba_standin"):
        with pytest.raises(pdata.DatasetNotPreparedError,
                           match="only part.*t10k-labels-idx1-ubyte"):
            pdata.load(name, "train", data_dir=str(tmp_path))
    # An empty given directory is not Debian's either (the stand-in reads only IDX files).
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(pdata.DatasetNotPreparedError, match=str(empty)):
        pdata.load("celeba_standin", "train", data_dir=str(empty), train_size=8)
