"""Fashion-MNIST from local IDX files (Debian's ``dataset-fashion-mnist``), or tfds when absent.

The IDX files are read with numpy (a 16- or 8-byte big-endian header, then raw uint8), which
takes well under a second for all 70,000 images; nothing is downloaded.
"""
from __future__ import annotations

import functools
import gzip
import os
import zlib

import numpy as np

from pie_tf.data import schema
from pie_tf.errors import DataFileError

__all__ = ["CLASS_NAMES", "DEBIAN_DIR", "fashion_mnist_arrays", "find_idx_dir",
           "load_fashion_mnist", "read_idx"]

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot")
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
# IDX magic numbers: 0x00000803 = uint8, 3 dims (images); 0x00000801 = uint8, 1 dim (labels).
_MAGIC = {3: 0x803, 1: 0x801}


def read_idx(path: str) -> np.ndarray:
    """Read one IDX file (optionally gzipped) of uint8 data into an array of its stored shape.

    Raises
    ------
    DataFileError
        The file is not a (gzipped) uint8 IDX file, or is truncated; the message names the file.
    """
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DataFileError(path, "cannot be read as "
                                  f"{'gzip' if path.endswith('.gz') else 'an IDX file'}"
                                  f" ({err}); replace it with an intact copy.") from None
    if len(raw) < 4:
        raise DataFileError(path, f"is not a uint8 IDX file: {len(raw)} bytes, shorter than the "
                                  "4-byte magic number.")
    magic = int.from_bytes(raw[:4], "big")
    ndim = magic & 0xFF
    if ndim not in _MAGIC or magic != _MAGIC[ndim]:
        raise DataFileError(path, f"is not a uint8 IDX file (magic number {magic:#x}).")
    if len(raw) < 4 + 4 * ndim:
        raise DataFileError(path, f"is truncated: {len(raw)} bytes, shorter than its "
                                  f"{4 + 4 * ndim}-byte header.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise DataFileError(path, f"header says shape {shape} but holds {data.size} bytes "
                                  "(truncated or not an IDX file).")
    return data.reshape(shape)


def _idx_path(directory: str, stem: str) -> str | None:
    for candidate in (stem + ".gz", stem):
        path = os.path.join(directory, candidate)
        if os.path.exists(path):
            return path
    return None


def _missing_stems(directory: str) -> list:
    return [stem for pair in _FILES.values() for stem in pair if not _idx_path(directory, stem)]


def find_idx_dir(data_dir: str | None = None) -> str | None:
    """The directory holding all four IDX files: ``data_dir`` if given, else Debian's, else None.

    A given ``data_dir`` is never replaced by Debian's copy: when it lacks the files the result is
    None (and :func:`fashion_mnist_arrays` says which files are missing where).
    """
    directory = data_dir if data_dir else DEBIAN_DIR
    return directory if not _missing_stems(directory) else None


def _check_data_dir(data_dir: str) -> list:
    """Raise unless ``data_dir`` exists and holds either all four IDX files or none of them;
    return the stems it lacks (all four: it may be a tfds data directory)."""
    if not os.path.isdir(data_dir):
        raise schema.DatasetNotPreparedError(
            f"`data_dir` {data_dir!r} is not a directory (it was given, so pie_tf does not fall "
            f"back to {DEBIAN_DIR}); pass the directory that holds Fashion-MNIST's IDX files, or "
            "no data_dir for Debian's copy.")
    missing = _missing_stems(data_dir)
    if missing and len(missing) < sum(len(pair) for pair in _FILES.values()):
        raise schema.DatasetNotPreparedError(
            f"`data_dir` {data_dir!r} holds only part of Fashion-MNIST: missing "
            f"{', '.join(s + '[.gz]' for s in missing)}. Add them (it was given, so pie_tf does "
            f"not fall back to {DEBIAN_DIR}).")
    return missing


@functools.lru_cache(maxsize=4)
def _cached_arrays(directory: str, split: str):
    images_stem, labels_stem = _FILES[split]
    images = read_idx(_idx_path(directory, images_stem))
    labels = read_idx(_idx_path(directory, labels_stem))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"Fashion-MNIST {split} in {directory}: {images.shape[0]} images but "
                         f"{labels.shape[0]} labels.")
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def fashion_mnist_arrays(split: str, data_dir: str | None = None):
    """All images and labels of one Fashion-MNIST split from the IDX files.

    Parameters
    ----------
    split : {"train", "test"}
    data_dir : str, optional
        A directory with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``; default Debian's
        ``/usr/share/datasets/fashion-mnist``.

    Returns
    -------
    images : ndarray of uint8, shape (n, 28, 28), read-only
    labels : ndarray of uint8, shape (n,), read-only

    Raises
    ------
    DatasetNotPreparedError
        When neither directory holds the files.
    """
    schema.check_choice(split, list(_FILES), "split", "Fashion-MNIST split")
    if data_dir:
        _check_data_dir(data_dir)
    directory = find_idx_dir(data_dir)
    if directory is None:
        raise schema.DatasetNotPreparedError(
            f"Fashion-MNIST IDX files not found in {data_dir or DEBIAN_DIR!r}. Install them with "
            "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) and pass no data_dir, "
            "or download "
            "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz from https://github.com/zalandoresearch/fashion-mnist into "
            "a directory and pass it as data_dir, or prepare tfds's copy with "
            "`tfds build fashion_mnist`.")
    return _cached_arrays(os.path.abspath(directory), split)


def load_fashion_mnist(split: str, data_dir: str | None = None):
    """Fashion-MNIST in pie_tf's schema.

    Reads the IDX files (``data_dir`` or, when no ``data_dir`` is given, Debian's directory); when
    that directory holds none of them, reads tfds's ``fashion_mnist`` from ``data_dir`` (tfds's
    default directory when None). A given ``data_dir`` that does not exist or holds only some of
    the four files is an error, never a silent switch to Debian's copy.

    Ids are ``"train/00042"`` / ``"test/01234"``: the position in the official IDX files, the same
    on every machine. (tfds's copy keeps its own order, so its examples get tfds's ``tfds_id``.)
    Images are uint8 (28, 28, 1); there are no attributes.
    """
    if data_dir:
        _check_data_dir(data_dir)
    if find_idx_dir(data_dir) is None:
        from pie_tf.data import tfds_loaders
        try:
            return tfds_loaders.load_tfds("fashion_mnist", split, data_dir=data_dir)
        except schema.DatasetNotPreparedError:
            fashion_mnist_arrays("train", data_dir)  # raises the IDX-centred message
            raise
    # Sizes from the files themselves: a user directory may hold a subset.
    sizes = {name: len(fashion_mnist_arrays(name, data_dir)[1]) for name in _FILES}
    parts = []
    for name, positions in schema.split_positions(split, sizes, "fashion_mnist"):
        images, labels = fashion_mnist_arrays(name, data_dir)
        ids = np.char.add(f"{name}/", np.char.zfill(positions.astype(str), 5))
        parts.append((images[positions], labels[positions], ids))
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts]).astype(np.int64)
    ids = np.concatenate([p[2] for p in parts])
    return schema.from_arrays(images, labels, ids=ids)
