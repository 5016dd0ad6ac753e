"""``celeba_standin``: an offline stand-in with CelebA's group structure, built from Fashion-MNIST.

THIS IS NOT CELEBA and contains no faces. CelebA cannot be downloaded here, so the CelebA study
(Hooker et al., *Characterising Bias in Compressed Models*) runs offline on a dataset that keeps
what that study measures: a rare binary target, two protected attributes a CNN can see, and the
joint proportions of (target, attribute 1, attribute 2) of CelebA's (Blond_Hair, Male, Young).

- Images: real Fashion-MNIST images (28x28 grayscale) centred on a canvas of ``image_size``
  pixels with a ``margin``-pixel empty frame.
- ``label`` ("Blond_Hair" in the study's words): 1 when the garment is one of
  ``positive_classes`` (default Dress), 0 for the other classes. Telling a dress from a coat,
  shirt or T-shirt is a real, imperfect vision task.
- ``attributes["Male"]``, ``attributes["Young"]`` (bool): rendered marks, not faces. Male is a
  bright bar filling the top margin, Young a bright bar filling the bottom margin (intensity
  uniform in [192, 255] per image, 0 when absent). They never overlap the garment, so they are
  visible to a CNN the way sex and age are visible in a face, and a threshold on the margin
  recovers them exactly.
- Proportions: every split follows :data:`CELEBA_TRAIN_JOINT`. Each (label, Male) cell gets
  ``n * p`` examples rounded by largest remainder (within one example), then is split into Young
  / not Young by rounding again, so the rare group Blond ∧ Male is ``round(n * 0.85%)`` examples
  in every split, never a random draw that could come out empty. Within a cell the images are
  drawn at random, so attributes carry no information about the garment beyond what the joint
  table implies (in CelebA, sex also changes the face; here only the mark and the base rates
  carry it).
- Deterministic for ``seed``: the same seed and sizes give the same images, labels, attributes
  and ids on any machine; ids name the seed and a digest of the configuration, so different
  configurations never share an id. Train and validation images are disjoint draws from
  Fashion-MNIST's training set, test images come from its test set; train's examples do not
  change when the other splits' sizes do.
"""
from __future__ import annotations

import hashlib

import numpy as np

from pie_tf.data import schema
from pie_tf.data.fashion_mnist import CLASS_NAMES, fashion_mnist_arrays
from pie_tf.errors import InvalidArgumentError

__all__ = ["CELEBA_TRAIN_JOINT", "STANDIN_ATTRIBUTES", "DEFAULT_POSITIVE_CLASSES", "celeba_standin",
           "standin_arrays", "standin_info"]

STANDIN_ATTRIBUTES = ("Male", "Young")
# Dress: a small CNN reaches about CelebA's Blond_Hair accuracy on it (benchmarks/data_standin.py:
# 96.7% with 4,000 training images vs 94.7% for the paper's dense ResNet-18), and it is confused
# with coats, shirts and T-shirts, so errors are real vision errors.
DEFAULT_POSITIVE_CLASSES = (3,)
DEFAULT_SIZES = {"train": 20000, "validation": 2500, "test": 5000}

# CelebA training-set shares, Hooker et al. 2020 (REFERENCES.md): Blond 14.9%, Male 41.7%,
# Young 77.9%, Blond∧Male 0.85%, Blond∧not-Male 14.0% (taken as 14.9 - 0.85 = 14.05%).
_P_BLOND_MALE = 0.0085
_P_BLOND_FEMALE = 0.149 - 0.0085
_P_MALE = 0.417
_P_YOUNG = 0.779
# The paper gives no (Young, Male) or (Young, Blond) joint shares. ESTIMATE, not a CelebA count
# verified here: P(Young | Male) = 0.65 (CelebA labels older faces more often among men); then
# P(Young | not Male) = (0.779 - 0.417 * 0.65) / 0.583 = 0.8713 reproduces the Young marginal
# exactly. ASSUMPTION: Young is independent of Blond_Hair given Male. With CelebA's
# list_attr_celeba.txt at hand, pass the exact table as `joint=`.
_P_YOUNG_GIVEN_MALE = 0.65
_P_YOUNG_GIVEN_FEMALE = (_P_YOUNG - _P_MALE * _P_YOUNG_GIVEN_MALE) / (1 - _P_MALE)


def _joint_table():
    male_blond = {(1, 1): _P_BLOND_MALE, (1, 0): _P_BLOND_FEMALE,
                  (0, 1): _P_MALE - _P_BLOND_MALE, (0, 0): 1 - _P_MALE - _P_BLOND_FEMALE}
    table = {}
    for (blond, male), p in male_blond.items():
        p_young = _P_YOUNG_GIVEN_MALE if male else _P_YOUNG_GIVEN_FEMALE
        table[(blond, male, 1)] = p * p_young
        table[(blond, male, 0)] = p * (1 - p_young)
    return table


#: (label, Male, Young) -> share of examples; sums to 1. See the module docstring for sources.
CELEBA_TRAIN_JOINT = _joint_table()
_CELLS = sorted(CELEBA_TRAIN_JOINT, reverse=True)  # (1,1,1), (1,1,0), ..., (0,0,0)


def _largest_remainder(n: int, shares: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``n``, each within 1 of ``n * share`` (ties to the first)."""
    exact = n * shares / shares.sum() if shares.sum() > 0 else np.zeros_like(shares)
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:n - counts.sum()]] += 1
    return counts


def _cell_counts(n: int, joint) -> np.ndarray:
    """Examples per cell of ``_CELLS`` for a split of ``n``.

    Rounded in two stages so the figures the paper gives stay as exact as rounding allows: the
    four (label, Male) cells get ``n * share`` by largest remainder (each within 1 example), then
    each is split into Young / not Young by rounding again (within 1.5 examples per final cell).
    """
    shares = np.array([joint[c] for c in _CELLS], dtype=np.float64).reshape(4, 2)
    outer = _largest_remainder(n, shares.sum(axis=1))
    return np.concatenate([_largest_remainder(int(k), row) for k, row in zip(outer, shares)])


def _check_joint(joint):
    if joint is None:
        return CELEBA_TRAIN_JOINT
    if set(joint) != set(_CELLS):
        raise ValueError(f"`joint` must map each (label, Male, Young) in {_CELLS} to a share.")
    total = float(sum(joint.values()))
    if min(joint.values()) < 0 or abs(total - 1) > 1e-6:
        raise ValueError(f"`joint` shares must be >= 0 and sum to 1; they sum to {total}.")
    return dict(joint)


def _split_rng(seed: int, split: str) -> np.random.Generator:
    # One independent stream per split, so one split's size never changes another split's draws.
    return np.random.default_rng([int(seed), ("train", "validation", "test").index(split)])


def _render(images: np.ndarray, male: np.ndarray, young: np.ndarray, rng, image_size: int,
            margin: int, channels: int) -> np.ndarray:
    n = images.shape[0]
    content = image_size - 2 * margin
    if content != 28:
        from pie_tf._keras import tf
        images = tf.image.resize(images[..., None], (content, content), method="area",
                                 antialias=True).numpy()[..., 0]
        images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    canvas = np.zeros((n, image_size, image_size), dtype=np.uint8)
    canvas[:, margin:margin + content, margin:margin + content] = images
    # Mark intensity varies per image so that the marks are a visual feature, not one pixel value.
    level = rng.integers(192, 256, size=(2, n), dtype=np.int64).astype(np.uint8)
    canvas[:, :margin, :] = np.where(male, level[0], 0)[:, None, None]
    canvas[:, image_size - margin:, :] = np.where(young, level[1], 0)[:, None, None]
    canvas = canvas[..., None]
    return np.repeat(canvas, channels, axis=-1) if channels == 3 else canvas


def _id_prefix(seed, split, sizes, positive_classes, joint) -> str:
    """``seed<seed>-<digest>``: the digest covers everything that decides a split's examples
    (its size, train's size for validation, the positive classes, the joint table), so two
    configurations never share an id while the same configuration always gives the same ids."""
    decisive = {"train": ("train",), "validation": ("train", "validation"),
                "test": ("test",)}[split]
    key = repr(([sizes[s] for s in decisive], positive_classes,
                sorted((c, round(float(p), 12)) for c, p in joint.items())))
    return f"seed{seed}-{hashlib.sha1(key.encode()).hexdigest()[:6]}"


def _check_sizes(sizes: dict, requested) -> dict:
    """Each size a non-negative int, and a positive one for every split in ``requested``."""
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 0:
            raise InvalidArgumentError(f"`{name}_size` must be a non-negative int; got {size!r}.")
    for name in requested:
        if name in sizes and sizes[name] == 0:
            raise InvalidArgumentError(f"`{name}_size` is 0 but split {name!r} is requested: give "
                                       f"`{name}_size` >= 1.")
    return sizes


def standin_arrays(split: str, *, seed: int = 0, image_size: int = 32, margin: int | None = None,
                   channels: int = 1, train_size: int = DEFAULT_SIZES["train"],
                   validation_size: int = DEFAULT_SIZES["validation"],
                   test_size: int = DEFAULT_SIZES["test"],
                   positive_classes=DEFAULT_POSITIVE_CLASSES, joint=None,
                   fashion_mnist_dir: str | None = None) -> dict:
    """The stand-in's examples of one split as numpy arrays (see the module docstring).

    Parameters
    ----------
    split : {"train", "validation", "test"}
    seed : int
        Fixes every random choice; same seed, same data.
    image_size : int in [20, 128]
        Side of the square canvas (28-32 for the quick study).
    margin : int, optional
        Width of the frame that holds the marks; default ``max(2, image_size // 16)``.
    channels : {1, 3}
        3 repeats the grayscale image (for models built for RGB).
    train_size, validation_size, test_size : int
        Number of examples per split. Train + validation draw from Fashion-MNIST's 60,000
        training images, test from its 10,000 test images, without replacement.
    positive_classes : sequence of int
        Fashion-MNIST classes that make ``label`` 1.
    joint : mapping, optional
        (label, Male, Young) -> share; default :data:`CELEBA_TRAIN_JOINT`.
    fashion_mnist_dir : str, optional
        Directory with Fashion-MNIST's IDX files (default Debian's).

    Returns
    -------
    dict
        ``image`` uint8 (n, S, S, channels), ``label`` int64 (n,), ``Male``, ``Young`` bool (n,),
        ``id`` str (n,), ``source_index`` int64 (n,) (position in Fashion-MNIST's split),
        ``source_class`` int64 (n,) (Fashion-MNIST class).
    """
    sizes = _check_sizes({"train": train_size, "validation": validation_size, "test": test_size},
                         (split,))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int; got {seed!r}.")
    if not isinstance(image_size, (int, np.integer)) or not 20 <= image_size <= 128:
        raise ValueError(f"`image_size` must be an int in [20, 128]; got {image_size!r}.")
    margin = max(2, image_size // 16) if margin is None else margin
    if not isinstance(margin, (int, np.integer)) or not 1 <= margin <= (image_size - 8) // 2:
        raise ValueError(f"`margin` must be an int in [1, {(image_size - 8) // 2}]; got "
                         f"{margin!r}.")
    schema.check_choice(channels, (1, 3), "channels", "channel count")
    positive_classes = tuple(int(c) for c in positive_classes)
    if not positive_classes or not set(positive_classes) < set(range(10)):
        raise ValueError(f"`positive_classes` must be a non-empty proper subset of 0-9 (classes: "
                         f"{dict(enumerate(CLASS_NAMES))}); got {positive_classes}.")
    joint = _check_joint(joint)

    source_split = "test" if split == "test" else "train"
    images, labels = fashion_mnist_arrays(source_split, fashion_mnist_dir)
    # The pool order depends only on (seed, source split): validation continues train's draw.
    pool_rng = np.random.default_rng([int(seed), 100 + ("train", "test").index(source_split)])
    is_positive = np.isin(labels, positive_classes)
    pools = {1: pool_rng.permutation(np.flatnonzero(is_positive)),
             0: pool_rng.permutation(np.flatnonzero(~is_positive))}
    # Validation continues the training draw, so the two never share an image.
    before = ["train"] if split == "validation" else []
    offsets = {1: 0, 0: 0}
    for earlier in before + [split]:
        counts = _cell_counts(sizes[earlier], joint)
        need = {b: int(sum(c for cell, c in zip(_CELLS, counts) if cell[0] == b)) for b in (0, 1)}
        for b in (0, 1):
            if offsets[b] + need[b] > len(pools[b]):
                raise ValueError(
                    f"celeba_standin: {earlier} needs {need[b]} {'positive' if b else 'negative'} "
                    f"images but Fashion-MNIST {source_split} has only "
                    f"{len(pools[b]) - offsets[b]} "
                    f"left; lower train_size/validation_size/test_size.")
        if earlier != split:
            for b in (0, 1):
                offsets[b] += need[b]

    rng = _split_rng(seed, split)
    cell_of = np.repeat(np.arange(len(_CELLS)), counts)
    cells = np.array(_CELLS, dtype=np.int64)[cell_of]          # (n, 3): label, Male, Young
    source = np.empty(len(cells), dtype=np.int64)
    for b in (0, 1):
        rows = np.flatnonzero(cells[:, 0] == b)
        source[rows] = pools[b][offsets[b]:offsets[b] + len(rows)]
    order = rng.permutation(len(cells))
    cells, source = cells[order], source[order]
    male, young = cells[:, 1].astype(bool), cells[:, 2].astype(bool)
    rendered = _render(images[source], male, young, rng, image_size, margin, channels)
    ids = np.char.add(f"{_id_prefix(seed, split, sizes, positive_classes, joint)}/{split}/",
                      np.char.zfill(np.arange(len(cells)).astype(str), 6))
    return {"image": rendered, "label": cells[:, 0].copy(), "Male": male, "Young": young,
            "id": ids, "source_index": source, "source_class": labels[source].astype(np.int64)}


def celeba_standin(split: str, **options):
    """The stand-in in pie_tf's schema: ``tf.data.Dataset`` of image, label, attributes, id.

    ``options`` are those of :func:`standin_arrays`; ``split`` may use tfds slicing
    (``"train[:1000]"``). Attributes are ``{"Male": bool, "Young": bool}``; ids are
    ``"seed0-<digest>/train/000042"``: the same on every run and machine for the same seed, sizes,
    positive classes and joint table (the digest covers them), different otherwise.
    """
    sizes = {"train": options.get("train_size", DEFAULT_SIZES["train"]),
             "validation": options.get("validation_size", DEFAULT_SIZES["validation"]),
             "test": options.get("test_size", DEFAULT_SIZES["test"])}
    schema.check_split(split, tuple(sizes), "celeba_standin")
    _check_sizes(sizes, schema.split_bases(split))
    parts = schema.split_positions(split, sizes, "celeba_standin")
    chunks = []
    for name, positions in parts:
        arrays = standin_arrays(name, **options)
        chunks.append({k: v[positions] for k, v in arrays.items()})
    merged = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return schema.from_arrays(merged["image"], merged["label"],
                              {a: merged[a] for a in STANDIN_ATTRIBUTES}, merged["id"])


def standin_info(**options) -> schema.DatasetInfo:
    """:class:`DatasetInfo` of the stand-in (reads no images)."""
    image_size = options.get("image_size", 32)
    channels = options.get("channels", 1)
    positive = tuple(options.get("positive_classes", DEFAULT_POSITIVE_CLASSES))
    return schema.DatasetInfo(
        "celeba_standin", 2, ("not Blond_Hair", "Blond_Hair"), STANDIN_ATTRIBUTES,
        STANDIN_ATTRIBUTES, ("train", "validation", "test"), (image_size, image_size, channels),
        "STAND-IN, NOT CelebA: Fashion-MNIST images; label 1 ('Blond_Hair') = "
        f"{', '.join(CLASS_NAMES[c] for c in positive)}; 'Male' and 'Young' are rendered marks "
        "(top / bottom bars) with CelebA's (Blond_Hair, Male, Young) training proportions.")
