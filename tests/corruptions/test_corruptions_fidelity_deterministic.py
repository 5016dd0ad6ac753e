"""Deterministic corruptions against imagecorruptions 1.1.2 on real images.

Blur sizes are in pixels, so gaussian_blur and defocus_blur are compared at 224 px, where our
parameters are ImageNet-C's; the size-free ones also at 128 px (skimage images and upsampled
Fashion-MNIST). Tolerance: mean absolute difference <= 0.2 grey levels and no pixel more than
1 level off (float32 vs float64 before truncation to uint8).
"""
import numpy as np
import pytest

from tests.corruptions._reference import fashion_rgb, natural, run_reference
from pie_tf.corruptions import corrupt

SIZE_FREE = ["zoom_blur", "brightness", "contrast", "saturate", "jpeg_compression", "pixelate"]


@pytest.fixture(scope="module")
def images():
    return {224: natural(224)[:1], 128: np.concatenate([natural(128), fashion_rgb(128, 1)])}


def _compare(images, name, severity):
    ours = corrupt(images, name, severity).numpy().astype(np.int32)
    ref = np.stack([run_reference(name, im, severity, 0) for im in images]).astype(np.int32)
    return np.abs(ours - ref)


@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"] + SIZE_FREE)
def test_matches_reference_at_224(images, name):
    """Severities 1, 3, 5 here (and 2, 4 of the blurs in the next test)."""
    for severity in (1, 3, 5):
        diff = _compare(images[224], name, severity)
        assert diff.mean() <= 0.2, (name, severity, diff.mean())
        assert diff.max() <= 1, (name, severity, diff.max())


@pytest.mark.parametrize("name", ["gaussian_blur", "defocus_blur"] + SIZE_FREE)
def test_matches_reference_other_severities(images, name):
    """Severities 2 and 4: at 128 px for the size-free corruptions, 224 px for the blurs."""
    size = 224 if name in ("gaussian_blur", "defocus_blur") else 128
    for severity in (2, 4):
        diff = _compare(images[size], name, severity)
        assert diff.mean() <= 0.2, (name, severity, diff.mean())
        assert diff.max() <= 1, (name, severity, diff.max())


@pytest.mark.parametrize("name", ["brightness", "contrast", "zoom_blur", "pixelate", "saturate",
                                  "jpeg_compression"])
def test_grayscale_matches_reference_on_gray_rgb(name):
    """One-channel input behaves like the reference on the same image as three equal channels
    (the reference's ``corrupt`` widens gray images to RGB)."""
    gray = fashion_rgb(96, 1)
    ours = corrupt(gray[..., :1], name, 4).numpy()[..., 0].astype(np.int32)
    ref = np.stack([run_reference(name, im, 4, 0) for im in gray])[..., 0].astype(np.int32)
    tolerance = 1.0 if name == "jpeg_compression" else 0.2  # 1-channel JPEG vs RGB JPEG
    assert np.abs(ours - ref).mean() <= tolerance


@pytest.mark.parametrize("radius,sigma,angle", [(10, 3, -40.0), (15, 8, 12.5), (20, 15, 44.0),
                                                (12, 4, -100.0)])
def test_motion_blur_kernel_matches_reference_for_a_given_angle(radius, sigma, angle):
    """Our FFT motion blur against the reference's shift-and-add ``_motion_blur`` at a fixed
    angle (the only random draw), on a real image: the same numbers up to float32 rounding."""
    import tensorflow as tf

    from pie_tf.corruptions import _ops
    from tests.corruptions._reference import reference

    image = natural(64)[1].astype(np.float64)
    ref = reference()._motion_blur(image, radius=radius, sigma=sigma, angle=angle)
    ours = _ops.motion_blur(tf.constant(image[None], tf.float32), radius, sigma,
                            tf.constant([angle], tf.float32)).numpy()[0]
    np.testing.assert_allclose(ours, ref, atol=0.01)  # grey levels (0..255 scale)


@pytest.mark.parametrize("mode,scipy_mode", [("edge", "nearest"), ("symmetric", "reflect"),
                                             ("reflect101", "mirror")])
def test_long_separable_kernels_match_scipy(mode, scipy_mode):
    """Kernels past ``_MATMUL_TAPS`` run as banded matrix products: scipy's correlate1d along
    both axes, with each border rule, including a kernel longer than the image side."""
    import tensorflow as tf
    from scipy.ndimage import correlate1d
    from pie_tf.corruptions import _ops
    rng = np.random.default_rng(0)
    x = rng.random((2, 40, 24, 3)).astype(np.float32)
    k_rows, k_cols = rng.random(_ops._MATMUL_TAPS + 2), rng.random(31)
    ours = _ops.separable(tf.constant(x), k_rows, k_cols, mode).numpy()
    ref = correlate1d(correlate1d(x.astype(np.float64), k_rows, axis=1, mode=scipy_mode),
                      k_cols, axis=2, mode=scipy_mode)
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode,scipy_mode", [("edge", "nearest"), ("symmetric", "reflect"),
                                             ("reflect101", "mirror")])
def test_fft_convolution_matches_scipy_at_padded_fft_sizes(mode, scipy_mode):
    """``convolve`` pads to FFT-friendly sizes (38 + 2 x 5 = 48 stays, 29 + 10 = 39 -> 40):
    scipy's 2-D correlation with each border rule, a random 11 x 9 kernel, short and tall
    images; the extra rows and columns continue the border rule and never reach the crop."""
    import tensorflow as tf
    from scipy.ndimage import correlate
    from pie_tf.corruptions import _ops
    assert [_ops.fft_length(n) for n in (39, 48, 137, 274)] == [40, 48, 140, 280]
    rng = np.random.default_rng(1)
    kernel = rng.random((11, 9))
    for shape in ((2, 38, 29, 3), (1, 29, 38, 1)):
        x = rng.random(shape).astype(np.float32)
        ours = _ops.convolve(tf.constant(x), kernel, mode).numpy()
        ref = correlate(x.astype(np.float64), kernel[None, :, :, None], mode=scipy_mode)
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)
