"""Weather corruptions: snow, frost, fog, brightness (ImageNet-C) and spatter (extra), batched.

Each function takes float32 images (B, H, W, C) in [0, 1], per-example seeds (B, 2) int64, the
severity's table entry ``c`` and ``scale`` (see ``_params``), and returns float32 in [0, 1].
"""
from __future__ import annotations

import functools
import os

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla

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
    # the flake field is resized op by op (XLA's CPU bilinear resize is 10-20x slower than
    # TensorFlow's), the rest is one XLA cluster
    layer = _ops.clipped_zoom(_snow_noise(seeds, h, w, float(loc), float(spread)), zoom)
    return _snow_finish(x, layer, seeds, float(threshold), max(1, int(round(radius * scale))),
                        float(sigma * scale), float(blend))


@tf.function(jit_compile=True)
def _snow_noise(seeds, h, w, loc, spread):
    return _ops.normal(seeds, 0, [h, w, 1], loc, spread)


@tf.function(jit_compile=True)
def _snow_finish(x, layer, seeds, threshold, radius, sigma, blend):
    """Threshold and motion-blur the zoomed flakes, add them and their 180-degree rotation over
    the brightened image."""
    layer = tf.clip_by_value(tf.where(layer < threshold, 0.0, layer), 0.0, 1.0)
    angles = _ops.uniform(seeds, 1, [], -135.0, -45.0)
    layer = _ops.motion_blur(layer, radius, sigma, angles)
    layer = tf.round(layer * 255.0) / 255.0
    gray = x if x.shape[-1] == 1 else _ops.rgb_to_gray(x)
    x = blend * x + (1 - blend) * tf.maximum(x, gray * 1.5 + 0.5)
    return tf.clip_by_value(x + layer + tf.reverse(layer, axis=[1, 2]), 0.0, 1.0)


# -------------------------------------------------------------------------------- spatter

_WATER_RGB = (175 / 255.0, 238 / 255.0, 238 / 255.0)   # pale turquoise
_MUD_RGB = (63 / 255.0, 42 / 255.0, 20 / 255.0)


def _shift(a, dy, dx, fill):
    """``a`` (B, H, W) moved so out[i, j] = a[i + dy, j + dx]; ``fill`` outside."""
    h, w = a.shape[1], a.shape[2]
    p = max(abs(dy), abs(dx))
    padded = tf.pad(a, [[0, 0], [p, p], [p, p]], constant_values=fill)
    return padded[:, p + dy:p + dy + h, p + dx:p + dx + w]


@tf.function(jit_compile=True)
def _canny_candidates(img, low, high):
    """Canny's weak (above ``low``) and strong (above ``high``) edge candidates after Sobel
    and non-maximum suppression: two (B, H, W) bool."""
    x = _ops.pad(img[..., None], 1, 1, "edge")[..., 0]
    def at(dy, dx):
        return x[:, 1 + dy:x.shape[1] - 1 + dy, 1 + dx:x.shape[2] - 1 + dx]
    gx = (at(-1, 1) + 2 * at(0, 1) + at(1, 1)) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    gy = (at(1, -1) + 2 * at(1, 0) + at(1, 1)) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    mag = tf.abs(gx) + tf.abs(gy)
    ax, ay = tf.abs(gx), tf.abs(gy)
    tan22, tan67 = 0.4142135623730951, 2.414213562373095
    horizontal = ay < ax * tan22
    vertical = ay > ax * tan67
    s = tf.where(gx * gy < 0, -1, 1)
    m_l, m_r = _shift(mag, 0, -1, 0.0), _shift(mag, 0, 1, 0.0)
    m_u, m_d = _shift(mag, -1, 0, 0.0), _shift(mag, 1, 0, 0.0)
    d1 = tf.logical_and(mag > _shift(mag, -1, -1, 0.0), mag > _shift(mag, 1, 1, 0.0))
    d2 = tf.logical_and(mag > _shift(mag, -1, 1, 0.0), mag > _shift(mag, 1, -1, 0.0))
    peak = tf.where(horizontal, tf.logical_and(mag > m_l, mag >= m_r),
                    tf.where(vertical, tf.logical_and(mag > m_u, mag >= m_d),
                             tf.where(s > 0, d1, d2)))
    weak = tf.logical_and(peak, mag > low)
    return weak, tf.logical_and(weak, mag > high)


def _canny(img, low, high, hysteresis_steps=16):
    """OpenCV-style Canny on (B, H, W) grey levels 0..255: 3x3 Sobel, L1 magnitude,
    non-maximum suppression in four directions (one XLA cluster), hysteresis by
    ``hysteresis_steps`` rounds of 8-connected growth from strong edges through weak ones
    (another XLA cluster, 3.6x faster than op by op; OpenCV follows chains to any length,
    chains longer than that are cut here)."""
    weak, edges = _canny_candidates(img, float(low), float(high))
    return _hysteresis(weak, edges, int(hysteresis_steps))


@tf.function(jit_compile=True)
def _hysteresis(weak, edges, steps):
    h, w = weak.shape[1], weak.shape[2]
    for _ in range(steps):
        # 8-connected growth = 3x3 max filter, separable: along rows, then along columns
        e = tf.pad(tf.cast(edges, tf.float32), [[0, 0], [1, 1], [1, 1]])
        e = tf.maximum(tf.maximum(e[:, :, 0:w], e[:, :, 1:w + 1]), e[:, :, 2:w + 2])
        grown = tf.maximum(tf.maximum(e[:, 0:h], e[:, 1:h + 1]), e[:, 2:h + 2])
        edges = tf.logical_and(weak, grown > 0)
    return edges


def _distance_to_edges(edges, cap):
    """Euclidean distance (B, H, W) to the nearest edge pixel, capped at ``cap`` -- exact within
    the cap by two 1-D passes (OpenCV's ``distanceTransform(DIST_L2, 5)`` is a 5x5 chamfer
    approximation of the same distance)."""
    big = float(cap + 1)
    h, w = edges.shape[1], edges.shape[2]
    # one padding per pass, then plain slices: the nearest edge along the row, then the
    # nearest (row distance, dy) over the column
    # (padded inputs pinned by XLA optimisation barriers, minima as balanced trees: see
    # ``_ops.correlate1d``)
    e = tf.pad(tf.cast(edges, tf.float32), [[0, 0], [0, 0], [cap, cap]])
    e = xla.optimization_barrier(e)[0]
    row = _ops.tree_reduce([tf.where(e[:, :, cap + k:cap + k + w] > 0, float(abs(k)), big)
                            for k in range(-cap, cap + 1)], tf.minimum)
    r = tf.pad(row, [[0, 0], [cap, cap], [0, 0]], constant_values=big)
    r = xla.optimization_barrier(r)[0]
    d2 = _ops.tree_reduce([tf.square(r[:, cap + k:cap + k + h]) + float(k * k)
                           for k in range(-cap, cap + 1)], tf.minimum)
    return tf.minimum(tf.sqrt(d2), float(cap))


def _equalize_hist(img):
    """``cv2.equalizeHist`` per image on (B, H, W) integer grey levels as float."""
    b, h, w = tf.shape(img)[0], img.shape[1], img.shape[2]
    levels = tf.cast(tf.reshape(img, [b, h * w]), tf.int32)
    hist = tf.math.bincount(levels, minlength=256, maxlength=256, axis=-1, dtype=tf.float32)
    first = tf.argmax(tf.cast(hist > 0, tf.int32), axis=1)
    first_count = tf.gather(hist, first, batch_dims=1)
    total = float(h * w)
    cdf = tf.cumsum(hist, axis=1)
    denom = tf.maximum(total - first_count, 1.0)
    lut = tf.clip_by_value(tf.round((cdf - first_count[:, None]) * 255.0 / denom[:, None]),
                           0.0, 255.0)
    # a constant image maps to itself, as OpenCV does
    lut = tf.where((first_count == total)[:, None],
                   tf.cast(first, tf.float32)[:, None] * tf.ones_like(lut), lut)
    return tf.reshape(tf.gather(lut, levels, batch_dims=1), tf.shape(img))


def _box3(img):
    """``cv2.blur(img, (3, 3))`` with its reflect-101 border, on (B, H, W)."""
    h, w = img.shape[1], img.shape[2]
    p = _ops.pad(img[..., None], 1, 1, "reflect101")[..., 0]
    rows = (p[:, 0:h] + p[:, 1:h + 1] + p[:, 2:h + 2]) / 3.0
    return (rows[:, :, 0:w] + rows[:, :, 1:w + 1] + rows[:, :, 2:w + 2]) / 3.0


def spatter(x, seeds, c, scale):
    """Water drops (severities with ``c[5] == 0``) or mud (``c[5] == 1``).

    Liquid layer: N(loc, scale) noise, Gaussian-blurred, thresholded. Mud: the blurred mask
    above 0.8 darkens the image towards mud brown -- as the reference. Water: the reference
    shades the drops with OpenCV (Canny edges -> distance transform -> histogram equalisation
    -> emboss filter) and adds pale turquoise; here each of those steps is a TF op with
    OpenCV's parameters and borders, two of them approximated (hysteresis chains longer than
    16 px are cut; the distance is exact Euclidean where OpenCV uses a 5x5 chamfer).
    """
    loc, spread, sigma, threshold, intensity, mud = c
    h, w = x.shape[1], x.shape[2]
    liquid = liquid_layer(seeds, h, w, loc, spread, sigma * scale, threshold)
    if mud:
        m = _ops.gaussian_blur(tf.cast(liquid > threshold, tf.float32), intensity * scale)
        m = tf.where(m < 0.8, 0.0, m)
        color = tf.constant(_MUD_RGB, tf.float32) * m
        if x.shape[-1] == 1:
            color = _ops.rgb_to_gray(color, _GRAY_WEIGHTS_NUMPY)
        return tf.clip_by_value(x * (1 - m) + color, 0.0, 1.0)
    return water(x, liquid, intensity)


def liquid_layer(seeds, h, w, loc, spread, sigma, threshold):
    """Spatter's liquid layer (B, H, W, 1): N(loc, spread) noise per example, Gaussian-blurred
    by ``sigma`` px, zero below ``threshold``."""
    liquid = _ops.philox_normal(seeds, 0, [h, w, 1], loc, spread)
    liquid = _ops.gaussian_blur(liquid, sigma)
    return tf.where(liquid < threshold, 0.0, liquid)


def water(x, liquid, intensity):
    """Water drops shaded from a liquid layer (B, H, W, 1) over images ``x`` (B, H, W, C)."""
    layer = tf.math.floormod(tf.floor(liquid[..., 0] * 255.0), 256.0)  # astype(np.uint8)
    # Canny and the histogram equalisation run op by op (XLA's CPU code for them was 5x
    # slower: the hysteresis loop, bincount as a scatter); the distance transform and the
    # shading are XLA clusters (14x faster there)
    dist = _equalize_hist(_water_distance(_canny(layer, 50.0, 150.0)))
    return _water_shade(x, layer, dist, float(intensity))


@tf.function(jit_compile=True)
def _water_distance(edges):
    """Capped distance to the Canny edges -> 3x3 box, floored (B, H, W)."""
    return tf.floor(_box3(_distance_to_edges(edges, 20)))


_EMBOSS = ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0))


@tf.function(jit_compile=True)
def _water_shade(x, layer, dist, intensity):
    """Emboss the equalised distance, scale the layer by it and add the water colour."""
    h, w = dist.shape[1], dist.shape[2]
    p = _ops.pad(dist[..., None], 1, 1, "reflect101")[..., 0]
    emb = tf.add_n([k * p[:, i:i + h, j:j + w]
                    for i, row in enumerate(_EMBOSS) for j, k in enumerate(row) if k])
    dist = tf.round(_box3(tf.clip_by_value(tf.round(emb), 0.0, 255.0)))
    m = layer * dist
    m = m / tf.maximum(tf.reduce_max(m, axis=[1, 2], keepdims=True), 1e-12) * intensity
    color = tf.constant(_WATER_RGB, tf.float32) * m[..., None]
    if x.shape[-1] == 1:
        color = _ops.rgb_to_gray(tf.clip_by_value(color, 0.0, 1.0), _GRAY_WEIGHTS_NUMPY)
    return tf.clip_by_value(x + color, 0.0, 1.0)
