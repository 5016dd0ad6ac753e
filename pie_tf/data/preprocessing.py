"""Preprocessing as separate, named, composable steps over pie_tf examples.

Loading never preprocesses: ``load`` yields uint8 images, and these functions build
``example -> example`` map functions that change only ``image`` (ids, labels and attributes pass
through untouched, so predictions made with and without preprocessing join on ``id``).

    ds = pie_tf.data.load("imagenet2012", "validation")
    ds = pie_tf.data.preprocess(ds, pie_tf.data.resnet_eval())          # resize 256, crop 224
    ds = pie_tf.data.preprocess(ds, pie_tf.data.resize(64), pie_tf.data.normalize())
    train = pie_tf.data.preprocess(train, pie_tf.data.resnet_train(), seed=0)

A step is a function ``(image, seed) -> image`` (``seed``: an int32 tensor of shape (2,), for
stateless random ops, so augmentation is reproducible per example and per epoch seed);
:func:`preprocess` maps any number of steps over a dataset and :func:`as_supervised` turns the
examples into ``(image, label)`` pairs for ``model.fit``.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from pie_tf._keras import tf
from pie_tf.data import schema
from pie_tf.errors import InvalidArgumentError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "as_supervised", "center_crop", "compose", "normalize",
           "preprocess", "random_flip", "random_resized_crop", "resize", "resnet_eval",
           "resnet_train", "to_float"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)   # torchvision / TF-slim ResNet statistics, pixels in [0, 1]
IMAGENET_STD = (0.229, 0.224, 0.225)

Step = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def _check_size(size, argname="size"):
    if isinstance(size, int):
        size = (size, size)
    if (not isinstance(size, (tuple, list)) or len(size) != 2
            or not all(isinstance(s, int) and s > 0 for s in size)):
        raise ValueError(f"`{argname}` must be a positive int or (height, width); got {size!r}.")
    return tuple(size)


def _like(out, image):
    # Geometric steps keep the input dtype: uint8 stays uint8 (rounded), so pixel scale is always
    # known downstream (uint8 in [0, 255], floats in [0, 1]) and to_float/normalize divide once.
    if image.dtype == tf.uint8:
        return tf.cast(tf.clip_by_value(tf.round(out), 0, 255), tf.uint8)
    return tf.cast(out, image.dtype)


def to_float() -> Step:
    """uint8 [0, 255] -> float32 [0, 1] (float input is taken to be in [0, 1] already)."""
    def step(image, seed):
        return tf.image.convert_image_dtype(image, tf.float32) if image.dtype == tf.uint8 \
            else tf.cast(image, tf.float32)
    step.__name__ = "to_float"
    return step


def resize(size, *, method: str = "bilinear") -> Step:
    """Resize to ``size`` (int or (H, W)), ignoring aspect ratio; keeps the dtype.

    uint8 stays uint8 (rounded), so a resized dataset still satisfies the loader schema
    (``load(..., image_size=...)`` uses this step).
    """
    size = _check_size(size)

    def step(image, seed):
        return _like(tf.image.resize(image, size, method=method, antialias=True), image)
    step.__name__ = f"resize{size}"
    return step


def center_crop(size, *, resize_shorter: int | None = None) -> Step:
    """Optionally resize the shorter side to ``resize_shorter`` (aspect kept), then crop the
    centre."""
    size = _check_size(size)

    def step(image, seed):
        if resize_shorter is not None:
            shape = tf.cast(tf.shape(image)[:2], tf.float32)
            scale = resize_shorter / tf.reduce_min(shape)
            new = tf.cast(tf.round(shape * scale), tf.int32)
            image = _like(tf.image.resize(image, new, method="bilinear", antialias=True), image)
        return tf.image.resize_with_crop_or_pad(image, size[0], size[1])
    step.__name__ = f"center_crop{size}"
    return step


def random_flip() -> Step:
    """Horizontal flip with probability 1/2 (stateless, from the step seed)."""
    def step(image, seed):
        return tf.image.stateless_random_flip_left_right(image, seed)
    step.__name__ = "random_flip"
    return step


def random_resized_crop(size, *, scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                        antialias=False) -> Step:
    """Inception-style crop (the ResNet ImageNet training crop), resized to ``size``.

    Samples a box covering ``scale`` of the area with aspect ratio in ``ratio``
    (``tf.image.stateless_sample_distorted_bounding_box``, 10 attempts, whole image as fallback).
    The crop is resized bilinearly without antialiasing by default, as the reference ResNet and
    big_vision ``inception_crop`` pipelines do: most crops are upscaled, where antialiasing
    changes nothing, and it made this step 5x slower at 224 px (benchmarks/input_pipeline.py).
    """
    size = _check_size(size)

    def step(image, seed):
        begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image), bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]), seed=seed,
            min_object_covered=0.0, aspect_ratio_range=ratio, area_range=scale,
            max_attempts=10, use_image_if_no_bounding_boxes=True)
        crop = tf.slice(image, begin, crop_size)
        return _like(tf.image.resize(crop, size, method="bilinear", antialias=antialias), image)
    step.__name__ = f"random_resized_crop{size}"
    return step


def normalize(mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD) -> Step:
    """Scale to [0, 1] (if uint8), then per-channel ``(x - mean) / std``.

    For 1-channel images pass one mean/std (e.g. ``normalize((0.5,), (0.5,))``); the ImageNet
    defaults need 3 channels.
    """
    mean_a, std_a = np.asarray(mean, np.float64), np.asarray(std, np.float64)
    if mean_a.ndim > 1 or not np.all(np.isfinite(mean_a)):
        raise InvalidArgumentError(f"`mean` must be finite numbers, one per channel; got {mean!r}.")
    if std_a.ndim > 1 or not (np.all(np.isfinite(std_a)) and np.all(std_a > 0)):
        raise InvalidArgumentError(f"`std` must be finite numbers > 0, one per channel (a zero "
                                   f"std would make every pixel +-inf); got {std!r}.")
    mean_t = tf.constant(mean, tf.float32)
    std_t = tf.constant(std, tf.float32)
    as_float = to_float()

    def step(image, seed):
        image = as_float(image, seed)
        return (image - mean_t) / std_t
    step.__name__ = "normalize"
    return step


def compose(*steps: Step) -> Step:
    """One step that applies ``steps`` in order, each with its own derived seed."""
    for i, s in enumerate(steps):
        if not callable(s):
            raise TypeError(f"step {i} must be callable (image, seed) -> image; got {s!r}.")

    def step(image, seed):
        for i, s in enumerate(steps):
            image = s(image, tf.random.experimental.stateless_fold_in(seed, i))
        return image
    step.__name__ = "+".join(getattr(s, "__name__", "step") for s in steps)
    return step


def resnet_train(size: int = 224) -> Step:
    """Standard ResNet ImageNet training preprocessing: random resized crop, flip, normalize."""
    return compose(random_resized_crop(size), random_flip(), normalize())


def resnet_eval(size: int = 224, resize_shorter: int = 256) -> Step:
    """Standard ResNet ImageNet evaluation preprocessing: shorter side 256, centre 224,
    normalize."""
    return compose(center_crop(size, resize_shorter=resize_shorter), normalize())


def preprocess(ds: tf.data.Dataset, *steps: Step, seed: int | None = None,
               num_parallel_calls=tf.data.AUTOTUNE) -> tf.data.Dataset:
    """Apply ``steps`` to the ``image`` of every example; everything else passes through.

    Parameters
    ----------
    ds : tf.data.Dataset of pie_tf examples
    *steps : callables (image, seed) -> image
    seed : int, optional
        Seed for random steps. Example ``i`` gets the stateless seed ``(seed, i)``: the same
        augmentation each run, a different one per example. Random steps without a seed get
        seed 0 (reproducible; pass ``seed=epoch`` to vary augmentation over epochs).
    """
    schema.validate_element_spec(ds)
    if not steps:
        raise ValueError("`steps`: give at least one preprocessing step.")
    step = compose(*steps)
    base = 0 if seed is None else int(seed)

    def apply(index, example):
        example = dict(example)
        step_seed = tf.stack([tf.constant(base, tf.int64), index])
        example[schema.IMAGE] = step(example[schema.IMAGE], tf.cast(step_seed, tf.int32))
        return example

    return ds.enumerate().map(apply, num_parallel_calls=num_parallel_calls, deterministic=True)


def as_supervised(ds: tf.data.Dataset) -> tf.data.Dataset:
    """``example -> (image, label)`` for ``model.fit`` / ``model.predict``."""
    schema.validate_element_spec(ds)
    return ds.map(lambda ex: (ex[schema.IMAGE], ex[schema.LABEL]),
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
