"""One policy for "are these scores probabilities?", shared by the audit, export and population.

Scores have the class axis last. They are

- **probabilities** when every value is finite and non-negative and every row sums to one within
  :data:`ATOL` (a single column: values in [0, 1], the positive class of a binary classifier);
  rows are then divided by their sum, so they sum to one exactly;
- **logits** otherwise, turned into probabilities by a softmax (a single column: a sigmoid).

``kind="probabilities"`` and ``kind="logits"`` declare which; ``kind="auto"`` decides by the rule
above, except that scores in [0, 1] whose rows sum to one only within :data:`AMBIGUOUS_ATOL` are
refused: they are almost always dequantized int8 softmax outputs (steps of 1/256, rows summing to
1 +- a few 1e-3), and a softmax over them would give silently wrong distributions. Everything that
is refused raises :class:`pie_tf.errors.NotProbabilitiesError`, whose message names the argument.

Outputs of int8 models are made probabilities by :func:`renormalize` first, which is what the
population does before it stores them; the store refuses rows off one by more than :data:`ATOL`
(float16 round-off, which the store keeps probabilities in, is at most 2**-11 per row).

This module imports only numpy and :mod:`pie_tf.errors`, so every part of pie_tf can use it.
"""
from __future__ import annotations

import numpy as np

from pie_tf.errors import InvalidArgumentError, NotProbabilitiesError

__all__ = ["KINDS", "ATOL", "AMBIGUOUS_ATOL", "check_kind", "rows_off_one",
           "looks_like_probabilities", "as_probabilities", "renormalize"]

KINDS = ("auto", "logits", "probabilities")
ATOL = 1e-3
AMBIGUOUS_ATOL = 0.05


def check_kind(kind, argname="kind"):
    """``kind`` must be one of :data:`KINDS`."""
    if kind not in KINDS:
        raise InvalidArgumentError(f"`{argname}` must be one of {KINDS}; got {kind!r}.")
    return kind


def rows_off_one(probabilities, atol=ATOL):
    """Boolean mask over rows (class axis last): True where a row does not sum to one within
    ``atol`` (sums taken in float64)."""
    sums = np.asarray(probabilities).sum(axis=-1, dtype=np.float64)
    return np.abs(sums - 1.0) > atol


def looks_like_probabilities(scores, atol=ATOL):
    """Whether finite ``scores`` (class axis last) are probabilities by this module's rule."""
    scores = np.asarray(scores)
    if scores.size == 0 or scores.min() < 0:
        return False
    if scores.shape[-1] == 1:
        return bool(scores.max() <= 1)
    return not rows_off_one(scores, atol).any()


def as_probabilities(scores, kind="auto", *, argname="scores", dtype=np.float64):
    """Probabilities from scores that are probabilities or logits (see the module's policy).

    Parameters
    ----------
    scores : array_like of shape (..., n_classes)
        ``n_classes == 1`` is a binary classifier's positive class (sigmoid output or its logit),
        expanded to ``[1 - p, p]``.
    kind : {"auto", "logits", "probabilities"}
    argname : str
        Named in the errors.
    dtype : numpy float dtype of the result (float32 keeps ImageNet-scale arrays small).

    Returns
    -------
    ndarray of shape (..., max(n_classes, 2)), rows summing to one.

    Raises
    ------
    NotProbabilitiesError
        Non-finite scores; ``kind="probabilities"`` for scores that are not; ``kind="auto"`` for
        scores that are probabilities only up to quantization.

    Examples
    --------
    >>> as_probabilities([[0.2, 0.8], [0.5, 0.5]]).tolist()
    [[0.2, 0.8], [0.5, 0.5]]
    >>> as_probabilities([[0.0, 0.0]]).tolist()  # logits
    [[0.5, 0.5]]
    >>> as_probabilities([[0.25, 0.74]], "probabilities")
    Traceback (most recent call last):
    ...
    pie_tf.errors.NotProbabilitiesError: `scores` was declared probabilities but its rows sum to
    0.9900..0.9900, not 1 (tolerance 0.001). Renormalize the rows
    (scores / scores.sum(-1, keepdims=True)) or declare them logits.
    """
    check_kind(kind)
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.number) or scores.dtype == bool:
        raise InvalidArgumentError(f"`{argname}` must be numeric scores; got dtype "
                                   f"{scores.dtype}.")
    if scores.ndim < 1 or scores.size == 0:
        raise InvalidArgumentError(f"`{argname}` must have a class axis last; got shape "
                                   f"{scores.shape}.")
    if not np.all(np.isfinite(scores)):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(scores))[0])
        raise NotProbabilitiesError(f"`{argname}` holds NaN or infinite values (first at index "
                                    f"{bad}).")
    scores = scores.astype(dtype, copy=False)
    if kind == "auto":
        if looks_like_probabilities(scores):
            kind = "probabilities"
        elif looks_like_probabilities(scores, AMBIGUOUS_ATOL) and scores.max() <= 1:
            sums = scores.sum(axis=-1)
            raise NotProbabilitiesError(
                f"`{argname}` looks like probabilities whose rows sum to {sums.min():.4f}.."
                f"{sums.max():.4f}, not 1 (e.g. dequantized int8 softmax outputs). Renormalize "
                "the rows (scores / scores.sum(-1, keepdims=True)) or declare them logits if "
                "they really are.")
        else:
            kind = "logits"
    if scores.shape[-1] == 1:
        if kind == "logits":
            scores = 1.0 / (1.0 + np.exp(-scores))
        elif not looks_like_probabilities(scores):
            raise NotProbabilitiesError(f"`{argname}` was declared probabilities but holds "
                                        f"values outside [0, 1].")
        return np.concatenate([1.0 - scores, scores], axis=-1)
    if kind == "logits":
        exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)
    if scores.min() < 0:
        raise NotProbabilitiesError(f"`{argname}` was declared probabilities but has negative "
                                    f"entries (minimum {scores.min():.4g}); probabilities are "
                                    f"non-negative (apply a softmax to logits).")
    sums = scores.sum(axis=-1, keepdims=True)
    if rows_off_one(scores).any():
        raise NotProbabilitiesError(
            f"`{argname}` was declared probabilities but its rows sum to {sums.min():.4f}.."
            f"{sums.max():.4f}, not 1 (tolerance {ATOL}). Renormalize the rows "
            "(scores / scores.sum(-1, keepdims=True)) or declare them logits.")
    return scores / sums


def renormalize(probabilities):
    """Rows divided by their sum; an all-zero row becomes uniform.

    For an int8 model's softmax outputs, dequantized in steps of 1/256, whose rows sum to
    1 +- n_classes/512 rather than 1. Dividing leaves every top-1 label unchanged. A row the
    quantization zeroed entirely (possible with many classes) carries no information: it becomes
    uniform, and its top-1 label stays class 0, as the deployed model's argmax is.

    Examples
    --------
    >>> renormalize([[0.25, 0.5], [0.0, 0.0]]).tolist()
    [[0.3333333333333333, 0.6666666666666666], [0.5, 0.5]]
    """
    probabilities = np.asarray(probabilities)
    total = probabilities.sum(axis=-1, keepdims=True)
    return np.where(total > 0, probabilities / np.where(total > 0, total, 1),
                    1.0 / probabilities.shape[-1])
