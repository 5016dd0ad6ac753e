"""The one example schema every pie_tf loader yields, and datasets built from in-memory arrays.

An example is a dict::

    {"image": uint8 (H, W, C), C in {1, 3},
     "label": int64 scalar,
     "attributes": {name: bool or int64 scalar, ...},   # only where the dataset has attributes
     "id": string scalar}                                  # stable across runs and machines

Ids are always ``tf.string``: the datasets' own names where they have them (ImageNet file names,
CIFAR-10's ``train_01234``), tfds's ``tfds_id`` otherwise, and ``"<split>/<index>"`` style names for
local files and arrays. One dtype for all loaders lets the prediction store key any evaluation set
the same way.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Mapping, Sequence

import numpy as np

from pie_tf._keras import tf
from pie_tf.errors import InvalidArgumentError

__all__ = [
    "DatasetInfo",
    "DatasetNotPreparedError",
    "from_arrays",
    "check_split",
    "check_choice",
    "validate_element_spec",
]

IMAGE, LABEL, ATTRIBUTES, ID = "image", "label", "attributes", "id"


class DatasetNotPreparedError(FileNotFoundError):
    """A dataset's files are not where the loader looked; the message says how to prepare them."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a study needs to know about a dataset without reading its examples.

    Attributes
    ----------
    name : str
        The name ``pie_tf.data.load`` accepts (with its config, e.g. ``"cifar10_corrupted/fog_3"``).
    n_classes : int
        Size of the label space (ImageNet-A: 1000, its labels live in the ImageNet space).
    class_names : tuple of str
        ``class_names[label]`` is the name of ``label``.
    attribute_names : tuple of str
        Keys of ``example["attributes"]`` (empty when the dataset has none).
    protected_attributes : tuple of str
        The attributes a bias audit groups by (a subset of ``attribute_names``).
    splits : tuple of str
        Split names ``load`` accepts (tfds slicing such as ``"train[:10%]"`` also works there).
    image_shape : tuple of int or None
        (H, W, C) when all images have one shape, else None (C is known when H, W vary).
    description : str
        One line on what the dataset is, in particular whether it is a stand-in.
    """

    name: str
    n_classes: int
    class_names: tuple
    attribute_names: tuple = ()
    protected_attributes: tuple = ()
    splits: tuple = ()
    image_shape: tuple | None = None
    description: str = ""


def check_choice(value, valid: Sequence, argname: str, what: str = "value"):
    """Return ``value`` if it is in ``valid``, else raise ValueError listing the valid choices."""
    if value not in valid:
        raise ValueError(f"`{argname}`: unknown {what} {value!r}; valid: "
                         f"{', '.join(map(str, valid))}.")
    return value


_SPLIT_PART = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(\[[^\]]*\])?\s*$")


def check_split(split: str, valid: Sequence[str], dataset: str) -> str:
    """Validate a tfds-style split string (``"train"``, ``"train[:10%]"``, ``"train+validation"``).

    Only the base names are checked here; tfds parses the slices.
    """
    if not isinstance(split, str):
        raise TypeError(f"`split` must be a string such as {valid[0]!r}; got "
                        f"{type(split).__name__}.")
    for part in split.split("+"):
        match = _SPLIT_PART.match(part)
        if match is None or match.group(1) not in valid:
            raise ValueError(f"`split`: {split!r} is not a split of {dataset}; valid: "
                             f"{', '.join(valid)} (tfds slices such as '{valid[0]}[:10%]' work "
                             "too).")
    return split


def split_bases(split: str) -> list:
    """The split names a valid split string reads, in order (``"train[:10]+test"`` -> train,
    test)."""
    return [_SPLIT_PART.match(part).group(1) for part in split.split("+")]


def from_arrays(images, labels, attributes: Mapping[str, Sequence] | None = None,
                ids: Sequence | None = None) -> tf.data.Dataset:
    """A dataset in pie_tf's schema from in-memory arrays.

    Parameters
    ----------
    images : array-like of shape (n, H, W) or (n, H, W, C), C in {1, 3}
        uint8 pixels (float images in [0, 1] or [0, 255] are not guessed at: convert first).
        (n, H, W) gets a channel axis.
    labels : array-like of int >= 0, shape (n,)
    attributes : mapping of str to array-like of shape (n,), optional
        bool or integer values per example, e.g. ``{"Male": male, "Young": young}``.
    ids : array-like of shape (n,), optional
        Unique ids (str or int; ints are formatted as decimal strings). Default: ``"0"``,
        ``"1"``, ... (positions), which are stable only as long as the arrays are.

    Returns
    -------
    tf.data.Dataset
        Of dicts ``image`` (uint8 (H, W, C)), ``label`` (int64), ``attributes`` (when given),
        ``id`` (string).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"`images` must be uint8 pixels; got dtype {images.dtype}. Convert with "
                        "np.clip(x, 0, 255).astype(np.uint8) (scale [0, 1] floats by 255 first).")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"`images` must have shape (n, H, W) or (n, H, W, C) with C in {{1, 3}}; "
                         f"got {images.shape}.")
    n = images.shape[0]
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"`labels` must be integers of shape ({n},) to match `images`; got "
                         f"{labels.dtype} {labels.shape}.")
    if n and labels.min() < 0:
        bad = int(np.flatnonzero(labels < 0)[0])
        raise InvalidArgumentError(f"`labels` must be class indices >= 0; labels[{bad}] is "
                                   f"{int(labels[bad])}.")
    tensors = {IMAGE: images, LABEL: labels.astype(np.int64)}
    if attributes is not None:
        if not isinstance(attributes, Mapping) or not attributes:
            raise TypeError("`attributes` must be a non-empty mapping of name -> array of shape "
                            "(n,).")
        converted = {}
        for name, values in attributes.items():
            values = np.asarray(values)
            if values.shape != (n,):
                raise ValueError(f"`attributes[{name!r}]` must have shape ({n},); got "
                                 f"{values.shape}.")
            if values.dtype == np.bool_:
                converted[str(name)] = values
            elif np.issubdtype(values.dtype, np.integer):
                converted[str(name)] = values.astype(np.int64)
            else:
                raise TypeError(f"`attributes[{name!r}]` must be bool or integer; got "
                                f"{values.dtype}.")
        tensors[ATTRIBUTES] = converted
    if ids is None:
        ids = np.arange(n)
    ids = np.asarray(ids)
    if ids.shape != (n,):
        raise ValueError(f"`ids` must have shape ({n},); got {ids.shape}.")
    ids = ids.astype(str)
    if len(np.unique(ids)) != n:
        raise ValueError("`ids` must be unique; found duplicates.")
    tensors[ID] = ids.astype(object)
    return tf.data.Dataset.from_tensor_slices(tensors)


def validate_element_spec(ds: tf.data.Dataset, argname: str = "ds") -> tf.data.Dataset:
    """Raise TypeError unless ``ds`` yields pie_tf examples (checks the spec, reads no data)."""
    spec = getattr(ds, "element_spec", None)
    if not isinstance(spec, dict):
        raise TypeError(f"`{argname}` must be a tf.data.Dataset of dicts with keys image, label, "
                        f"id (and optionally attributes); got element_spec {spec!r}.")
    missing = [k for k in (IMAGE, LABEL, ID) if k not in spec]
    if missing:
        raise TypeError(f"`{argname}` examples lack {missing}; they have {sorted(spec)}. Build it "
                        "with pie_tf.data.load or pie_tf.data.from_arrays.")
    if spec[ID].dtype != tf.string:
        raise TypeError(f"`{argname}`: `id` must be tf.string; got {spec[ID].dtype}.")
    return ds


def split_positions(split: str, sizes: Mapping[str, int], dataset: str):
    """Resolve a tfds-style split string against local splits of known sizes.

    Parameters
    ----------
    split : str
        e.g. ``"train"``, ``"train[:1000]"``, ``"test[50%:]"``, ``"train[:10%]+test"``.
    sizes : mapping of split name to number of examples
    dataset : str
        Named in error messages.

    Returns
    -------
    list of (str, ndarray of int64)
        Per part of ``split``: the split name and the example positions it selects, in order.
    """
    import tensorflow_datasets as tfds
    from tensorflow_datasets.core import splits as tfds_splits

    check_split(split, list(sizes), dataset)
    infos = {name: tfds_splits.SplitInfo(name=name, shard_lengths=[int(n)], num_bytes=0)
             for name, n in sizes.items()}
    try:
        parts = tfds.core.ReadInstruction.from_spec(split).to_absolute(infos)
    except (ValueError, AssertionError) as err:
        raise ValueError(f"`split`: cannot read {split!r} of {dataset}: {err}") from None
    out = []
    for part in parts:
        n = sizes[part.splitname]
        start = 0 if part.from_ is None else part.from_
        stop = n if part.to is None else part.to
        out.append((part.splitname, np.arange(start, stop, dtype=np.int64)))
    return out
