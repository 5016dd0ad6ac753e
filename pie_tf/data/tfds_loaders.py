"""tfds datasets in pie_tf's schema: celeb_a, imagenet2012, imagenet_a, imagenet2012_corrupted,
cifar10, cifar10_corrupted (and fashion_mnist when its IDX files are absent).

Nothing here downloads: a dataset must be prepared (``tfds build ...``) in ``data_dir`` first, and
when it is not, :class:`~pie_tf.data.schema.DatasetNotPreparedError` says how.

Ids (``tf.string``)
-------------------
- ImageNet, ImageNet-C, ImageNet-A: the dataset's own ``file_name``
  (``ILSVRC2012_val_00000001.JPEG``).
  ImageNet-C keeps the file name of the clean validation image it was made from, so clean and
  corrupted predictions join on ``id``.
- CIFAR-10: its ``id`` feature (``train_16399``), fixed by the dataset.
- CelebA, CIFAR-10-C, tfds Fashion-MNIST: tfds's ``tfds_id``
  (``celeb_a-train.tfrecord-00003-of-00004__417``),
  which tfds makes deterministic for a given dataset version (shard layout and example order are
  fixed at generation). These datasets expose no file name of their own.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Sequence

from pie_tf._keras import tf
from pie_tf.data import schema

__all__ = ["CELEBA_ATTRIBUTES", "TfdsSpec", "TFDS_SPECS", "corruption_configs", "load_celeb_a",
           "load_tfds", "resolve_name", "tfds_info"]

# The 40 CelebA attributes, in list_attr_celeba.txt order (tfds's celeb_a ATTR_HEADINGS).
CELEBA_ATTRIBUTES = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair", "Bushy_Eyebrows",
    "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair", "Heavy_Makeup",
    "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache", "Narrow_Eyes", "No_Beard",
    "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline", "Rosy_Cheeks", "Sideburns",
    "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat",
    "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young")
CELEBA_DEFAULT_TARGET = "Blond_Hair"          # Characterising Bias in Compressed Models, sec. 3
CELEBA_DEFAULT_PROTECTED = ("Male", "Young")  # ibid.

_CELEBA_HELP = (
    "CelebA downloads from Google Drive, which often refuses with a quota error ('Too many users "
    "have viewed or downloaded this file recently'). Then download these five files by hand from "
    "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (the Google Drive / Baidu links there): "
    "img_align_celeba.zip, list_attr_celeba.txt, list_eval_partition.txt, "
    "list_landmarks_align_celeba.txt, identity_CelebA.txt; put them, with exactly these names, in "
    "{data_dir}/downloads/manual/ and run the same command: tfds checks their checksums and uses "
    "them instead of downloading.")
_IMAGENET_HELP = (
    "ImageNet needs a manual download: register at https://image-net.org/download-images, download "
    "ILSVRC2012_img_train.tar and ILSVRC2012_img_val.tar, put them in a directory MANUAL_DIR "
    "(default {data_dir}/downloads/manual/) and run the command with --manual_dir=MANUAL_DIR.")


@dataclasses.dataclass(frozen=True)
class TfdsSpec:
    """How one tfds dataset maps onto pie_tf's schema."""

    splits: tuple
    id_feature: str | None          # the dataset's own id feature, or None for tfds_id
    description: str
    help: str = ""                  # preparation hints beyond `tfds build`
    manual_files: tuple = ()        # what to place in downloads/manual/ when downloads fail


TFDS_SPECS = {
    "celeb_a": TfdsSpec(("train", "validation", "test"), None,
                        "CelebA aligned faces (218x178), 40 binary attributes.", _CELEBA_HELP),
    "imagenet2012": TfdsSpec(("train", "validation"), "file_name",
                             "ImageNet ILSVRC-2012, 1000 classes.", _IMAGENET_HELP),
    "imagenet2012_corrupted": TfdsSpec(
        ("validation",), "file_name",
        "ImageNet-C: the ImageNet validation set under one corruption at one severity (224x224).",
        _IMAGENET_HELP + " tfds computes the corruptions from ILSVRC2012_img_val.tar."),
    "imagenet_a": TfdsSpec(("test",), "file_name",
                           "ImageNet-A: 7,500 natural adversarial images of 200 ImageNet classes; "
                           "labels in the 1000-class space.", manual_files=("imagenet-a.tar",)),
    "cifar10": TfdsSpec(("train", "test"), "id", "CIFAR-10, 32x32, 10 classes.",
                        manual_files=("cifar-10-binary.tar.gz",)),
    "cifar10_corrupted": TfdsSpec(("test",), None,
                                  "CIFAR-10-C: the CIFAR-10 test set under one corruption at one "
                                  "severity.", manual_files=("CIFAR-10-C.tar",)),
    "fashion_mnist": TfdsSpec(("train", "test"), None,
                              "Fashion-MNIST, 28x28 grayscale, 10 classes."),
}
_CORRUPTED = ("imagenet2012_corrupted", "cifar10_corrupted")


def corruption_configs(dataset: str) -> tuple:
    """The ``<corruption>_<severity>`` config names tfds defines for a corrupted dataset."""
    import tensorflow_datasets as tfds
    schema.check_choice(dataset, _CORRUPTED, "name", "corrupted dataset")
    return tuple(c.name for c in tfds.builder_cls(dataset).BUILDER_CONFIGS)


def resolve_name(name: str, corruption: str | None = None, severity: int | None = None) -> str:
    """Validate a dataset name and return tfds's full name (``cifar10_corrupted/fog_3``).

    The corruption may be part of ``name`` or given as ``corruption`` and ``severity``.
    """
    if not isinstance(name, str):
        raise TypeError(f"`name` must be a string; got {type(name).__name__}.")
    base, _, config = name.partition("/")
    schema.check_choice(base, tuple(TFDS_SPECS), "name", "tfds dataset")
    if base not in _CORRUPTED:
        if config or corruption is not None or severity is not None:
            raise ValueError(f"`name`: {base} has no corruption configs; only {_CORRUPTED} do.")
        return base
    if corruption is not None or severity is not None:
        if config:
            raise ValueError(f"`name` {name!r} already names a config; do not also pass "
                             "corruption/severity.")
        if corruption is None or severity is None:
            raise ValueError("pass both `corruption` and `severity` (1-5).")
        config = f"{corruption}_{severity}"
    if not config:
        raise ValueError(f"`name`: {base} needs a corruption and severity, e.g. "
                         f"'{base}/{corruption_configs(base)[0]}' (or corruption=..., "
                         "severity=...).")
    configs = corruption_configs(base)
    if config not in configs:
        corruptions = sorted({c.rsplit("_", 1)[0] for c in configs})
        raise ValueError(f"`name`: {base} has no config {config!r}. Corruptions: "
                         f"{', '.join(corruptions)}; severities 1-5 (e.g. '{base}/{configs[0]}').")
    return f"{base}/{config}"


def _not_prepared(full_name: str, data_dir: str | None, err: Exception):
    import tensorflow_datasets as tfds
    base = full_name.split("/")[0]
    spec = TFDS_SPECS[base]
    where = data_dir or os.path.expanduser(os.environ.get("TFDS_DATA_DIR", "~/tensorflow_datasets"))
    command = f"tfds build {full_name} --data_dir={where}"
    if base.startswith("imagenet2012"):
        command += " --manual_dir=MANUAL_DIR"
    msg = [f"{full_name} is not prepared in {where} (tfds {tfds.__version__}). Prepare it with "
           f"`{command}` (or tfds.builder({full_name!r}, data_dir=...).download_and_prepare()), "
           "then pass that data_dir."]
    if spec.help:
        msg.append(spec.help.format(data_dir=where))
    if spec.manual_files:
        msg.append(f"Without internet on that machine, download {', '.join(spec.manual_files)} "
                   f"elsewhere and put it in {where}/downloads/manual/ before running the command.")
    return schema.DatasetNotPreparedError(" ".join(msg) + f" (tfds said: {err})")


def _builder(full_name: str, data_dir: str | None):
    import tensorflow_datasets as tfds
    return tfds.builder(full_name, data_dir=data_dir)


def load_tfds(name: str, split: str, *, data_dir: str | None = None,
              attributes_fn: Callable | None = None, label_fn: Callable | None = None,
              shuffle_files: bool = False) -> tf.data.Dataset:
    """Read a prepared tfds dataset and map it onto pie_tf's schema (no preprocessing).

    Parameters
    ----------
    name : str
        Full tfds name, already validated by :func:`resolve_name`.
    split : str
        tfds split string; base names are validated against the dataset's splits.
    data_dir : str, optional
        tfds data directory (default: tfds's, ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``).
    attributes_fn, label_fn : callable, optional
        Map tfds's raw example to ``attributes`` / ``label`` (CelebA); default: tfds's ``label``,
        no attributes.
    shuffle_files : bool
        Passed to tfds; False keeps a deterministic order.
    """
    import tensorflow_datasets as tfds
    base = name.split("/")[0]
    spec = TFDS_SPECS[base]
    schema.check_split(split, spec.splits, name)
    builder = _builder(name, data_dir)
    read_config = tfds.ReadConfig(add_tfds_id=True, shuffle_seed=0)
    try:
        raw = builder.as_dataset(split=split, shuffle_files=shuffle_files, read_config=read_config)
    except AssertionError as err:  # tfds's "could not find data in ..." is an AssertionError
        raise _not_prepared(name, data_dir, err) from None

    def to_example(ex):
        image = ex["image"]
        out = {schema.IMAGE: image,
               schema.LABEL: tf.cast(label_fn(ex) if label_fn else ex["label"], tf.int64)}
        if attributes_fn is not None:
            out[schema.ATTRIBUTES] = attributes_fn(ex)
        out[schema.ID] = ex[spec.id_feature] if spec.id_feature else ex["tfds_id"]
        return out

    return raw.map(to_example, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def load_celeb_a(split: str, *, data_dir: str | None = None, target: str = CELEBA_DEFAULT_TARGET,
                 protected: Sequence[str] = CELEBA_DEFAULT_PROTECTED,
                 attributes: Sequence[str] | str = "all", shuffle_files: bool = False):
    """CelebA with one attribute as the binary label.

    Parameters
    ----------
    split : {"train", "validation", "test"} (tfds slices allowed)
    target : str
        The attribute that becomes ``label`` (1 when present). Default ``Blond_Hair``, as in
        Hooker et al., *Characterising Bias in Compressed Models*.
    protected : sequence of str
        Attributes a bias audit groups by (default ``Male``, ``Young``); checked here and always
        kept in ``attributes``.
    attributes : "all" or sequence of str
        Which of the 40 attributes to keep in ``example["attributes"]`` (bool scalars).
    """
    keep = _celeba_attribute_selection(target, protected, attributes)

    def label_fn(ex):
        return ex["attributes"][target]

    def attributes_fn(ex):
        return {a: ex["attributes"][a] for a in keep}

    return load_tfds("celeb_a", split, data_dir=data_dir, attributes_fn=attributes_fn,
                     label_fn=label_fn, shuffle_files=shuffle_files)


def _celeba_attribute_selection(target, protected, attributes):
    schema.check_choice(target, CELEBA_ATTRIBUTES, "target", "CelebA attribute")
    if isinstance(protected, str):
        protected = (protected,)
    for a in protected:
        schema.check_choice(a, CELEBA_ATTRIBUTES, "protected", "CelebA attribute")
    if isinstance(attributes, str):
        if attributes != "all":
            raise ValueError("`attributes` must be 'all' or a list of CelebA attribute names.")
        return CELEBA_ATTRIBUTES
    for a in attributes:
        schema.check_choice(a, CELEBA_ATTRIBUTES, "attributes", "CelebA attribute")
    wanted = set(attributes) | set(protected)
    return tuple(a for a in CELEBA_ATTRIBUTES if a in wanted)


def _class_names(full_name: str) -> tuple:
    base = full_name.split("/")[0]
    if base.startswith("imagenet"):
        from pie_tf.data import imagenet
        return imagenet.imagenet_wnids()
    if base.startswith("cifar10"):
        return ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                "truck")
    if base == "fashion_mnist":
        from pie_tf.data.fashion_mnist import CLASS_NAMES
        return CLASS_NAMES
    raise AssertionError(base)


def tfds_info(full_name: str, *, target: str = CELEBA_DEFAULT_TARGET,
              protected: Sequence[str] = CELEBA_DEFAULT_PROTECTED,
              attributes: Sequence[str] | str = "all") -> schema.DatasetInfo:
    """:class:`DatasetInfo` for a tfds dataset, from pie_tf's tables (reads no data)."""
    base = full_name.split("/")[0]
    spec = TFDS_SPECS[base]
    shapes = {"celeb_a": (218, 178, 3), "imagenet2012_corrupted": (224, 224, 3),
              "cifar10": (32, 32, 3), "cifar10_corrupted": (32, 32, 3),
              "fashion_mnist": (28, 28, 1)}
    if base == "celeb_a":
        keep = _celeba_attribute_selection(target, protected, attributes)
        protected = (protected,) if isinstance(protected, str) else tuple(protected)
        return schema.DatasetInfo(full_name, 2, (f"not {target}", target), keep, protected,
                                  spec.splits, shapes[base],
                                  f"{spec.description} label = {target}.")
    names = _class_names(full_name)
    return schema.DatasetInfo(full_name, len(names), names, (), (), spec.splits, shapes.get(base),
                              spec.description)
