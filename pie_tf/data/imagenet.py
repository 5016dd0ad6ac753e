"""The ImageNet label space and ImageNet-A's 200 classes within it.

ImageNet-A's images belong to 200 of the 1000 ImageNet classes, and tfds's ``imagenet_a`` labels
them in the 1000-class space. The standard protocol (Hendrycks et al. 2021, and the evaluation
script released with the dataset) restricts a 1000-way classifier's logits to those 200 classes
and takes the argmax there; the original PIE code evaluated 1000-way, which penalises a model for
choosing a class ImageNet-A never contains.

tfds does not ship the 200-class list (its ``imagenet_a`` builder learns the classes from the
archive's directory names when it is prepared). :data:`IMAGENET_A_INDICES` is the list from the
dataset authors' evaluation script (``indices_in_1k`` in ``eval.py`` of
github.com/hendrycks/natural-adv-examples), i.e. the ImageNet-A directory names (WordNet ids) as
positions in tfds's ``imagenet2012`` ``labels.txt``. When ImageNet-A is prepared,
:func:`imagenet_a_class_indices` can cross-check it against the labels actually present.
"""
from __future__ import annotations

import functools

import numpy as np

__all__ = ["IMAGENET_A_INDICES", "imagenet_a_class_indices", "imagenet_a_wnids", "imagenet_wnids"]

IMAGENET_A_INDICES = (
    6, 11, 13, 15, 17, 22, 23, 27, 30, 37, 39, 42, 47, 50, 57, 70, 71, 76, 79, 89, 90, 94, 96, 97,
    99, 105, 107, 108, 110, 113, 124, 125, 130, 132, 143, 144, 150, 151, 207, 234, 235, 254, 277,
    283, 287, 291, 295, 298, 301, 306, 307, 308, 309, 310, 311, 313, 314, 315, 317, 319, 323, 324,
    326, 327, 330, 334, 335, 336, 347, 361, 363, 372, 378, 386, 397, 400, 401, 402, 404, 407, 411,
    416, 417, 420, 425, 428, 430, 437, 438, 445, 456, 457, 461, 462, 470, 472, 483, 486, 488, 492,
    496, 514, 516, 528, 530, 539, 542, 543, 549, 552, 557, 561, 562, 569, 572, 573, 575, 579, 589,
    606, 607, 609, 614, 626, 627, 640, 641, 642, 643, 658, 668, 677, 682, 684, 687, 701, 704, 719,
    736, 746, 749, 752, 758, 763, 765, 768, 773, 774, 776, 779, 780, 786, 792, 797, 802, 803, 804,
    813, 815, 820, 823, 831, 833, 835, 839, 845, 847, 850, 859, 862, 870, 879, 880, 888, 890, 897,
    900, 907, 913, 924, 932, 933, 934, 937, 943, 945, 947, 951, 954, 956, 957, 959, 971, 972, 980,
    981, 984, 986, 987, 988)


@functools.lru_cache(maxsize=1)
def imagenet_wnids() -> tuple:
    """The 1000 ImageNet WordNet ids in tfds's label order (``imagenet2012`` ``labels.txt``)."""
    from tensorflow_datasets.datasets.imagenet2012 import imagenet_common
    with open(imagenet_common.label_names_file()) as f:
        wnids = tuple(line.strip() for line in f if line.strip())
    if len(wnids) != 1000:
        raise RuntimeError(f"{imagenet_common.label_names_file()} lists {len(wnids)} classes, not "
                           "1000.")
    return wnids


def imagenet_a_wnids() -> tuple:
    """The WordNet ids of ImageNet-A's 200 classes (its directory names), in label order."""
    wnids = imagenet_wnids()
    return tuple(wnids[i] for i in IMAGENET_A_INDICES)


def imagenet_a_class_indices(*, data_dir: str | None = None, verify: bool = False) -> np.ndarray:
    """Positions of ImageNet-A's 200 classes among the 1000 ImageNet logits.

    Use as ``logits[:, idx]``; ``idx[argmax]`` maps the restricted prediction back to an
    ImageNet label, comparable with ``example["label"]``.

    Parameters
    ----------
    data_dir : str, optional
        tfds data directory, used only with ``verify``.
    verify : bool
        Read the prepared ``imagenet_a`` labels (7,500 examples, labels only) and raise if they
        are not exactly these 200 classes.

    Returns
    -------
    ndarray of int64, shape (200,), ascending
    """
    idx = np.asarray(IMAGENET_A_INDICES, dtype=np.int64)
    if verify:
        import tensorflow_datasets as tfds
        builder = tfds.builder("imagenet_a", data_dir=data_dir)
        labels = builder.as_dataset(split="test", decoders={"image": tfds.decode.SkipDecoding()})
        seen = np.unique(np.fromiter(labels.map(lambda ex: ex["label"]).as_numpy_iterator(),
                                     dtype=np.int64))
        if not np.array_equal(seen, idx):
            where = data_dir or "tfds's default data_dir"
            raise ValueError(f"imagenet_a in {where} has {len(seen)} classes that differ from "
                             "ImageNet-A's 200 (first differences: "
                             f"{sorted(set(seen) ^ set(idx))[:10]}).")
    return idx
