"""Noise corruptions: gaussian, shot, impulse, speckle (ImageNet-C's algorithms, batched).

Each function takes float32 images (B, H, W, C) in [0, 1], per-example seeds (B, 2) int64, the
severity's table entry ``c`` and the pixel ``scale`` (unused: noise is per pixel), and returns
float32 images in [0, 1].
"""
from __future__ import annotations

import tensorflow as tf

from pie_tf.corruptions import _ops


def gaussian_noise(x, seeds, c, scale):
    """x + N(0, c^2), clipped."""
    del scale
    return tf.clip_by_value(x + _ops.normal(seeds, 0, x.shape[1:], stddev=c), 0.0, 1.0)


def shot_noise(x, seeds, c, scale):
    """Poisson(x * c) / c: photon noise with ``c`` photons at full intensity."""
    del scale
    return tf.clip_by_value(_ops.poisson(seeds, 0, x * c) / c, 0.0, 1.0)


def impulse_noise(x, seeds, c, scale):
    """Salt and pepper on a fraction ``c`` of the values (each channel independently), half
    salt, half pepper -- skimage's ``random_noise(mode='s&p')``."""
    del scale
    flip = _ops.uniform(seeds, 0, x.shape[1:]) < c
    salt = _ops.uniform(seeds, 1, x.shape[1:]) < 0.5
    return tf.where(flip, tf.cast(salt, tf.float32), x)


def speckle_noise(x, seeds, c, scale):
    """x + x * N(0, c^2), clipped."""
    del scale
    return tf.clip_by_value(x + x * _ops.normal(seeds, 0, x.shape[1:], stddev=c), 0.0, 1.0)
