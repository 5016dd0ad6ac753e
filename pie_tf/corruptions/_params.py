"""Severity tables and the rule that picks and scales them for an image size.

Two published tables are kept verbatim:

* ``IMAGENET`` -- ImageNet-C at 224x224, as in ``imagecorruptions`` 1.1.2 (the ImageNet-C code
  packaged by Michaelis et al.; the reference our tests compare against).
* ``CIFAR`` -- CIFAR-10-C at 32x32, from Hendrycks' ``make_cifar_c.py``
  (github.com/hendrycks/robustness, ImageNet-C/create_c/make_cifar_c.py). Its motion blur used
  ImageMagick (Wand); the radius/sigma pairs are kept and fed to the same numpy-style kernel as
  the ImageNet table.

Rule for other sizes (``select``): with ``s = min(H, W)``, the ImageNet table is used when
``s >= 85`` and the CIFAR table below (85 ~ sqrt(32 * 224), the geometric midpoint, i.e. the
nearest table on a log scale). Parameters measured in pixels (blur sigmas and radii, glass-blur
displacement, motion-blur length, frost texture scale) are multiplied by ``s / 224`` or
``s / 32``; relative parameters (noise levels, zoom factors, pixelate fractions, fog, elastic
fields that are already proportional to the image size) are used as they are. At 224 and 32
the tables are therefore exactly the published ones.
"""
from __future__ import annotations

import numpy as np

# --- ImageNet-C (224) ----------------------------------------------------------------------
IMAGENET = {
    "gaussian_noise": [.08, .12, .18, .26, .38],
    "shot_noise": [60, 25, 12, 5, 3],
    "impulse_noise": [.03, .06, .09, .17, .27],
    "speckle_noise": [.15, .2, .35, .45, .6],
    "gaussian_blur": [1, 2, 3, 4, 6],
    # (sigma, max_delta, iterations)
    "glass_blur": [(0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)],
    # (disk radius, alias blur)
    "defocus_blur": [(3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)],
    # (radius, sigma)
    "motion_blur": [(10, 3), (15, 5), (15, 8), (15, 12), (20, 15)],
    # np.arange(start, stop, step) of zoom factors
    "zoom_blur": [(1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.02), (1, 1.26, 0.02),
                  (1, 1.31, 0.03)],
    # (loc, scale, zoom, threshold, blur radius, blur sigma, blend)
    "snow": [(0.1, 0.3, 3, 0.5, 10, 4, 0.8), (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
             (0.55, 0.3, 4, 0.9, 12, 8, 0.7), (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
             (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55)],
    # (image weight, frost weight)
    "frost": [(1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)],
    # (fog strength, wibble decay)
    "fog": [(1.5, 2), (2., 2), (2.5, 1.7), (2.5, 1.5), (3., 1.4)],
    "brightness": [.1, .2, .3, .4, .5],
    "contrast": [.4, .3, .2, .1, .05],
    "saturate": [(0.3, 0), (0.1, 0), (2, 0), (5, 0.1), (20, 0.2)],
    "jpeg_compression": [25, 18, 15, 10, 7],
    "pixelate": [0.6, 0.5, 0.4, 0.3, 0.25],
    # alpha (sigma = 0.01 * size, max displacement = 0.005 * size, no affine part)
    "elastic_transform": [250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12],
    # (loc, scale, sigma, threshold, intensity, mud?)
    "spatter": [(0.65, 0.3, 4, 0.69, 0.6, 0), (0.65, 0.3, 3, 0.68, 0.6, 0),
                (0.65, 0.3, 2, 0.68, 0.5, 0), (0.65, 0.3, 1, 0.65, 1.5, 1),
                (0.67, 0.4, 1, 0.65, 1.5, 1)],
}

# --- CIFAR-10-C (32) -----------------------------------------------------------------------
CIFAR = {
    "gaussian_noise": [0.04, 0.06, .08, .09, .10],
    "shot_noise": [500, 250, 100, 75, 50],
    "impulse_noise": [.01, .02, .03, .05, .07],
    "speckle_noise": [.06, .1, .12, .16, .2],
    "gaussian_blur": [.4, .6, 0.7, .8, 1],
    "glass_blur": [(0.05, 1, 1), (0.25, 1, 1), (0.4, 1, 1), (0.25, 1, 2), (0.4, 1, 2)],
    "defocus_blur": [(0.3, 0.4), (0.4, 0.5), (0.5, 0.6), (1, 0.2), (1.5, 0.1)],
    "motion_blur": [(6, 1), (6, 1.5), (6, 2), (8, 2), (9, 2.5)],
    "zoom_blur": [(1, 1.06, 0.01), (1, 1.11, 0.01), (1, 1.16, 0.01), (1, 1.21, 0.01),
                  (1, 1.26, 0.01)],
    "snow": [(0.1, 0.2, 1, 0.6, 8, 3, 0.95), (0.1, 0.2, 1, 0.5, 10, 4, 0.9),
             (0.15, 0.3, 1.75, 0.55, 10, 4, 0.9), (0.25, 0.3, 2.25, 0.6, 12, 6, 0.85),
             (0.3, 0.3, 1.25, 0.65, 14, 12, 0.8)],
    "frost": [(1, 0.2), (1, 0.3), (0.9, 0.4), (0.85, 0.4), (0.75, 0.45)],
    "fog": [(.2, 3), (.5, 3), (0.75, 2.5), (1, 2), (1.5, 1.75)],
    "brightness": [.05, .1, .15, .2, .3],
    "contrast": [.75, .5, .4, .3, 0.15],
    "saturate": [(0.3, 0), (0.1, 0), (1.5, 0), (2, 0.1), (2.5, 0.2)],
    "jpeg_compression": [80, 65, 58, 50, 40],
    "pixelate": [0.95, 0.9, 0.85, 0.75, 0.65],
    # (alpha, sigma, affine jitter) as fractions of the image size (CIFAR-10-C: x IMSIZE)
    "elastic_transform": [(0, 0, 0.08), (0.05, 0.2, 0.07), (0.08, 0.06, 0.06), (0.1, 0.04, 0.05),
                          (0.1, 0.03, 0.03)],
    "spatter": [(0.62, 0.1, 0.7, 0.7, 0.5, 0), (0.65, 0.1, 0.8, 0.7, 0.5, 0),
                (0.65, 0.3, 1, 0.69, 0.5, 0), (0.65, 0.1, 0.7, 0.69, 0.6, 1),
                (0.65, 0.1, 0.5, 0.68, 0.6, 1)],
}

# Frost texture scale relative to the texture files: imagecorruptions enlarges them by 1.1 for
# 224 images; CIFAR-10-C shrinks them to 0.2.
FROST_TEXTURE_SCALE = {"imagenet": 1.1, "cifar": 0.2}

TABLE_THRESHOLD = 85
TABLES = {"imagenet": (IMAGENET, 224), "cifar": (CIFAR, 32)}


def select(name, severity, height, width):
    """The severity parameters for an image size.

    Parameters
    ----------
    name : str
        Corruption name (a key of ``IMAGENET``).
    severity : int
        1..5.
    height, width : int
        Image size in pixels.

    Returns
    -------
    params : object
        The table entry for ``severity`` (number or tuple).
    table : {'imagenet', 'cifar'}
        Which table was used.
    scale : float
        ``min(height, width) / reference size``: the factor for parameters in pixels.
    """
    side = min(height, width)
    table = "imagenet" if side >= TABLE_THRESHOLD else "cifar"
    values, ref = TABLES[table]
    return values[name][severity - 1], table, side / ref


def zoom_factors(spec):
    """The zoom factors of a ``zoom_blur`` entry, exactly as ``np.arange`` makes them."""
    return np.arange(*spec)
