"""The reference implementation and the real images the corruption tests use.

``reference()`` is a private copy of imagecorruptions 1.1.2's ``corruptions`` module, loaded from
the installed file with the two numpy-2 / scikit-image-0.26 breakages patched in memory
(``np.float_`` -> ``np.float64``; skimage ``multichannel=True`` -> ``channel_axis=-1``); nothing
else changes, so glass_blur, gaussian_blur and fog run as published.
"""
from __future__ import annotations

import functools
import gzip
import os
import types

import numpy as np
from PIL import Image

FASHION = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"


@functools.lru_cache(maxsize=1)
def reference():
    import imagecorruptions
    path = os.path.join(os.path.dirname(imagecorruptions.__file__), "corruptions.py")
    with open(path) as f:
        source = f.read()
    source = source.replace("np.float_", "np.float64").replace("multichannel=True",
                                                               "channel_axis=-1")
    # frost finds its textures by this name
    module = types.ModuleType("imagecorruptions.corruptions")
    module.__file__ = path
    exec(compile(source, path, "exec"), module.__dict__)
    return module


def run_reference(name, image, severity, seed):
    """imagecorruptions' ``corrupt`` for one uint8 (H, W, 3) image, seeded, as uint8."""
    np.random.seed(seed)
    out = getattr(reference(), name)(Image.fromarray(image), severity)
    return np.uint8(out)


@functools.lru_cache(maxsize=1)
def fashion_mnist(n=8):
    """The first ``n`` Fashion-MNIST test images, uint8 (n, 28, 28)."""
    with gzip.open(FASHION, "rb") as f:
        data = f.read()
    return np.frombuffer(data, np.uint8, offset=16)[:n * 784].reshape(n, 28, 28)


def natural(size):
    """skimage's astronaut, chelsea and coffee, centre-cropped square and resized: (3, s, s, 3)."""
    import skimage.data
    out = []
    for img in (skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()):
        side = min(img.shape[:2])
        top, left = (img.shape[0] - side) // 2, (img.shape[1] - side) // 2
        crop = Image.fromarray(img[top:top + side, left:left + side])
        out.append(np.asarray(crop.resize((size, size), Image.BICUBIC)))
    return np.stack(out)


def fashion_rgb(size, n=2):
    """Fashion-MNIST upsampled to ``size`` (bicubic), as 3 identical channels: (n, s, s, 3)."""
    imgs = [np.asarray(Image.fromarray(i).resize((size, size), Image.BICUBIC))
            for i in fashion_mnist()[:n]]
    return np.repeat(np.stack(imgs)[..., None], 3, axis=-1)
