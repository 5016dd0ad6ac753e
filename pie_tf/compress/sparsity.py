"""How sparse a model is: one row per weight tensor, and the overall figure."""
from __future__ import annotations

import numpy as np
import pandas as pd

from pie_tf._keras import check_model, weight_name
from pie_tf.compress.pruning import _all_layers, get_pruning_state, prunable_weights

__all__ = ["sparsity_report", "OVERALL"]

# The ``layer`` value of the last row of :func:`sparsity_report`.
OVERALL = "(overall)"


def sparsity_report(model, layers=None):
    """Zeros per weight tensor of ``model``, from the weight values themselves.

    Parameters
    ----------
    model : keras.Model or tf_keras.Model
        A built Sequential or functional model (pruned or not), of either Keras.
    layers : optional
        Which weights count as prunable, as in :func:`pie_tf.PruneCallback`. Default: the
        tensors a PruneCallback pruned in this model if it carries pruning state, otherwise
        tfmot's prune registry (Conv/Dense kernels).

    Returns
    -------
    pandas.DataFrame
        One row per weight tensor of ``model.weights`` (trainable and not, in model order) with
        columns ``layer`` (str), ``weight`` (str, the variable name: ``path`` in Keras 3,
        e.g. ``"dense/kernel"``; ``name`` in tf_keras, ``"dense/kernel:0"``), ``shape`` (tuple),
        ``size`` (int), ``zeros`` (int, entries exactly 0), ``sparsity`` (float,
        zeros / size) and ``prunable`` (bool). The **last row** is the overall figure:
        ``layer == "(overall)"``, ``weight == "prunable"``, size and zeros summed over the
        prunable rows, sparsity their ratio (drop it with ``df[df.layer != "(overall)"]``).
        The same figure is in ``df.attrs["overall_sparsity"]``, and the sparsity over every
        weight (biases, BatchNormalization included) in ``df.attrs["overall_sparsity_all"]``.
    """
    check_model(model, "model", allow_keras3=True)
    if not model.built:
        raise ValueError("`model` must be built before its sparsity can be reported.")
    state = get_pruning_state(model)
    if layers is None and state is not None:
        pruned_names = set(state.weight_names)
        prunable_ids = {id(w) for w in model.weights if weight_name(w) in pruned_names}
    else:
        prunable_ids = {id(w) for _, w in prunable_weights(model, layers)}
    owner = {}
    for layer in _all_layers(model):
        for w in layer.weights:
            owner.setdefault(id(w), layer.name)
    rows = []
    for weight, value in zip(model.weights, model.get_weights()):
        value = np.asarray(value)
        rows.append({
            "layer": owner.get(id(weight), model.name),
            "weight": weight_name(weight),
            "shape": tuple(value.shape),
            "size": int(value.size),
            "zeros": int(value.size - np.count_nonzero(value)),
            "prunable": id(weight) in prunable_ids,
        })
    frame = pd.DataFrame(rows, columns=["layer", "weight", "shape", "size", "zeros", "prunable"])
    frame["sparsity"] = frame["zeros"] / frame["size"].clip(lower=1)
    chosen = frame[frame["prunable"]]
    size, zeros = int(chosen["size"].sum()), int(chosen["zeros"].sum())
    overall = zeros / size if size else float("nan")
    overall_row = {"layer": OVERALL, "weight": "prunable", "shape": None, "size": size,
                   "zeros": zeros, "prunable": True, "sparsity": overall}
    frame = pd.concat([frame, pd.DataFrame([overall_row])], ignore_index=True)
    frame = frame[["layer", "weight", "shape", "size", "zeros", "sparsity", "prunable"]]
    all_size = int(frame["size"].iloc[:-1].sum())
    frame.attrs["overall_sparsity"] = overall
    frame.attrs["overall_sparsity_all"] = (int(frame["zeros"].iloc[:-1].sum()) / all_size
                                           if all_size else float("nan"))
    return frame
