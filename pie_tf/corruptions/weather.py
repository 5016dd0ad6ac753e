"""Weather corruptions: snow, frost, fog, brightness (ImageNet-C) and spatter (extra), batched.

Each function takes float32 images (B, H, W, C) in [0, 1], per-example seeds (B, 2) int64, the
severity's table entry ``c`` and ``scale`` (see ``_params``), and returns float32 in [0, 1].
"""
from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow as tf

from pie_tf.corruptions import _ops, _params

_GRAY_WEIGHTS_NUMPY = (0.2989, 0.5870, 0.1140)   # the reference's rgb2gray


def brightness(x, seeds, c, scale):
    """HSV value + c (RGB); x + c for grayscale."""
    del seeds, scale
    if x.shape[-1] == 1:
        return tf.clip_by_value(x + c, 0.0, 1.0)
    hsv = tf.image.rgb_to_hsv(x)
    v = tf.clip_by_value(hsv[..., 2:] + c, 0.0, 1.0)
    return tf.clip_by_value(tf.image.hsv_to_rgb(tf.concat([hsv[..., :2], v], -1)), 0.0, 1.0)


# ------------------------------------------------------------------------------------ fog


def _next_power_of_2(n):
    return 1 if n == 0 else 2 ** (n - 1).bit_length()


def plasma_fractal(seeds, stream, mapsize, wibbledecay):
    """Diamond-square height maps, one per example: (B, mapsize, mapsize) in [0, 1].

    The same recursion as ImageNet-C's ``plasma_fractal`` (wrap-around neighbours, perturbation
    ``wibble * U(-wibble, wibble)``, ``wibble`` divided by ``wibbledecay`` per level), built
    coarse to fine: at each level the corner grid A (n x n) gives the square centres C and the
    two kinds of diamond points, and the four are interleaved into the 2n x 2n grid.
    """
    noise = _ops.uniform(seeds, stream, [mapsize * mapsize], -1.0, 1.0)
    a = tf.zeros([tf.shape(seeds)[0], 1, 1])
    wibble, used, n = 100.0, 0, 1
    while n < mapsize:
        def take(k, used=used, n=n):
            return tf.reshape(noise[:, used + k * n * n:used + (k + 1) * n * n], [-1, n, n])
        amp = wibble * wibble
        centre = (a + tf.roll(a, -1, 1) + tf.roll(a, -1, 2) + tf.roll(tf.roll(a, -1, 1), -1, 2)
                  ) / 4 + amp * take(0)
        top = (centre + tf.roll(centre, 1, 1) + a + tf.roll(a, -1, 2)) / 4 + amp * take(1)
        left = (centre + tf.roll(centre, 1, 2) + a + tf.roll(a, -1, 1)) / 4 + amp * take(2)
        used += 3 * n * n
        even = tf.reshape(tf.stack([a, top], -1), [-1, n, 2 * n])
        odd = tf.reshape(tf.stack([left, centre], -1), [-1, n, 2 * n])
        a = tf.reshape(tf.stack([even, odd], 2), [-1, 2 * n, 2 * n])
        n *= 2
        wibble /= wibbledecay
    a -= tf.reduce_min(a, axis=[1, 2], keepdims=True)
    return a / tf.reduce_max(a, axis=[1, 2], keepdims=True)


def fog(x, seeds, c, scale):
    """Add ``c0`` x a plasma fractal (map size: next power of two of the longer side), then
    rescale by max / (max + c0)."""
    del scale
    h, w = x.shape[1], x.shape[2]
    plasma = plasma_fractal(seeds, 0, _next_power_of_2(max(h, w)), c[1])[:, :h, :w, None]
    max_val = tf.reduce_max(x, axis=[1, 2, 3], keepdims=True)
    x = x + c[0] * plasma
    return tf.clip_by_value(x * max_val / (max_val + c[0]), 0.0, 1.0)


# ---------------------------------------------------------------------------------- frost


def _frost_files():
    """The frost textures ImageNet-C uses, from the installed ``imagecorruptions`` package data
    (a runtime dependency for this reason). As in the reference, only the first five of its six
    files are drawn (``np.random.randint(5)``)."""
    try:
        import imagecorruptions
    except ImportError as err:  # pragma: no cover - declared in install_requires
        raise ImportError("frost needs the texture images shipped with the 'imagecorruptions' "
                          "package: pip install imagecorruptions==1.1.2") from err
    folder = os.path.join(os.path.dirname(imagecorruptions.__file__), "frost")
    names = ["frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"]
    return [os.path.join(folder, n) for n in names]


@functools.lru_cache(maxsize=16)
def frost_textures(height, width, factor):
    """Frost textures resized by ``factor`` (at least enough to cover the image, as the reference
    ensures), in RGB: uint8 array (5, Hmax, Wmax, 3) zero-padded, and their sizes (5, 2)."""
    import cv2  # installed with imagecorruptions; used only here, once per image size

    textures = []
    for path in _frost_files():
        img = cv2.imread(path)  # BGR, alpha dropped -- as the reference reads them
        th, tw = img.shape[:2]
        f = max(factor, 1.1 * (height + 1) / th, 1.1 * (width + 1) / tw)
        size = (int(np.ceil(tw * f)), int(np.ceil(th * f)))
        img = cv2.resize(img, dsize=size, interpolation=cv2.INTER_CUBIC)
        textures.append(img[..., ::-1])
    hmax = max(t.shape[0] for t in textures)
    wmax = max(t.shape[1] for t in textures)
    stack = np.zeros((len(textures), hmax, wmax, 3), np.uint8)
    for k, t in enumerate(textures):
        stack[k, :t.shape[0], :t.shape[1]] = t
    sizes = np.array([t.shape[:2] for t in textures], np.int32)
    return stack, sizes


def frost(x, seeds, c, scale, table="imagenet"):
    """``c0 * image + c1 * frost``: a random crop of a random frost texture.

    Texture scale: 1.1 x (s / 224) on the ImageNet table (imagecorruptions uses 1.1 at any size;
    we scale with the image so frost crystals keep their size relative to the image) and
    0.2 x (s / 32) on the CIFAR table (CIFAR-10-C: 0.2). Grayscale images get the texture's luma
    (0.2989 R + 0.587 G + 0.114 B); the reference's gray path weights the BGR planes in RGB order,
    a slip not reachable through its public ``corrupt``.
    """
    h, w = x.shape[1], x.shape[2]
    factor = round(_params.FROST_TEXTURE_SCALE[table] * scale, 4)
    stack, sizes = frost_textures(h, w, factor)
    which = tf.cast(tf.floor(_ops.uniform(seeds, 0, [], 0.0, float(len(sizes)))), tf.int32)
    which = tf.minimum(which, len(sizes) - 1)
    room = tf.gather(tf.constant(sizes - np.array([h, w], np.int32)), which)   # (B, 2)
    u = _ops.uniform(seeds, 1, [2])
    start = tf.cast(tf.floor(u * tf.cast(room, tf.float32)), tf.int32)
    rows = start[:, 0, None] + tf.range(h)[None]
    cols = start[:, 1, None] + tf.range(w)[None]
    b = tf.shape(x)[0]
    idx = tf.stack([tf.broadcast_to(which[:, None, None], [b, h, w]),
                    tf.broadcast_to(rows[:, :, None], [b, h, w]),
                    tf.broadcast_to(cols[:, None, :], [b, h, w])], axis=-1)
    tex = tf.cast(tf.gather_nd(tf.constant(stack), idx), tf.float32) / 255.0
    if x.shape[-1] == 1:
        tex = _ops.rgb_to_gray(tex, _GRAY_WEIGHTS_NUMPY)
    return tf.clip_by_value(c[0] * x + c[1] * tex, 0.0, 1.0)


# ----------------------------------------------------------------------------------- snow


def snow(x, seeds, c, scale):
    """Zoomed, thresholded Gaussian flakes, motion-blurred at U(-135, -45) degrees, added twice
    (the layer and its 180-degree rotation) over a brightened image."""
    loc, spread, zoom, threshold, radius, sigma, blend = c
    h, w = x.shape[1], x.shape[2]
    layer = _ops.normal(seeds, 0, [h, w, 1], loc, spread)
    layer = _ops.clipped_zoom(layer, zoom)
    layer = tf.clip_by_value(tf.where(layer < threshold, 0.0, layer), 0.0, 1.0)
    angles = _ops.uniform(seeds, 1, [], -135.0, -45.0)
    layer = _ops.motion_blur(layer, max(1, int(round(radius * scale))), sigma * scale, angles)
    layer = tf.round(layer * 255.0) / 255.0
    gray = x if x.shape[-1] == 1 else _ops.rgb_to_gray(x)
    x = blend * x + (1 - blend) * tf.maximum(x, gray * 1.5 + 0.5)
    return tf.clip_by_value(x + layer + tf.reverse(layer, axis=[1, 2]), 0.0, 1.0)
