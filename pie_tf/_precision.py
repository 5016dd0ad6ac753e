"""Mixed precision for training, float32 for what tfmot's QAT and the TFLite converter accept.

Keras mixed precision keeps every variable in float32 and computes in float16 (GPU) or bfloat16
(TPU). Training and pruning work unchanged under it (PruneCallback's masks act on the float32
kernels). Two consumers need a float32 graph: tfmot's quantizers (``quantize_model`` fails inside
its wrappers on a mixed-precision model) and the TFLite converter (float16 compute ops are not
TFLite builtins; measured on TF 2.21). ``float32_copy`` rebuilds the same architecture with the
float32 policy and the same weights, so a compressed model trained in mixed precision is exported
and quantized as float32, the way it will run on a phone.
"""
from __future__ import annotations

import contextlib

__all__ = ["POLICIES", "resolve_policy", "policy_scope", "computes_in",
           "uses_mixed_precision", "float32_copy"]

POLICIES = ("float32", "mixed_float16", "mixed_bfloat16")


def resolve_policy(name, strategy=None):
    """The concrete Keras dtype policy for ``name`` under ``strategy``.

    ``"auto"`` is ``"mixed_bfloat16"`` under a TPU strategy, ``"mixed_float16"`` where the
    strategy (or, without one, this process) has a GPU, and ``"float32"`` on a CPU, where float16
    compute is emulated and slower than float32.
    """
    if name in POLICIES:
        return name
    if name != "auto":
        raise ValueError(f"`mixed_precision` must be 'auto' or one of {POLICIES}; got {name!r}.")
    import tensorflow as tf
    if strategy is not None and "TPU" in type(strategy).__name__:
        return "mixed_bfloat16"
    try:
        devices = list(strategy.extended.worker_devices) if strategy is not None else None
    except RuntimeError:  # the default strategy lists no worker devices: it runs on this process's
        devices = None
    if devices is None:
        has_gpu = bool(tf.config.list_logical_devices("GPU"))
    else:
        has_gpu = any("GPU" in d.upper() for d in devices)
    return "mixed_float16" if has_gpu else "float32"


@contextlib.contextmanager
def policy_scope(keras, name):
    """Build models under the global dtype policy ``name``; the previous one is restored after."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def computes_in(model, dtype):
    """True when some layer of ``model`` (nested models included) computes in ``dtype``."""
    return any(getattr(getattr(layer, "dtype_policy", None), "compute_dtype", None) == dtype
               for layer in model._flatten_layers(include_self=True, recursive=True))


def uses_mixed_precision(model):
    """True when some layer of ``model`` computes in float16 or bfloat16."""
    return computes_in(model, "float16") or computes_in(model, "bfloat16")


def float32_copy(keras, model):
    """The same architecture under the float32 policy, carrying ``model``'s weights.

    ``model`` is returned unchanged when it is float32 already. Zeros of a pruned model are
    copied with the weights, so the copy has the same sparsity.
    """
    if not uses_mixed_precision(model):
        return model

    def clone(layer):
        if isinstance(layer, keras.Model):
            return float32_copy(keras, layer)
        config = dict(layer.get_config())
        if "dtype" in config:
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    with policy_scope(keras, "float32"):
        copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    return copy
