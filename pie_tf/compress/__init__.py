"""pie_tf.compress: pruning (Keras 3, tf_keras), quantization-aware training (tf_keras), mitigation.

Public names (loaded on first use)::

    PruneCallback, clone_dense, prunable_weights, pruning_wrapped_layers,
    get_pruning_state                                   # pruning.py
    resolve_schedule, ResolvedSchedule, SCHEDULE_NAMES  # schedule.py: when sparsity rises
    SelectingPruning, kth_largest                       # masks.py: thresholds without a full sort
    sparsity_report                                     # sparsity.py: one row per weight tensor
    QuantizeCallback, is_quantization_aware,
    prunable_kernel_sparsity, SCHEMES                   # quantize.py (tfmot QAT)
    mitigation                                          # mitigation.py: distillation, re-weighting

The ``quantize`` function is ``pie_tf.quantize`` (or ``pie_tf.compress.quantize.quantize``):
here ``quantize`` is the module, as it is once any of its names is imported.
"""
from __future__ import annotations

from pie_tf._lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(__name__, {
    "pie_tf.compress.pruning": ["PruneCallback", "clone_dense", "prunable_weights",
                                "pruning_wrapped_layers", "get_pruning_state"],
    "pie_tf.compress.schedule": ["resolve_schedule", "ResolvedSchedule", "SCHEDULE_NAMES"],
    "pie_tf.compress.masks": ["SelectingPruning", "kth_largest"],
    "pie_tf.compress.sparsity": ["sparsity_report"],
    "pie_tf.compress.quantize": ["QuantizeCallback", "is_quantization_aware",
                                 "prunable_kernel_sparsity", "SCHEMES"],
    "pie_tf.compress.mitigation": ["mitigation"],
})
