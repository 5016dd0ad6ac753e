"""Batched building blocks shared by the corruption families.

Images here are float32 tensors of shape (B, H, W, C) in [0, 1]; H and W are static. Random
draws take ``seeds`` of shape (B, 2) int64 -- one stateless seed per example -- so an example's
corruption does not depend on which batch it is in.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

# ------------------------------------------------------------------------- per-example random


def _draw(seeds, stream, sample):
    """``sample(seed)`` for every example's seed folded with ``stream``; stacked on axis 0."""
    def one(seed):
        return sample(tf.random.experimental.stateless_fold_in(seed, stream))
    spec = tf.TensorSpec(None, tf.float32)
    return tf.map_fn(one, seeds, fn_output_signature=spec)


def normal(seeds, stream, shape, mean=0.0, stddev=1.0):
    """Per-example N(mean, stddev^2) draws of ``shape``: tensor (B, *shape)."""
    out = _draw(seeds, stream, lambda s: tf.random.stateless_normal(shape, s, mean, stddev))
    return tf.ensure_shape(out, [None, *shape])


def uniform(seeds, stream, shape, minval=0.0, maxval=1.0):
    """Per-example U[minval, maxval) draws of ``shape``: tensor (B, *shape)."""
    out = _draw(seeds, stream,
                lambda s: tf.random.stateless_uniform(shape, s, minval, maxval))
    return tf.ensure_shape(out, [None, *shape])


def poisson(seeds, stream, lam):
    """Per-example Poisson draws with rates ``lam`` (B, ...): float32 tensor like ``lam``."""
    def one(args):
        seed, rate = args
        seed = tf.random.experimental.stateless_fold_in(seed, stream)
        return tf.random.stateless_poisson(tf.shape(rate), seed, rate, dtype=tf.float32)
    out = tf.map_fn(one, (seeds, lam), fn_output_signature=tf.TensorSpec(None, tf.float32))
    return tf.ensure_shape(out, lam.shape)


# ------------------------------------------------------------------------------ borders


def border_index(n, before, after, mode):
    """Source indices (numpy int32) of a length-``n`` axis padded by ``before``/``after``.

    ``mode`` names the border rule as the reference libraries do: ``'edge'`` (scipy
    ``nearest``), ``'symmetric'`` (scipy ``reflect``: d c b a | a b c d) and ``'reflect101'``
    (OpenCV's default and ``tf.pad`` REFLECT: d c b | a b c d). Works for pads wider than ``n``.
    """
    i = np.arange(-before, n + after)
    if mode == "edge":
        return np.clip(i, 0, n - 1).astype(np.int32)
    if n == 1:
        return np.zeros_like(i, dtype=np.int32)
    if mode == "symmetric":
        period = 2 * n
        i = np.mod(i, period)
        return np.where(i < n, i, period - 1 - i).astype(np.int32)
    if mode == "reflect101":
        period = 2 * n - 2
        i = np.mod(i, period)
        return np.where(i < n, i, period - i).astype(np.int32)
    raise ValueError(f"unknown border mode {mode!r}")


def pad(x, ph, pw, mode):
    """Pad (B, H, W, C) by ``ph`` rows and ``pw`` columns on each side with a border rule."""
    h, w = x.shape[1], x.shape[2]
    if ph:
        x = tf.gather(x, border_index(h, ph, ph, mode), axis=1)
    if pw:
        x = tf.gather(x, border_index(w, pw, pw, mode), axis=2)
    return x


# ------------------------------------------------------------------------------ filters


def gaussian_kernel1d(sigma, truncate=4.0):
    """scipy.ndimage's Gaussian weights: radius ``int(truncate * sigma + 0.5)``, sum 1."""
    radius = int(truncate * float(sigma) + 0.5)
    if sigma <= 0 or radius == 0:
        return np.ones(1, np.float32)
    t = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (t / sigma) ** 2)
    return (k / k.sum()).astype(np.float32)


def filter_matrix(n, kernel, mode):
    """The (n, n) matrix of a 1-D 'same' correlation with ``kernel`` under a border rule.

    Filtering as a matrix product costs the same for any kernel width and folds the border
    rule in exactly; ``M @ signal`` equals padding then correlating.
    """
    kernel = np.asarray(kernel, np.float64)
    r = len(kernel) // 2
    src = border_index(n, r, r, mode)
    m = np.zeros((n, n), np.float64)
    rows = np.repeat(np.arange(n), len(kernel))
    cols = src[np.arange(n)[:, None] + np.arange(len(kernel))[None]].ravel()
    np.add.at(m, (rows, cols), np.tile(kernel, n))
    return m.astype(np.float32)


def separable(x, k_rows, k_cols, mode):
    """Correlate every channel with ``k_rows`` along H and ``k_cols`` along W ('same' size)."""
    mh = tf.constant(filter_matrix(x.shape[1], k_rows, mode))
    mw = tf.constant(filter_matrix(x.shape[2], k_cols, mode))
    y = tf.einsum("ij,bjwc->biwc", mh, x)
    return tf.einsum("kw,biwc->bikc", mw, y)


def fft_convolve(x, kernel_images, pad_by, mode):
    """Circular FFT convolution of (B, H, W, C) padded by ``pad_by`` with a border rule.

    ``kernel_images`` (B or 1, H + 2p, W + 2p) hold each tap's weight at its offset modulo the
    padded size (out[i] = sum_d k[d] x[i - d]); with every |offset| <= ``pad_by`` the wrap-around
    only reads padding, so the result equals the padded linear convolution, cropped back.
    """
    h, w, p = x.shape[1], x.shape[2], pad_by
    xp = pad(x, p, p, mode)
    xf = tf.signal.rfft2d(tf.transpose(xp, [0, 3, 1, 2]))
    kf = tf.signal.rfft2d(kernel_images)[:, None]
    y = tf.signal.irfft2d(xf * kf, fft_length=[h + 2 * p, w + 2 * p])
    return tf.transpose(y, [0, 2, 3, 1])[:, p:p + h, p:p + w]


def convolve(x, kernel2d, mode):
    """Correlate every channel with a 2-D ``kernel2d`` (kh, kw) ('same' size), by FFT."""
    kernel2d = np.asarray(kernel2d, np.float64)
    kh, kw = kernel2d.shape
    p = max(kh, kw) // 2
    hp, wp = x.shape[1] + 2 * p, x.shape[2] + 2 * p
    image = np.zeros((hp, wp))
    for i in range(kh):
        for j in range(kw):
            # correlation: out[y] = sum_t k[t] x[y + t - r]  ->  offset d = r - t
            image[(kh // 2 - i) % hp, (kw // 2 - j) % wp] += kernel2d[i, j]
    return fft_convolve(x, tf.constant(image[None], tf.float32), p, mode)


def gaussian_blur(x, sigma, mode="edge", truncate=4.0):
    """skimage.filters.gaussian over H and W (per-axis ``sigma`` allowed)."""
    sh, sw = (sigma, sigma) if np.isscalar(sigma) else sigma
    return separable(x, gaussian_kernel1d(sh, truncate), gaussian_kernel1d(sw, truncate), mode)


# ------------------------------------------------------------------------- geometry


def gather_2d(x, rows, cols):
    """``x[b, rows[b, i], cols[b, j]]`` for (B, H', ) rows and (B, W') cols."""
    x = tf.gather(x, rows, axis=1, batch_dims=1)
    return tf.gather(x, cols, axis=2, batch_dims=1)


def motion_blur(x, radius, sigma, angles):
    """imagecorruptions' motion blur, batched: one angle (degrees) per example.

    The reference sums ``2 * radius + 1`` copies of the image, each shifted by a whole number
    of pixels along ``angle`` (edge replication) and weighted by a half Gaussian; taps that
    would shift by a full image size or more are dropped (it stops there). That is a
    convolution with a per-image sparse kernel, done here as one FFT product: the image is
    edge-padded by the longest shift, so the circular FFT convolution equals the reference's
    clipped shifts exactly (up to float32 rounding).
    """
    h, w = x.shape[1], x.shape[2]
    width = 2 * int(radius) + 1
    kernel = np.exp(-np.arange(width) ** 2 / (2 * float(sigma) ** 2))
    kernel = (kernel / kernel.sum()).astype(np.float32)
    rad = angles * (math.pi / 180.0)
    t = tf.range(width, dtype=tf.float32)[None]                       # (1, width)
    dy = -tf.cast(tf.math.ceil(t * tf.sin(rad)[:, None] - 0.5), tf.int32)   # (B, width)
    dx = -tf.cast(tf.math.ceil(t * tf.cos(rad)[:, None] - 0.5), tf.int32)
    inside = tf.logical_and(tf.abs(dy) < h, tf.abs(dx) < w)
    alive = tf.math.cumprod(tf.cast(inside, tf.float32), axis=1)
    weights = kernel[None] * alive                                    # (B, width)
    p = width  # |shift| <= width - 1 < p
    hp, wp = h + 2 * p, w + 2 * p
    b = tf.shape(x)[0]
    # kernel image: weight k_i at (dy_i, dx_i) modulo the padded size (out = x shifted by d)
    batch_idx = tf.broadcast_to(tf.range(b)[:, None], tf.shape(dy))
    idx = tf.stack([batch_idx, tf.math.floormod(dy, hp), tf.math.floormod(dx, wp)], axis=-1)
    kimg = tf.scatter_nd(tf.reshape(idx, [-1, 3]), tf.reshape(weights, [-1]), [b, hp, wp])
    return fft_convolve(x, kimg, p, "edge")


def clipped_zoom(x, factor):
    """imagecorruptions' ``clipped_zoom``: centre crop of ``ceil(n / factor)``, enlarged by
    ``factor`` with scipy's order-1 ``zoom`` (corner-aligned bilinear), top-left ``H x W`` kept."""
    h, w = x.shape[1], x.shape[2]
    ch, cw = int(np.ceil(h / float(factor))), int(np.ceil(w / float(factor)))
    top, left = (h - ch) // 2, (w - cw) // 2
    crop = x[:, top:top + ch, left:left + cw]
    size = [int(round(ch * factor)), int(round(cw * factor))]
    big = tf.compat.v1.image.resize_bilinear(crop, size, align_corners=True)
    return big[:, :h, :w]


def bilinear_sample(x, ys, xs, mode):
    """Sample (B, H, W, C) at float coordinates ``ys``, ``xs`` (B, H, W); order-1 with a
    border rule (see ``border_index``) applied to the integer neighbours, as scipy does."""
    h, w = x.shape[1], x.shape[2]
    y0, x0 = tf.floor(ys), tf.floor(xs)
    wy, wx = (ys - y0)[..., None], (xs - x0)[..., None]
    y0, x0 = tf.cast(y0, tf.int32), tf.cast(x0, tf.int32)
    # map any integer index through a periodic border table wide enough for the field
    margin_h, margin_w = 2 * h + 2, 2 * w + 2
    tab_h = tf.constant(border_index(h, margin_h, margin_h, mode))
    tab_w = tf.constant(border_index(w, margin_w, margin_w, mode))

    def idx(tab, i, margin, n):
        return tf.gather(tab, tf.clip_by_value(i + margin, 0, n + 2 * margin - 1))

    ry0, ry1 = idx(tab_h, y0, margin_h, h), idx(tab_h, y0 + 1, margin_h, h)
    rx0, rx1 = idx(tab_w, x0, margin_w, w), idx(tab_w, x0 + 1, margin_w, w)
    flat = tf.reshape(x, [tf.shape(x)[0], h * w, x.shape[3]])

    def at(r, c):
        return tf.gather(flat, tf.reshape(r * w + c, [tf.shape(x)[0], -1]), batch_dims=1)

    shape = tf.shape(x)
    v = ((1 - wy) * (1 - wx) * tf.reshape(at(ry0, rx0), shape)
         + (1 - wy) * wx * tf.reshape(at(ry0, rx1), shape)
         + wy * (1 - wx) * tf.reshape(at(ry1, rx0), shape)
         + wy * wx * tf.reshape(at(ry1, rx1), shape))
    return v


def rgb_to_gray(x, weights=(0.299, 0.587, 0.114)):
    """(B, H, W, 3) -> (B, H, W, 1) luma with the given weights."""
    return tf.reduce_sum(x * tf.constant(weights, tf.float32), axis=-1, keepdims=True)
