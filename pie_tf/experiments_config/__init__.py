"""pie_tf.experiments_config: presets and composition steps of the two studies in experiments/.

``presets`` holds the declarative presets (``paper``, ``quick``, ``tiny``) of
``experiments/celeba_bias.py`` (:data:`CELEBA_BIAS`) and ``experiments/imagenet_pie.py``
(:data:`IMAGENET_PIE`); ``flags`` turns every preset value into a command-line flag; ``compose``
holds the steps both scripts share (no training or statistics of its own).
"""
from pie_tf.experiments_config import compose
from pie_tf.experiments_config.flags import define_flags, make_strategy, resolve
from pie_tf.experiments_config.presets import CELEBA_BIAS, IMAGENET_PIE, get

__all__ = ["CELEBA_BIAS", "IMAGENET_PIE", "get", "define_flags", "resolve", "make_strategy",
           "compose"]
