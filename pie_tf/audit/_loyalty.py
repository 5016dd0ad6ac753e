"""Loyalty: how faithfully a compressed model reproduces its reference, example by example.

Label loyalty is agreement of top-1 labels. Probability loyalty is ``1 - sqrt(JS(p, q))`` with the
Jensen-Shannon divergence in bits (base 2), so it lies in [0, 1] and equals 1 exactly when the two
distributions coincide; ``scipy.spatial.distance.jensenshannon`` already returns ``sqrt(JS)``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from pie_tf._probabilities import as_probabilities

__all__ = ["label_loyalty", "probability_loyalty", "member_loyalty"]


def _as_probabilities(x, argname):
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[-1] < 2:
        raise ValueError(f"`{argname}` must have a class axis last, of length >= 2; got shape "
                         f"{x.shape}.")
    return as_probabilities(x, "probabilities", argname=argname)


def label_loyalty(labels, reference_labels):
    """Per-example agreement of ``labels`` with ``reference_labels``.

    Parameters
    ----------
    labels, reference_labels : array_like of int, same shape (..., n_examples)

    Returns
    -------
    ndarray of bool, the broadcast shape: True where the two labels agree.
    """
    labels = np.asarray(labels)
    reference_labels = np.asarray(reference_labels)
    try:
        np.broadcast_shapes(labels.shape, reference_labels.shape)
    except ValueError:
        raise ValueError(f"`labels` of shape {labels.shape} and `reference_labels` of shape "
                         f"{reference_labels.shape} do not broadcast.") from None
    return labels == reference_labels


def probability_loyalty(probabilities, reference_probabilities):
    """Per-example ``1 - sqrt(JS divergence)`` (base 2) between two class distributions.

    Parameters
    ----------
    probabilities, reference_probabilities : array_like of shape (..., n_classes)
        Probabilities: finite, non-negative, rows summing to one within 1e-3 (renormalize
        dequantized int8 outputs first, :func:`pie_tf._probabilities.renormalize`).

    Raises
    ------
    pie_tf.errors.NotProbabilitiesError

    Returns
    -------
    ndarray of shape (...,) in [0, 1].
    """
    p = _as_probabilities(probabilities, "probabilities")
    q = _as_probabilities(reference_probabilities, "reference_probabilities")
    if p.shape[-1] != q.shape[-1]:
        raise ValueError(f"`probabilities` has {p.shape[-1]} classes but "
                         f"`reference_probabilities` has {q.shape[-1]}.")
    p, q = np.broadcast_arrays(p, q)
    distance = jensenshannon(p, q, base=2, axis=-1)
    return 1.0 - np.clip(np.nan_to_num(distance, nan=0.0), 0.0, 1.0)


def member_loyalty(predictions, reference_labels, probabilities=None,
                   reference_probabilities=None):
    """Each member's loyalty to a reference population, averaged over examples.

    Label loyalty is measured against the reference population's modal label, probability
    loyalty against its mean class distribution (Hooker et al. compare with the dense
    population, not with one dense model, so the score does not depend on which seed is taken).

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
    reference_labels : ndarray of int, shape (n_examples,)
        E.g. the dense population's modal labels.
    probabilities : ndarray of shape (n_members, n_examples, n_classes), optional
    reference_probabilities : ndarray of shape (n_examples, n_classes), optional
        E.g. the dense population's mean distribution. Both or neither.

    Returns
    -------
    pandas.DataFrame with columns ``member, label_loyalty, probability_loyalty`` (the latter
    NaN when no probabilities are given).
    """
    if (probabilities is None) != (reference_probabilities is None):
        raise ValueError("`probabilities` and `reference_probabilities` must be given together.")
    predictions = np.asarray(predictions)
    label = label_loyalty(predictions, np.asarray(reference_labels)[None, :]).mean(axis=1)
    prob = np.full(predictions.shape[0], np.nan)
    if probabilities is not None:
        # Member by member keeps memory at one (n_examples, n_classes) float64 array.
        prob = np.array([probability_loyalty(p, reference_probabilities).mean()
                         for p in probabilities])
    return pd.DataFrame({"member": np.arange(predictions.shape[0]), "label_loyalty": label,
                         "probability_loyalty": prob})
