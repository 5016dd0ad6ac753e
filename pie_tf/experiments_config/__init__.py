"""pie_tf.experiments_config: presets and the pipeline of the two studies in experiments/.

``presets`` holds the nested, declarative presets (``paper``, ``quick``, ``tiny``) of
``experiments/celeba_bias.py`` (:data:`CELEBA_BIAS`) and ``experiments/imagenet_pie.py``
(:data:`IMAGENET_PIE`); ``overrides`` says where each flag's value lives in them and applies
overrides (:func:`get`); ``flags`` turns every preset value into a command-line flag;
``arguments`` maps a preset onto the arguments of the library calls; ``evaluations`` builds the
evaluation sets by type; ``pipeline`` runs data -> population -> store -> audit -> report.
"""
from pie_tf.experiments_config import arguments, evaluations, pipeline
from pie_tf.experiments_config.flags import define_flags, make_strategy, resolve
from pie_tf.experiments_config.overrides import flat, get
from pie_tf.experiments_config.presets import CELEBA_BIAS, IMAGENET_PIE

__all__ = ["CELEBA_BIAS", "IMAGENET_PIE", "get", "flat", "define_flags", "resolve",
           "make_strategy", "arguments", "evaluations", "pipeline"]
