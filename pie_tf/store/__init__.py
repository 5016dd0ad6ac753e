"""pie_tf.store: the prediction store, the seam between training (population) and analysis (audit).

See :mod:`pie_tf.store._store` for the layout and what each stored field lets the audit compute.
This package depends on nothing else in pie_tf.
"""
from pie_tf.store._files import StoreError
from pie_tf.store._store import FIELDS, EvalSet, PredictionStore, VariantPredictions

__all__ = ["PredictionStore", "EvalSet", "VariantPredictions", "StoreError", "FIELDS"]
