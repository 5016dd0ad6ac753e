"""pie_tf.corruptions: ImageNet-C corruptions as batched TensorFlow ops.

``corrupt(images, name, severity, seed=0)`` for a batch, ``corruption_fn`` for ``tf.data.map``,
``corrupt_dataset`` for a pie_tf dataset (ids kept). ``CORRUPTIONS`` are the 15 of ImageNet-C,
``EXTRA_CORRUPTIONS`` the 4 held-out ones. See docs/corruptions.md.
"""
from pie_tf.corruptions.api import (  # noqa: F401
    CORRUPTIONS,
    EXTRA_CORRUPTIONS,
    corrupt,
    corrupt_dataset,
    corruption_fn,
    example_seeds,
)

__all__ = ["CORRUPTIONS", "EXTRA_CORRUPTIONS", "corrupt", "corrupt_dataset", "corruption_fn",
           "example_seeds"]
