"""The names and severities of ImageNet-C's corruptions (Hendrycks & Dietterich 2019).

Kept apart from :mod:`pie_tf.corruptions` (which imports TensorFlow) so the audit, which is pure
numpy, can check corruption keys against the same names.
"""

#: The 15 corruptions of ImageNet-C, in the paper's order.
CORRUPTIONS = (
    "gaussian_noise", "shot_noise", "impulse_noise",
    "defocus_blur", "glass_blur", "motion_blur", "zoom_blur",
    "snow", "frost", "fog", "brightness",
    "contrast", "elastic_transform", "pixelate", "jpeg_compression",
)
#: The 4 held-out corruptions.
EXTRA_CORRUPTIONS = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
SEVERITIES = (1, 2, 3, 4, 5)
