"""Digital corruptions: contrast, elastic_transform, pixelate, jpeg_compression (ImageNet-C) and
saturate (extra), batched. (Brightness is a weather corruption in ImageNet-C; see ``weather``.)

Each function takes float32 images (B, H, W, C) in [0, 1], per-example seeds (B, 2) int64, the
severity's table entry ``c`` and ``scale`` (see ``_params``), and returns float32 in [0, 1].
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from pie_tf.corruptions import _ops


def contrast(x, seeds, c, scale):
    """Pull each channel towards its image mean by the factor ``c``."""
    del seeds, scale
    means = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    return tf.clip_by_value((x - means) * c + means, 0.0, 1.0)


def saturate(x, seeds, c, scale):
    """HSV saturation ``s * c0 + c1``. A grayscale image is processed as RGB and its first
    channel returned, as the reference does (for gray input that channel is unchanged)."""
    del seeds, scale
    rgb = x if x.shape[-1] == 3 else tf.tile(x, [1, 1, 1, 3])
    hsv = tf.image.rgb_to_hsv(rgb)
    s = tf.clip_by_value(hsv[..., 1:2] * c[0] + c[1], 0.0, 1.0)
    out = tf.image.hsv_to_rgb(tf.concat([hsv[..., :1], s, hsv[..., 2:]], axis=-1))
    out = out if x.shape[-1] == 3 else out[..., :1]
    return tf.clip_by_value(out, 0.0, 1.0)


def jpeg_compression(x, seeds, c, scale):
    """Encode and decode as JPEG at quality ``c`` (libjpeg, 4:2:0 chroma, accurate DCT), as PIL
    does in the reference. Grayscale images are coded as one-channel JPEG (the reference codes
    them as RGB and converts back; for gray input the luma plane is the same)."""
    del seeds, scale
    u8 = tf.cast(tf.floor(x * 255.0 + 0.5), tf.uint8)
    channels = x.shape[-1]

    def one(img):
        data = tf.io.encode_jpeg(img, quality=int(c), chroma_downsampling=True)
        return tf.io.decode_jpeg(data, channels=channels, dct_method="INTEGER_ACCURATE")

    out = tf.map_fn(one, u8, fn_output_signature=tf.TensorSpec(x.shape[1:], tf.uint8))
    return tf.cast(out, tf.float32) / 255.0


def box_matrix(n_in, n_out):
    """PIL's BOX resampling weights as an (n_out, n_in) matrix.

    Output pixel i averages, with equal weights, the input pixels whose centres lie in the
    window of width ``n_in / n_out`` centred at ``(i + 0.5) * n_in / n_out`` -- PIL's
    ``precompute_coeffs`` with the box filter (not exact area coverage, which
    ``tf.image.resize(method='area')`` computes and which differs by ~2.6/255 on average).
    """
    scale = n_in / n_out
    support = 0.5 * max(scale, 1.0)
    m = np.zeros((n_out, n_in))
    for i in range(n_out):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), n_in)
        t = (np.arange(lo, hi) - center + 0.5) / max(scale, 1.0)
        wts = ((t > -0.5) & (t <= 0.5)).astype(np.float64)
        m[i, lo:hi] = wts / wts.sum()
    return m.astype(np.float32)


def _sparse_rows(x, matrix, axis):
    """``matrix`` (n_out, n_in) applied along ``axis`` of (B, H, W, C) using only its nonzero
    band: output k = sum_t weight[k, t] * x[..., index[k, t], ...] over the few taps of a box
    window (about n_in / n_out + 1), instead of a dense product over all n_in."""
    taps = int((matrix != 0).sum(axis=1).max())
    index = np.zeros((matrix.shape[0], taps), np.int32)
    weight = np.zeros((matrix.shape[0], taps), np.float32)
    for k, row in enumerate(matrix):
        nz = np.flatnonzero(row)
        index[k, :len(nz)], weight[k, :len(nz)] = nz, row[nz]
        index[k, len(nz):] = nz[-1]  # padding taps read a valid pixel with weight 0
    shape = [1, 1, 1, 1]
    shape[axis] = matrix.shape[0]
    out = None
    for t in range(taps):
        part = tf.gather(x, index[:, t], axis=axis) * tf.constant(weight[:, t].reshape(shape))
        out = part if out is None else out + part
    return out


def pixelate(x, seeds, c, scale, table="imagenet"):
    """PIL BOX down to ``int(c * size)``, then back up by nearest neighbour (the ImageNet
    table's NEAREST; CIFAR-10-C's BOX upsampling also picks one source pixel per output).
    As PIL does with 8-bit images, each pass is rounded to 1/255."""
    del seeds, scale, table
    h, w = x.shape[1], x.shape[2]
    sh, sw = int(h * c), int(w * c)
    small = tf.round(_sparse_rows(x, box_matrix(w, sw), 2) * 255.0) / 255.0
    small = tf.round(_sparse_rows(small, box_matrix(h, sh), 1) * 255.0) / 255.0
    up = tf.image.resize(small, [h, w], method="nearest")
    return tf.clip_by_value(up, 0.0, 1.0)


def _affine_inverse(seeds, h, w, jitter):
    """CIFAR-10-C's random affine: three points around the centre, each moved by U(-j, j);
    returns the inverse maps (B, 2, 3) from output to input coordinates (x, y order)."""
    # the reference builds the points from shape[:2] // 2 and hands them to OpenCV as (x, y)
    center = np.float32([h, w]) // 2
    size = min(h, w) // 3
    pts1 = np.float32([center + size, [center[0] + size, center[1] - size], center - size])
    pts2 = pts1[None] + _ops.uniform(seeds, 10, [3, 2], -jitter, jitter)
    # forward map M (2x3): [pts1, 1] @ M^T = pts2 ; invert it to sample the source.
    a = np.concatenate([pts1, np.ones((3, 1), np.float32)], axis=1)
    m_t = tf.linalg.solve(tf.broadcast_to(tf.constant(a), tf.shape(pts2[:, :, :1]) * [1, 1, 3]),
                          pts2)                                 # (B, 3, 2)
    lin = tf.transpose(m_t[:, :2, :], [0, 2, 1])                # (B, 2, 2)
    trans = m_t[:, 2, :]                                        # (B, 2)
    inv = tf.linalg.inv(lin)
    return inv, -tf.linalg.matvec(inv, trans)


def elastic_transform(x, seeds, c, scale, table="imagenet"):
    """Smooth random displacement field (plus CIFAR-10-C's random affine on the CIFAR table),
    order-1 resampling with scipy's 'reflect' border (OpenCV reflect-101 for the affine)."""
    del scale
    h, w = x.shape[1], x.shape[2]
    yy, xx = np.meshgrid(np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32),
                         indexing="ij")
    if table == "imagenet":
        alpha = c
        sigma = (0.01 * h, 0.01 * w)
        max_d = 0.005 * h  # the reference uses the height for both axes
    else:
        side = min(h, w)
        alpha, sigma, jitter = c[0] * side, c[1] * side, c[2] * side
        max_d = 1.0
        inv, off = _affine_inverse(seeds, h, w, jitter)
        # OpenCV points are (col, row): src = inv @ (col, row) + off
        src_x = (inv[:, 0, 0, None, None] * xx + inv[:, 0, 1, None, None] * yy
                 + off[:, 0, None, None])
        src_y = (inv[:, 1, 0, None, None] * xx + inv[:, 1, 1, None, None] * yy
                 + off[:, 1, None, None])
        x = _ops.bilinear_sample(x, src_y, src_x, "reflect101")
    fields = _ops.uniform(seeds, 0, [h, w, 2], -max_d, max_d)
    fields = _ops.gaussian_blur(fields, sigma, mode="symmetric", truncate=3.0) * alpha
    dx, dy = fields[..., 0], fields[..., 1]
    out = _ops.bilinear_sample(x, yy[None] + dy, xx[None] + dx, "symmetric")
    return tf.clip_by_value(out, 0.0, 1.0)
