"""Batched building blocks shared by the corruption families.

Images here are float32 tensors of shape (B, H, W, C) in [0, 1]; H and W are static. Random
draws take ``seeds`` of shape (B, 2) int64 -- one stateless seed per example -- so an example's
corruption does not depend on which batch it is in.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

# ------------------------------------------------------------------------- per-example random


_GOLDEN = 0x9E3779B9


def u32(value):
    """A uint32 constant (``value`` mod 2^32)."""
    return tf.constant(value & 0xFFFFFFFF, tf.uint32)


def _fmix(h):
    """MurmurHash3's 32-bit finaliser: a bijection with full avalanche (uint32 in and out)."""
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, u32(16)))
    h = h * u32(0x85EBCA6B)
    h = tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, u32(13)))
    h = h * u32(0xC2B2AE35)
    return tf.bitwise.bitwise_xor(h, tf.bitwise.right_shift(h, u32(16)))


def random_bits(seeds, stream, shape):
    """Per-example uniform 32-bit words (B, *shape) uint32 from ``seeds`` (B, 2) int64.

    A counter-based generator: word ``n`` of example ``b`` is a keyed hash of ``n`` (two
    MurmurHash3 finaliser rounds, keys from the example's seed pair and ``stream``). Every
    example's words depend on its own seed only -- the batching-independent contract -- and the
    whole batch is one elementwise computation (no per-example loop, fuses under XLA). The
    hash is not cryptographic; its words pass the moment tests in tests/corruptions.
    """
    shape = [int(d) for d in shape]
    words = tf.bitcast(tf.convert_to_tensor(seeds, tf.int64), tf.uint32)    # (B, 2, 2)
    s0, s1 = words[:, 0], words[:, 1]
    k0 = _fmix(tf.bitwise.bitwise_xor(
        s1[:, 0], _fmix(s1[:, 1] + u32(_GOLDEN * (int(stream) + 1)))))
    k1 = _fmix(tf.bitwise.bitwise_xor(s0[:, 0], _fmix(tf.bitwise.bitwise_xor(s0[:, 1], k0))))
    size = int(np.prod(shape, dtype=np.int64))
    counter = tf.cast(tf.range(size), tf.uint32)[None]                     # (1, n)
    h = _fmix(counter * u32(_GOLDEN) + k0[:, None])
    h = _fmix(tf.bitwise.bitwise_xor(h, k1[:, None]))
    return tf.reshape(h, tf.concat([tf.shape(seeds)[:1], tf.constant(shape, tf.int32)], 0))


def bits_to_unit(bits, offset):
    """Floats ``(k + offset) / 2^24`` from the top 24 bits k of uint32 ``bits``; with
    ``offset`` > 0 they lie in the open interval (0, 1)."""
    top = tf.bitwise.right_shift(bits, u32(8))
    # through int32 (exact below 2^24): CPUs convert signed integers to float in one
    # instruction, unsigned 32-bit ones in several
    u = (tf.cast(tf.bitcast(top, tf.int32), tf.float32) + offset) * (2.0 ** -24)
    # (2^24 - 1) + 0.5 rounds up to 2^24 in float32: keep the open interval open
    return tf.minimum(u, 1.0 - 2.0 ** -24) if offset else u


def _unit(seeds, stream, shape, offset):
    """Per-example floats ``(k + offset) / 2^24`` from 24 random bits k: (B, *shape)."""
    return bits_to_unit(random_bits(seeds, stream, shape), offset)


def ndtri(u):
    """The standard normal quantile of ``u`` in [2^-25, 1 - 2^-24] (float32).

    Wichura's AS 241 (PPND7, Applied Statistics 37, 1988): a rational function of (u - 1/2)^2
    in the centre, one of sqrt(-log(min(u, 1 - u))) in the tails (that square root stays
    below 5 down to u = 2^-25, so AS 241's far-tail piece is not needed). Within 2e-6 of the
    exact quantile over that range (tested against scipy), and about 1.4x faster under XLA
    on this CPU than ``tf.math.ndtri`` (whose float32 error reaches 2e-5).
    """
    q = u - 0.5
    r = 0.180625 - q * q
    centre = q * (((59.109374720 * r + 159.29113202) * r + 50.434271938) * r + 3.3871327179) / (
        ((67.187563600 * r + 78.757757664) * r + 17.895169469) * r + 1.0)
    t = tf.sqrt(-tf.math.log(tf.minimum(u, 1.0 - u))) - 1.6
    tail = (((0.17023821103 * t + 1.3067284816) * t + 2.7568153900) * t + 1.4234372777) / (
        (0.12021132975 * t + 0.73700164250) * t + 1.0)
    return tf.where(tf.abs(q) <= 0.425, centre, tf.where(q < 0, -tail, tail))


def normal(seeds, stream, shape, mean=0.0, stddev=1.0):
    """Per-example N(mean, stddev^2) draws of ``shape``: tensor (B, *shape).

    By inversion (``ndtri``) of a uniform on the open interval (0, 1) with 24-bit resolution:
    tails reach 5.3 sigma, far beyond what any corruption's clipping keeps.
    """
    z = ndtri(_unit(seeds, stream, shape, 0.5))
    return tf.ensure_shape(z * stddev + mean, [None, *[int(d) for d in shape]])


def uniform(seeds, stream, shape, minval=0.0, maxval=1.0):
    """Per-example U[minval, maxval) draws of ``shape``: tensor (B, *shape)."""
    u = _unit(seeds, stream, shape, 0.0)
    return tf.ensure_shape(u * (maxval - minval) + minval, [None, *[int(d) for d in shape]])


def open_uniform(seeds, stream, shape):
    """Per-example uniforms on the open interval (0, 1), 24-bit resolution: (B, *shape)."""
    return tf.ensure_shape(_unit(seeds, stream, shape, 0.5), [None, *[int(d) for d in shape]])


def philox_normal(seeds, stream, shape, mean=0.0, stddev=1.0):
    """``normal`` drawn one example at a time with TensorFlow's Philox generator (slower).

    Kept for spatter only, whose fidelity tests were calibrated on these draws. Its water
    statistics swing with the draw (per-draw PSNR 30.9-40.2 dB over seeds 1-4 at 224 px, 3
    images each), and so do the reference's (30.9-36.5 dB over 16 draws): both scale the drops
    by one brightest pixel. Fed the same draw, the reference gives our output (tested).
    """
    def one(seed):
        seed = tf.random.experimental.stateless_fold_in(seed, stream)
        return tf.random.stateless_normal(shape, seed, mean, stddev)
    out = tf.map_fn(one, seeds, fn_output_signature=tf.TensorSpec(None, tf.float32))
    return tf.ensure_shape(out, [None, *[int(d) for d in shape]])


def poisson_inversion(u, lam, cap):
    """``min(X, cap)`` for X ~ Poisson(``lam``), by inverting the CDF at uniforms ``u``.

    X is the least k with ``u <= F(k)``, so ``min(X, cap)`` counts the k < ``cap`` with
    ``F(k) < u``; the pmf terms are built by the recurrence p(k) = p(k - 1) * lam / k. One
    elementwise pass of ``cap`` steps (unrolled, fuses under XLA), exact in distribution for
    any ``lam`` >= 0 while ``exp(-lam)`` is a normal float32 (lam < 87). ``u`` must lie in
    (0, 1), ``cap`` is a static int.
    """
    p = tf.exp(-lam)
    cdf = p
    count = tf.zeros_like(lam)
    for k in range(int(cap)):
        count += tf.cast(cdf < u, lam.dtype)
        if k + 1 < cap:
            p = p * lam * (1.0 / (k + 1))
            cdf += p
    return count


def poisson_cdf_table(c, cap, width):
    """(256, ``width``) float32: row ``v`` holds P(X <= k) for X ~ Poisson(v / 255 * c) at
    k < ``cap`` (float64 recurrence) and 2.0 from ``cap`` on (never below a uniform)."""
    lam = np.arange(256, dtype=np.float64)[:, None] / 255.0 * float(c)
    k = np.arange(width, dtype=np.float64)[None]
    log_pmf = np.where(lam > 0, k * np.log(np.maximum(lam, 1e-300)), np.where(k == 0, 0.0, -np.inf))
    log_pmf = log_pmf - lam - np.cumsum(np.log(np.maximum(k, 1.0)), axis=1)
    table = np.cumsum(np.exp(log_pmf), axis=1)
    table[:, cap:] = 2.0
    return table.astype(np.float32)


def poisson_inversion_uint8(u, levels, c, cap):
    """``poisson_inversion(u, levels / 255 * c, cap)`` for integer ``levels`` in 0..255, with
    the CDF from a (256, k) table (``poisson_cdf_table``): the same inversion, few flops.

    Up to 16 steps, each k's CDF is looked up and compared (independent lookups, which XLA
    vectorises); beyond, a binary search over the row (log2 steps).
    """
    cap = int(cap)
    width = 1 << max(1, int(np.ceil(np.log2(cap + 1))))
    flat = tf.constant(poisson_cdf_table(c, cap, width).ravel())
    base = tf.cast(levels, tf.int32) * width
    if cap <= 16:
        count = tf.zeros_like(u)
        for k in range(cap):
            count += tf.cast(tf.gather(flat, base + k) < u, u.dtype)
        return count
    pos, step = tf.zeros_like(base), width // 2
    while step >= 1:  # invariant: F(pos - 1) < u; F(k) >= u or k >= cap past the answer
        pos += tf.where(tf.gather(flat, base + pos + (step - 1)) < u, step, 0)
        step //= 2
    return tf.cast(pos, u.dtype)


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


def _pad_axis(x, axis, before, after, mode):
    """Pad one axis of ``x`` by ``before`` / ``after`` elements with a border rule.

    Slices and ``tf.pad`` where the pad fits in the axis (XLA turns a gather with constant
    indices into a slow general gather on CPU; slices fuse), the index table otherwise.
    """
    n = x.shape[axis]
    if mode == "edge":
        def edge(at, count):
            shape = tf.tensor_scatter_nd_update(tf.shape(x), [[axis]], [count])
            return tf.broadcast_to(tf.gather(x, [at], axis=axis), shape)
        parts = ([edge(0, before)] if before else []) + [x] + (
            [edge(n - 1, after)] if after else [])
        return tf.concat(parts, axis=axis) if len(parts) > 1 else x
    widest = max(before, after)
    if (mode == "symmetric" and widest <= n) or (mode == "reflect101" and widest < n):
        paddings = [[0, 0]] * x.shape.rank
        paddings[axis] = [before, after]
        return tf.pad(x, paddings, "SYMMETRIC" if mode == "symmetric" else "REFLECT")
    return tf.gather(x, border_index(n, before, after, mode), axis=axis)


def pad(x, ph, pw, mode, ph_after=None, pw_after=None):
    """Pad (B, H, W, C) by ``ph`` rows and ``pw`` columns before (and, unless given apart,
    after) with a border rule."""
    ph_after = ph if ph_after is None else ph_after
    pw_after = pw if pw_after is None else pw_after
    if ph or ph_after:
        x = _pad_axis(x, 1, ph, ph_after, mode)
    if pw or pw_after:
        x = _pad_axis(x, 2, pw, pw_after, mode)
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


def correlate1d(x, kernel, axis, mode):
    """'Same' correlation of (B, H, W, C) with a 1-D ``kernel`` along ``axis`` (1 or 2).

    The axis is padded once by the kernel radius with the border rule, then the taps are a sum
    of shifted slices: O(taps) work per pixel, one fused loop. XLA only (the padded image is
    pinned with an XLA optimisation barrier): call it inside a ``jit_compile`` function.
    """
    kernel = np.asarray(kernel, np.float64)
    if len(kernel) == 1:
        return x * float(kernel[0])
    r = len(kernel) // 2
    n = x.shape[axis]
    xp = pad(x, r if axis == 1 else 0, r if axis == 2 else 0, mode)
    # Materialise the padded image: fused into the taps, every tap would re-evaluate the
    # border rule (and the producer chain) per pixel -- 2-5x slower on this CPU.
    xp = xla.optimization_barrier(xp)[0]
    return tree_reduce([(xp[:, t:t + n] if axis == 1 else xp[:, :, t:t + n]) * float(weight)
                        for t, weight in enumerate(kernel)], tf.add)


def tree_reduce(parts, op):
    """``op`` over a list of tensors as a balanced tree: XLA's CPU code for a long chain of
    the same ops vectorises worse (2x slower at 25 terms)."""
    parts = list(parts)
    while len(parts) > 1:
        parts = [op(parts[i], parts[i + 1]) if i + 1 < len(parts) else parts[i]
                 for i in range(0, len(parts), 2)]
    return parts[0]


@tf.function(jit_compile=True)
def _separable_xla(x, k_rows, k_cols, mode):
    return correlate1d(correlate1d(x, k_rows, 1, mode), k_cols, 2, mode)


# Beyond this many taps a separable filter runs as two matrix products with banded (n, n)
# matrices, whose cost does not grow with the kernel. With the padded image pinned and the taps
# summed as a tree, the slice sum wins at 33 taps (1.1-1.4x) and ties at 49 (224 px, batch 32,
# gaussian_blur severities 4 and 5), so every ImageNet-C kernel at 224 px stays a slice sum.
_MATMUL_TAPS = 49


def banded_matrix(n, kernel, mode):
    """(n, n) float32 ``M`` with ``M @ v`` the 'same' correlation of a length-``n`` ``v`` with
    ``kernel`` under the border rule ``mode`` (the border folded into the edge rows)."""
    kernel = np.asarray(kernel, np.float64).ravel()
    r = len(kernel) // 2
    src = border_index(n, r, r, mode)
    m = np.zeros((n, n))
    rows = np.arange(n)
    for t, weight in enumerate(kernel):
        np.add.at(m, (rows, src[rows + t]), weight)
    return m.astype(np.float32)


def _separable_matmul(x, k_rows, k_cols, mode):
    h, w = x.shape[1], x.shape[2]
    y = tf.transpose(x, [0, 3, 1, 2])                                      # (B, C, H, W)
    y = tf.matmul(y, tf.constant(banded_matrix(w, k_cols, mode)), transpose_b=True)
    y = tf.matmul(tf.constant(banded_matrix(h, k_rows, mode)), y)
    return tf.transpose(y, [0, 2, 3, 1])


def separable(x, k_rows, k_cols, mode):
    """Correlate every channel with ``k_rows`` along H and ``k_cols`` along W ('same' size).

    Short kernels: always an XLA cluster (inlined when the caller is compiled already): the
    sum of shifted slices fuses into one loop there, where op by op it would be one pass per
    tap. Kernels longer than ``_MATMUL_TAPS``: banded matrix products (``banded_matrix``).
    """
    as_tuple = lambda k: tuple(float(v) for v in np.asarray(k).ravel())  # noqa: E731
    k_rows, k_cols = as_tuple(k_rows), as_tuple(k_cols)
    if max(len(k_rows), len(k_cols)) > _MATMUL_TAPS:
        return _separable_matmul(x, k_rows, k_cols, mode)
    return _separable_xla(x, k_rows, k_cols, mode)


def fft_length(n):
    """The least m >= n whose prime factors are 2, 3, 5 and 7: FFT lengths with a large
    prime factor (274 = 2 x 137 for a 224 px image padded by 25) are several times slower."""
    m = int(n)
    while True:
        k = m
        for f in (2, 3, 5, 7):
            while k % f == 0:
                k //= f
        if k == 1:
            return m
        m += 1


def fft_shape(h, w, pad_by):
    """The padded (rows, cols) ``fft_convolve`` transforms: ``fft_length`` of H + 2p, W + 2p."""
    return fft_length(h + 2 * pad_by), fft_length(w + 2 * pad_by)


def fft_convolve(x, kernel_images, pad_by, mode):
    """Circular FFT convolution of (B, H, W, C) padded by ``pad_by`` with a border rule.

    The image is padded by ``pad_by`` before and at least as much after, up to
    ``fft_shape(H, W, pad_by)``; ``kernel_images`` (B or 1, *fft_shape) hold each tap's weight
    at its offset modulo that size (out[i] = sum_d k[d] x[i - d]). With every |offset| <=
    ``pad_by`` the wrap-around only reads padding, so the result equals the padded linear
    convolution, cropped back.
    """
    h, w, p = x.shape[1], x.shape[2], pad_by
    nh, nw = fft_shape(h, w, p)
    xp = pad(x, p, p, mode, nh - h - p, nw - w - p)
    xf = tf.signal.rfft2d(tf.transpose(xp, [0, 3, 1, 2]))
    kf = tf.signal.rfft2d(kernel_images)[:, None]
    y = tf.signal.irfft2d(xf * kf, fft_length=[nh, nw])
    return tf.transpose(y, [0, 2, 3, 1])[:, p:p + h, p:p + w]


def convolve(x, kernel2d, mode):
    """Correlate every channel with a 2-D ``kernel2d`` (kh, kw) ('same' size), by FFT."""
    kernel2d = np.asarray(kernel2d, np.float64)
    kh, kw = kernel2d.shape
    p = max(kh, kw) // 2
    hp, wp = fft_shape(x.shape[1], x.shape[2], p)
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
    hp, wp = fft_shape(h, w, p)
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
