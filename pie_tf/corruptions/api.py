"""Public entry points: ``corrupt``, ``corruption_fn``, ``corrupt_dataset``.

Conventions
-----------
* Images are (B, H, W, C), C = 1 or 3, any H, W >= 8. ``uint8`` in -> ``uint8`` out, quantised
  by truncation (``np.uint8`` of the float result, as ImageNet-C made its files; a 1e-3 guard
  keeps float32 round-off from turning an exact k into k - 1). Floating images are taken to be
  in [0, 1] (TensorFlow's image convention; ``corrupt`` refuses eager input above 1) and come
  back in [0, 1] with the same dtype, unquantised.
* Randomness is stateless and per example: example ``i`` gets the seed pair
  ``(seed, fingerprint(id_i) XOR tag(name, severity))``, where ``fingerprint`` is TensorFlow's
  FarmHash of the id's string form (``tf.strings.to_hash_bucket_fast``, stable across runs and
  platforms). ``corrupt`` uses the position in the batch as the id, so ``corrupt(images)`` and
  ``corrupt_dataset`` over a dataset whose ids are 0..N-1 agree; ``corrupt_dataset`` uses the
  example's ``id``, so its output does not depend on batching, order or sharding.
"""
from __future__ import annotations

import zlib

import numpy as np
import tensorflow as tf

from pie_tf._imagenet_c import CORRUPTIONS, EXTRA_CORRUPTIONS
from pie_tf.corruptions import _params, blur, digital, noise, weather
from pie_tf.errors import InvalidArgumentError


_FUNCTIONS = {
    "gaussian_noise": noise.gaussian_noise, "shot_noise": noise.shot_noise,
    "impulse_noise": noise.impulse_noise, "speckle_noise": noise.speckle_noise,
    "defocus_blur": blur.defocus_blur, "glass_blur": blur.glass_blur,
    "motion_blur": blur.motion_blur, "zoom_blur": blur.zoom_blur,
    "gaussian_blur": blur.gaussian_blur,
    "snow": weather.snow, "frost": weather.frost, "fog": weather.fog,
    "brightness": weather.brightness, "spatter": weather.spatter,
    "contrast": digital.contrast, "elastic_transform": digital.elastic_transform,
    "pixelate": digital.pixelate, "jpeg_compression": digital.jpeg_compression,
    "saturate": digital.saturate,
}
_NEEDS_TABLE = {"frost", "elastic_transform", "pixelate"}
_MIN_SIDE = 8


def _check_name_severity(name, severity):
    valid = CORRUPTIONS + EXTRA_CORRUPTIONS
    if not isinstance(name, str) or name not in valid:
        raise InvalidArgumentError(f"name must be one of {', '.join(valid)}; got {name!r}")
    if name not in _FUNCTIONS:  # pragma: no cover - every valid name is registered
        raise NotImplementedError(f"corruption {name!r} is not available")
    if isinstance(severity, (bool, np.bool_)) or not isinstance(severity, (int, np.integer)) \
            or not 1 <= severity <= 5:
        raise InvalidArgumentError(f"severity must be an integer in 1..5; got {severity!r}")
    return int(severity)


def _check_images(images, argname="images"):
    if images.shape.rank != 4:
        raise ValueError(f"{argname} must have rank 4 (B, H, W, C); got shape {images.shape}")
    h, w, c = images.shape[1], images.shape[2], images.shape[3]
    if c not in (1, 3):
        raise ValueError(f"{argname} must have 1 or 3 channels (last axis); got {c}")
    if h is None or w is None:
        raise ValueError(f"{argname} must have a static height and width; got {images.shape}")
    if min(h, w) < _MIN_SIDE:
        raise ValueError(f"{argname} must be at least {_MIN_SIDE}x{_MIN_SIDE}; got {h}x{w}")
    if not (images.dtype == tf.uint8 or images.dtype.is_floating):
        raise TypeError(f"{argname} must be uint8 or floating point; got {images.dtype.name}")


def _tag(name, severity):
    return zlib.crc32(f"{name}/{severity}".encode()) * 8 + severity


def example_seeds(ids, seed, name, severity):
    """Per-example stateless seeds (B, 2) int64 from ids (B,) of any dtype.

    ``(seed, FarmHash64(str(id)) XOR tag(name, severity))``: independent of batching, and
    different corruptions of one example draw unrelated noise.
    """
    ids = tf.convert_to_tensor(ids)
    text = ids if ids.dtype == tf.string else tf.strings.as_string(ids)
    hashed = tf.strings.to_hash_bucket_fast(text, 2 ** 62)
    mixed = tf.bitwise.bitwise_xor(hashed, tf.constant(_tag(name, severity), tf.int64))
    return tf.stack([tf.fill(tf.shape(mixed), tf.constant(seed, tf.int64)), mixed], axis=1)


def _apply(images, name, severity, seeds):
    """Corrupt a validated (B, H, W, C) batch with per-example ``seeds`` (B, 2)."""
    h, w = images.shape[1], images.shape[2]
    params, table, scale = _params.select(name, severity, h, w)
    x = _to_unit(images)
    kwargs = {"table": table} if name in _NEEDS_TABLE else {}
    if name == "shot_noise" and images.dtype == tf.uint8:
        kwargs["levels"] = images
    y = _FUNCTIONS[name](x, seeds, params, scale, **kwargs)
    if images.dtype == tf.uint8:
        return _to_uint8(y)
    return tf.cast(y, images.dtype)


# The conversions are XLA clusters of their own: one fused pass each where the corruption runs
# op by op (several passes otherwise), inlined where it is compiled whole.
@tf.function(jit_compile=True)
def _to_unit(images):
    x = tf.cast(images, tf.float32)
    return x / 255.0 if images.dtype == tf.uint8 else x


@tf.function(jit_compile=True)
def _to_uint8(y):
    return tf.cast(tf.floor(tf.clip_by_value(y, 0.0, 1.0) * 255.0 + 1e-3), tf.uint8)


# Corruptions compiled whole by XLA, which fuses their elementwise and stencil chains into a
# few passes over the batch (2-10x faster than op by op on this CPU; see
# benchmarks/corruption_throughput.py). shot_noise compiles where its CDF-inversion sampler
# applies (see ``_compiled``). The others stay op by op: JPEG coding and TensorFlow's Poisson
# sampler have no XLA kernel; XLA's CPU bilinear resize (zoom_blur, snow) was 10-20x slower
# than TensorFlow's; spatter compiles only its stencil parts (see ``weather.spatter``).
_XLA = {"gaussian_noise", "impulse_noise", "speckle_noise", "brightness", "contrast",
        "saturate", "frost", "fog", "gaussian_blur", "pixelate", "glass_blur",
        "elastic_transform", "defocus_blur", "motion_blur"}
_COMPILED = {}


def _compiled(name, severity, h, w):
    """The cached ``tf.function`` for (name, severity) at H x W: XLA-compiled where possible."""
    jit = name in _XLA
    if name == "shot_noise":  # the inversion sampler compiles; CIFAR's photon counts do not
        jit = noise.shot_noise_compiles(_params.select(name, severity, h, w)[0])
    key = (name, severity, jit)
    if key not in _COMPILED:
        _COMPILED[key] = tf.function(
            lambda images, seeds: _apply(images, name, severity, seeds),
            reduce_retracing=False, jit_compile=jit)
    return _COMPILED[key]


def corrupt(images, name, severity, *, seed=0):
    """Corrupt a batch of images with one ImageNet-C corruption.

    Parameters
    ----------
    images : uint8 or float tensor/array of shape (B, H, W, C)
        C = 1 or 3, H and W >= 8. Floats are in [0, 1].
    name : str
        One of ``CORRUPTIONS`` (the 15 of ImageNet-C) or ``EXTRA_CORRUPTIONS`` (the 4 extra).
    severity : int
        1..5. Parameters: ImageNet-C's at 224 px, CIFAR-10-C's at 32 px, the rule of
        ``pie_tf.corruptions._params`` in between and below.
    seed : int
        Same seed, same images in -> same output. Example ``i`` is seeded by ``(seed, i)``.

    Returns
    -------
    tensor of shape (B, H, W, C), same dtype as ``images``.
    """
    severity = _check_name_severity(name, severity)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")
    images = tf.convert_to_tensor(images)
    _check_images(images)
    if images.dtype.is_floating and tf.executing_eagerly() and tf.size(images) > 0:
        # A NaN pixel would spread through every blur and FFT into its neighbours, and values
        # outside [0, 1] (e.g. mean-centred images) would be clipped: refuse both.
        finite = tf.math.is_finite(images)
        if not bool(tf.reduce_all(finite)):
            bad = int(tf.size(images)) - int(tf.math.count_nonzero(finite))
            raise InvalidArgumentError(f"images: {bad} pixel(s) are NaN or infinite; corruptions "
                                       "need finite pixels in [0, 1].")
        low, top = float(tf.reduce_min(images)), float(tf.reduce_max(images))
        if top > 1.0 + 1e-6 or low < -1e-6:
            raise InvalidArgumentError(
                f"float images must be in [0, 1]; got values in [{low:g}, {top:g}] (divide by "
                "255, undo any mean/std normalisation before corrupting, or pass uint8)")
    ids = tf.range(tf.shape(images)[0], dtype=tf.int64)
    seeds = example_seeds(ids, seed, name, severity)
    return _compiled(name, severity, images.shape[1], images.shape[2])(images, seeds)


def corruption_fn(name, severity, seed=0):
    """A ``tf.data`` map function that corrupts ``example['image']``.

    Takes pie_tf example dicts (``image``, ``label``, optional ``attributes``, ``id``), batched
    (image (B, H, W, C), id (B,)) or not (image (H, W, C), id scalar), and returns the same dict
    with only ``image`` replaced. Seeds come from ``id`` (see module notes), so the corrupted
    example does not depend on batching or order.
    """
    severity = _check_name_severity(name, severity)
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int; got {type(seed).__name__}")

    def fn(example):
        if not isinstance(example, dict) or "image" not in example or "id" not in example:
            raise TypeError("corruption_fn expects example dicts with 'image' and 'id' keys; "
                            f"got {type(example).__name__}"
                            + (f" with keys {sorted(example)}" if isinstance(example, dict)
                               else ""))
        image = tf.convert_to_tensor(example["image"])
        ids = tf.convert_to_tensor(example["id"])
        single = image.shape.rank == 3
        if single:
            image, ids = image[None], ids[None]
        _check_images(image, "example['image']")
        out = _compiled(name, severity, image.shape[1], image.shape[2])(
            image, example_seeds(ids, seed, name, severity))
        result = dict(example)
        result["image"] = out[0] if single else out
        return result

    return fn


def corrupt_dataset(ds, name, severity, seed=0):
    """The dataset with every ``image`` corrupted; ids, labels and attributes unchanged.

    Parameters
    ----------
    ds : tf.data.Dataset of pie_tf example dicts, batched or not.
    name, severity, seed : see ``corrupt``.

    Returns
    -------
    tf.data.Dataset with the same element structure, order and ids.
    """
    if not isinstance(ds, tf.data.Dataset):
        raise TypeError(f"ds must be a tf.data.Dataset; got {type(ds).__name__}")
    spec = ds.element_spec
    if not isinstance(spec, dict) or "image" not in spec or "id" not in spec:
        raise TypeError("ds must yield pie_tf example dicts with 'image' and 'id' (the id seeds "
                        f"each example's noise); got element_spec {spec!r}. Build it with "
                        "pie_tf.data.load or pie_tf.data.from_arrays, not as (image, label) pairs.")
    return ds.map(corruption_fn(name, severity, seed), num_parallel_calls=tf.data.AUTOTUNE,
                  deterministic=True)
