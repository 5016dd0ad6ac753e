"""pie_tf.store: the prediction store, the seam between training (population) and analysis (audit).

See :mod:`pie_tf.store._store` for the layout and what each stored field lets the audit compute.
This package depends on nothing else in pie_tf.
"""
from pie_tf.store._files import StoreError, join, read_json, write_json
from pie_tf.store._store import FIELDS, EvalSet, PredictionStore, VariantPredictions

__all__ = ["PredictionStore", "EvalSet", "VariantPredictions", "StoreError", "FIELDS",
           # file helpers (local paths or gs://, atomic writes) for files kept beside a store
           "join", "read_json", "write_json"]
