"""What a stored member or evaluation set was made from, so a run never reuses one made otherwise.

A member's identity is its variant, its recipe, its model (architecture: every layer's type,
output shape and parameter count) and its data: the training set's element spec, size and a
digest of its first examples as the model sees them (so a change of preprocessing shows), and
every evaluation set's identity. An evaluation set's identity is its ids, labels and attributes
(compared in full by the store) plus the spec and a digest of its first preprocessed images.
Identities are plain JSON, stored in each member's and evaluation set's manifest.
"""
from __future__ import annotations

import hashlib
import json

import numpy as np

from pie_tf._keras import tf

__all__ = ["model_identity", "data_identity", "differences", "IGNORED_RECIPE_FIELDS"]

# Recipe fields that change how a run reports or batches predictions, not what it learns.
IGNORED_RECIPE_FIELDS = ("verbose", "eval_batch_size")
_HEAD = 32  # examples whose content enters a data digest: cheap, and any preprocessing shows


def _digest(*arrays) -> str:
    sha = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        sha.update(f"{array.dtype.str}{array.shape}".encode())
        sha.update(array.tobytes() if array.dtype != object else repr(array.tolist()).encode())
    return sha.hexdigest()[:16]


def model_identity(model) -> dict:
    """Architecture of ``model``, independent of layer names (which Keras numbers per process)."""
    layers = [(type(layer).__name__, str(getattr(layer, "output_shape", "")),
               int(layer.count_params())) for layer in model.layers]
    return {"parameters": int(model.count_params()), "layers": len(layers),
            "input_shape": str(tuple(model.inputs[0].shape[1:])),
            "output_shape": str(tuple(model.outputs[0].shape[1:])),
            "architecture": hashlib.sha256(json.dumps(layers).encode()).hexdigest()[:16]}


def data_identity(ds) -> dict:
    """Element spec, size and a digest of the first examples (image, label and id) of ``ds``."""
    spec = ds.element_spec
    image_key = "image" if isinstance(spec, dict) else 0
    head = list(ds.take(_HEAD).as_numpy_iterator())
    images = np.stack([np.asarray(e[image_key]) for e in head]) if head else np.zeros(0)
    labels = np.asarray([np.asarray(e["label" if isinstance(spec, dict) else 1]) for e in head])
    ids = np.asarray([e["id"] for e in head], dtype=object) \
        if isinstance(spec, dict) and "id" in spec else np.zeros(0)
    image_spec = spec[image_key]
    return {"image": f"{image_spec.dtype.name}{tuple(image_spec.shape)}",
            "examples": int(ds.cardinality().numpy()) if ds.cardinality() >= 0 else -1,
            "first_examples": _digest(images, labels, ids)}


def differences(stored, requested, prefix="") -> dict:
    """``{dotted key: (stored, requested)}`` where two identities differ; keys only one side
    records are compared only when the other side has them."""
    out = {}
    if isinstance(stored, dict) and isinstance(requested, dict):
        for key in sorted(set(stored) & set(requested)):
            out.update(differences(stored[key], requested[key], f"{prefix}{key}."))
        return out
    if stored != requested:
        out[prefix.rstrip(".")] = (stored, requested)
    return out


def image_dtype(ds):
    spec = ds.element_spec
    return (spec["image"] if isinstance(spec, dict) else spec[0]).dtype


def is_float(dtype) -> bool:
    return tf.as_dtype(dtype).is_floating
