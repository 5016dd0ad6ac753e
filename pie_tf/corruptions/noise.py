"""Noise corruptions: gaussian, shot, impulse, speckle (ImageNet-C's algorithms, batched).

Each function takes float32 images (B, H, W, C) in [0, 1], per-example seeds (B, 2) int64, the
severity's table entry ``c`` and the pixel ``scale`` (unused: noise is per pixel), and returns
float32 images in [0, 1].
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from pie_tf.corruptions import _ops


def gaussian_noise(x, seeds, c, scale):
    """x + N(0, c^2), clipped."""
    del scale
    return tf.clip_by_value(x + _ops.normal(seeds, 0, x.shape[1:], stddev=c), 0.0, 1.0)


# Photon counts up to this many are drawn by CDF inversion (``_ops.poisson_inversion``): every
# ImageNet-C severity (c = 60 .. 3). CIFAR-10-C's (c = 500 .. 50, used below 85 px) go through
# TensorFlow's Philox Poisson sampler, one example at a time.
INVERSION_MAX_PHOTONS = 64


def shot_noise_compiles(c):
    """Whether ``shot_noise`` at ``c`` photons is XLA-compilable (the inversion sampler)."""
    return float(c) <= INVERSION_MAX_PHOTONS


def shot_noise(x, seeds, c, scale, levels=None):
    """Poisson(x * c) / c: photon noise with ``c`` photons at full intensity, clipped to 1.

    With ``c`` <= ``INVERSION_MAX_PHOTONS`` only ``min(X, ceil(c))`` matters (any count from
    ``c`` up clips to 1), so the draw is a ``ceil(c)``-step CDF inversion of one uniform per
    value: exact in distribution, and cheap at ImageNet-C's severities. ``levels``, the uint8
    image when the input was one, lets the CDF come from a 256-row table.
    """
    del scale
    if shot_noise_compiles(c):
        u = _ops.open_uniform(seeds, 0, x.shape[1:])
        cap = int(np.ceil(c))
        if levels is not None:
            counts = _ops.poisson_inversion_uint8(u, levels, c, cap)
        else:
            counts = _ops.poisson_inversion(u, x * float(c), cap)
    else:
        counts = _ops.poisson(seeds, 0, x * c)
    return tf.clip_by_value(counts / c, 0.0, 1.0)


def impulse_noise(x, seeds, c, scale):
    """Salt and pepper on a fraction ``c`` of the values (each channel independently), half
    salt, half pepper -- skimage's ``random_noise(mode='s&p')``."""
    del scale
    # one hash word per value: its top 24 bits decide the flip, its lowest bit salt or pepper
    bits = _ops.random_bits(seeds, 0, x.shape[1:])
    flip = tf.bitwise.right_shift(bits, _ops.u32(8)) < _ops.u32(int(round(c * 2 ** 24)))
    salt = tf.cast(tf.bitwise.bitwise_and(bits, _ops.u32(1)), tf.float32)
    return tf.where(flip, salt, x)


def speckle_noise(x, seeds, c, scale):
    """x + x * N(0, c^2), clipped."""
    del scale
    return tf.clip_by_value(x + x * _ops.normal(seeds, 0, x.shape[1:], stddev=c), 0.0, 1.0)
