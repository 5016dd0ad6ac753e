"""pie_tf.data: every dataset of the two studies in one example schema.

    ds = pie_tf.data.load("celeba_standin", "train", seed=0, train_size=4000)   # offline default
    ds = pie_tf.data.load("celeb_a", "train", data_dir="~/tensorflow_datasets", image_size=64)
    ds = pie_tf.data.load("imagenet2012_corrupted/fog_3", "validation")
    meta = pie_tf.data.info("celeb_a")          # n_classes, attribute names, splits; no I/O

Each example is ``{"image": uint8 (H, W, C), "label": int64, "attributes": {name: bool}, "id":
string}`` (``attributes`` only where the dataset has them); see :mod:`pie_tf.data.schema`.
Preprocessing is separate: :func:`preprocess` with steps from :mod:`pie_tf.data.preprocessing`.
Documentation: docs/data.md.
"""
from __future__ import annotations

from pie_tf.data.imagenet import imagenet_a_class_indices, imagenet_a_wnids, imagenet_wnids
from pie_tf.data.preprocessing import (as_supervised, center_crop, compose, normalize, preprocess,
                                       random_flip, random_resized_crop, resize, resnet_eval,
                                       resnet_train, to_float)
from pie_tf.data.schema import DatasetInfo, DatasetNotPreparedError, from_arrays

__all__ = ["DATASETS", "DatasetInfo", "DatasetNotPreparedError", "as_supervised", "center_crop",
           "compose", "from_arrays", "imagenet_a_class_indices", "imagenet_a_wnids",
           "imagenet_wnids", "info", "load", "normalize", "preprocess", "random_flip",
           "random_resized_crop", "resize", "resnet_eval", "resnet_train", "to_float"]

#: Names ``load`` accepts; the two corrupted datasets take ``/<corruption>_<severity>``.
DATASETS = ("celeba_standin", "celeb_a", "imagenet2012", "imagenet_a", "imagenet2012_corrupted",
            "cifar10", "cifar10_corrupted", "fashion_mnist")

_STANDIN_OPTIONS = ("seed", "image_size", "margin", "channels", "train_size", "validation_size",
                    "test_size", "positive_classes", "joint")
_CELEBA_OPTIONS = ("target", "protected", "attributes", "image_size", "shuffle_files")
_TFDS_OPTIONS = ("image_size", "shuffle_files", "corruption", "severity")


def _check_options(name: str, options: dict, valid: tuple):
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise TypeError(f"load({name!r}) got unknown option(s) {unknown}; valid: "
                        f"{', '.join(valid) or 'none'}.")


def _base(name):
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string, one of {', '.join(DATASETS)}; got {name!r}.")
    base = name.split("/")[0]
    if base not in DATASETS:
        raise ValueError(f"`name`: unknown dataset {name!r}; valid: {', '.join(DATASETS)} "
                         "(corrupted ones as e.g. 'cifar10_corrupted/fog_3').")
    return base


def load(name: str, split: str, *, data_dir: str | None = None, **options):
    """Load a dataset in pie_tf's schema (no preprocessing, deterministic order).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`; corrupted datasets as ``"<name>/<corruption>_<severity>"``
        (or pass ``corruption=`` and ``severity=``).
    split : str
        A split of the dataset (:func:`info` lists them); tfds slicing such as
        ``"train[:10%]"`` or ``"train[:1000]"`` works for every dataset.
    data_dir : str, optional
        tfds data directory for tfds datasets; the directory of Fashion-MNIST's IDX files for
        ``fashion_mnist`` and ``celeba_standin`` (default Debian's
        ``/usr/share/datasets/fashion-mnist``).
    **options
        celeba_standin: seed, image_size, margin, channels, train_size, validation_size,
        test_size, positive_classes, joint (see :func:`pie_tf.data.standin.standin_arrays`).
        celeb_a: target (default "Blond_Hair"), protected (default ("Male", "Young")),
        attributes ("all" or names), image_size, shuffle_files.
        Others: image_size (int or (H, W): resized, still uint8), shuffle_files; corrupted
        datasets also corruption, severity.

    Returns
    -------
    tf.data.Dataset
        Of dicts ``image`` (uint8 (H, W, C)), ``label`` (int64), ``attributes`` (dict of bool,
        CelebA and the stand-in), ``id`` (string, stable across runs and machines).

    Raises
    ------
    ValueError
        Unknown dataset, split, attribute or corruption (the message lists the valid ones).
    DatasetNotPreparedError
        The data are not in ``data_dir``; the message says what to download, where to put it
        and which command prepares it.
    """
    base = _base(name)
    if base == "celeba_standin":
        from pie_tf.data import standin
        _check_options(name, options, _STANDIN_OPTIONS)
        return standin.celeba_standin(split, fashion_mnist_dir=data_dir, **options)
    image_size = options.pop("image_size", None)
    if base == "fashion_mnist":
        from pie_tf.data.fashion_mnist import load_fashion_mnist
        _check_options(name, options, ())
        ds = load_fashion_mnist(split, data_dir)
    elif base == "celeb_a":
        from pie_tf.data import tfds_loaders
        _check_options(name, options, _CELEBA_OPTIONS)
        ds = tfds_loaders.load_celeb_a(split, data_dir=data_dir, **options)
    else:
        from pie_tf.data import tfds_loaders
        _check_options(name, options, _TFDS_OPTIONS)
        full = tfds_loaders.resolve_name(name, options.pop("corruption", None),
                                         options.pop("severity", None))
        ds = tfds_loaders.load_tfds(full, split, data_dir=data_dir, **options)
    if image_size is not None:
        step = resize(image_size)
        ds = ds.map(lambda ex: {**ex, "image": step(ex["image"], None)},
                    num_parallel_calls=-1, deterministic=True)
    return ds


def info(name: str, **options) -> DatasetInfo:
    """What a study needs to know about a dataset without reading it (no I/O, no tfds builder).

    Accepts the same ``name`` and options as :func:`load` (options that change the label or the
    attributes, such as ``target`` or ``protected``, are reflected).

    Returns
    -------
    DatasetInfo
        ``n_classes``, ``class_names``, ``attribute_names``, ``protected_attributes``,
        ``splits``, ``image_shape``, ``description``.
    """
    base = _base(name)
    if base == "celeba_standin":
        from pie_tf.data import standin
        _check_options(name, options, _STANDIN_OPTIONS)
        return standin.standin_info(**options)
    from pie_tf.data import tfds_loaders
    image_size = options.pop("image_size", None)
    if base == "celeb_a":
        _check_options(name, options, _CELEBA_OPTIONS)
        options.pop("shuffle_files", None)
        meta = tfds_loaders.tfds_info("celeb_a", **options)
    else:
        _check_options(name, options, _TFDS_OPTIONS if base != "fashion_mnist" else ())
        full = base if base == "fashion_mnist" else tfds_loaders.resolve_name(
            name, options.pop("corruption", None), options.pop("severity", None))
        meta = tfds_loaders.tfds_info(full)
    if image_size is not None:
        import dataclasses
        h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        channels = meta.image_shape[-1] if meta.image_shape else 3
        meta = dataclasses.replace(meta, image_shape=(h, w, channels))
    return meta
