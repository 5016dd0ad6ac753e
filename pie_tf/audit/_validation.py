"""Input checks for the audit, done once where arrays enter (as scikit-learn's ``check_array``).

Every check names the argument it rejects and says what was expected; functions behind this
boundary trust their inputs.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pie_tf._probabilities import as_probabilities, check_kind
from pie_tf.errors import InvalidArgumentError, NotProbabilitiesError

__all__ = [
    "check_labels", "check_predictions", "check_in_range", "check_scores", "check_ids",
    "check_same_ids", "check_attributes", "check_mapping",
    "check_tie_break", "check_population_name", "label_dtype",
]

TIE_BREAKS = ("lowest", "highest")


def label_dtype(n_classes):
    """The smallest signed integer dtype that holds labels ``0 .. n_classes - 1``.

    Small dtypes keep the per-example sort of the mode in cache (int16 for ImageNet's 1000 classes).
    """
    return np.int16 if n_classes <= np.iinfo(np.int16).max else np.int32


def check_tie_break(tie_break):
    if tie_break not in TIE_BREAKS:
        raise ValueError(f"`tie_break` must be one of {TIE_BREAKS}; got {tie_break!r}.")
    return tie_break


def check_population_name(name, argname):
    if not isinstance(name, str) or not name:
        raise TypeError(f"`{argname}` keys must be non-empty strings; got {name!r}.")
    if name == "dense":
        raise ValueError(f"`{argname}` may not use the name 'dense': it is reserved for the "
                         f"reference population.")
    return name


def as_array(x, argname):
    """``np.asarray(x)``, with ragged nested lists refused by name instead of numpy's message."""
    try:
        return np.asarray(x)
    except ValueError as err:  # "inhomogeneous shape": rows of different lengths
        raise InvalidArgumentError(f"`{argname}` is ragged: its rows have different lengths "
                                   f"({err}). Every member needs one entry per example.") from None


def _as_integer(x, argname):
    x = as_array(x, argname)
    if x.dtype == bool or not (np.issubdtype(x.dtype, np.integer)
                               or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"`{argname}` must hold integer class labels; got dtype {x.dtype}.")
    if np.issubdtype(x.dtype, np.floating):
        if not np.all(np.isfinite(x)):
            raise ValueError(f"`{argname}` holds NaN or infinite labels.")
        if not np.all(x == np.round(x)):
            raise TypeError(f"`{argname}` must hold integer class labels; got non-integral "
                            f"floats. Pass scores with a class axis to take their argmax.")
    return x


def check_labels(labels, argname="labels", n_classes=None):
    """Check true labels: 1-D integers in ``[0, n_classes)``.

    Returns
    -------
    labels : ndarray of shape (n_examples,), dtype from :func:`label_dtype`
    n_classes : int (``max + 1`` when not given)
    """
    labels = _as_integer(labels, argname)
    if labels.ndim != 1:
        raise ValueError(f"`{argname}` must be 1-D (n_examples,); got shape {labels.shape}.")
    if labels.size == 0:
        raise ValueError(f"`{argname}` is empty.")
    if labels.min() < 0:
        raise ValueError(f"`{argname}` must be in [0, n_classes); got a minimum of "
                         f"{labels.min()}.")
    if n_classes is None:
        n_classes = int(labels.max()) + 1
    n_classes = _check_n_classes(n_classes)
    if labels.max() >= n_classes:
        raise ValueError(f"`{argname}` must be in [0, {n_classes}) (n_classes={n_classes}); got "
                         f"a maximum of {labels.max()}.")
    return labels.astype(label_dtype(n_classes), copy=False), n_classes


def _check_n_classes(n_classes):
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
            or n_classes < 1:
        raise ValueError(f"`n_classes` must be a positive integer; got {n_classes!r}.")
    return int(n_classes)


def check_scores(scores, argname, kind="auto"):
    """Check per-member class scores and return probabilities.

    Parameters
    ----------
    scores : array_like of shape (n_members, n_examples, n_classes)
        Logits or probabilities.
    kind : {"auto", "logits", "probabilities"}
        Read by pie_tf's one policy (:func:`pie_tf._probabilities.as_probabilities`): "auto"
        treats non-negative rows that sum to one (within 1e-3) as probabilities and anything
        else as logits, to which a softmax is applied; rows in [0, 1] that sum to one only within
        0.05 (quantized probabilities) are refused as ambiguous.

    Returns
    -------
    ndarray of float32, shape (n_members, n_examples, n_classes), rows summing to one.

    Raises
    ------
    pie_tf.errors.NotProbabilitiesError
        For scores that cannot be read as ``kind`` says (NaN or infinite values included).
    """
    check_kind(kind, "scores_kind")
    scores = as_array(scores, argname)
    if not np.issubdtype(scores.dtype, np.number) or scores.dtype == bool:
        raise TypeError(f"`{argname}` must be numeric scores; got dtype {scores.dtype}.")
    if scores.ndim != 3:
        raise ValueError(f"`{argname}` must have shape (n_members, n_examples, n_classes); got "
                         f"shape {scores.shape}.")
    if 0 in scores.shape:
        raise ValueError(f"`{argname}` is empty (shape {scores.shape}).")
    if not np.all(np.isfinite(scores)):
        bad = np.argwhere(~np.isfinite(scores))[0]
        raise NotProbabilitiesError(
            f"`{argname}` holds NaN or infinite values (first at member {bad[0]}, example "
            f"{bad[1]}, class {bad[2]}); a diverged member must be removed or retrained, not "
            f"audited.")
    return as_probabilities(scores, kind, argname=argname, dtype=np.float32)


def check_predictions(predictions, argname, n_classes=None, n_examples=None):
    """Check a population's predicted labels.

    Parameters
    ----------
    predictions : array_like of int, shape (n_members, n_examples)
        Top-1 labels, one row per member. A 1-D array is one member.
    n_classes : int, optional
        Labels must be below it; when not known yet, only ``>= 0`` is checked here and
        :func:`check_in_range` checks the bound later.
    n_examples : int, optional

    Returns
    -------
    ndarray of shape (n_members, n_examples), dtype from :func:`label_dtype`.
    """
    predictions = as_array(predictions, argname)
    if predictions.ndim == 3:
        raise ValueError(f"`{argname}` has shape {predictions.shape}: scores with a class axis "
                         f"go in the probabilities arguments; pass top-1 labels "
                         f"(n_members, n_examples) here (e.g. scores.argmax(-1)).")
    predictions = _as_integer(predictions, argname)
    if predictions.ndim == 1:
        predictions = predictions[None, :]
    if predictions.ndim != 2:
        raise ValueError(f"`{argname}` must have shape (n_members, n_examples); got "
                         f"{predictions.shape}.")
    if 0 in predictions.shape:
        raise ValueError(f"`{argname}` is empty (shape {predictions.shape}).")
    if n_examples is not None and predictions.shape[1] != n_examples:
        raise ValueError(f"`{argname}` has {predictions.shape[1]} examples per member but "
                         f"`labels` has {n_examples}; every population must be evaluated on the "
                         f"same examples in the same order.")
    lo, hi = predictions.min(), predictions.max()
    if lo < 0 or (n_classes is not None and hi >= n_classes):
        raise ValueError(f"`{argname}` must be labels in [0, {n_classes or 'n_classes'}); got "
                         f"values in [{lo}, {hi}].")
    return predictions.astype(label_dtype(n_classes or int(hi) + 1), copy=False)


def check_in_range(values, argname, n_classes):
    """Labels or predictions already checked non-negative must also be below ``n_classes``."""
    lo, hi = values.min(), values.max()
    if hi >= n_classes:
        raise ValueError(f"`{argname}` must be labels in [0, {n_classes}) (n_classes="
                         f"{n_classes}); got values in [{lo}, {hi}].")
    return values.astype(label_dtype(n_classes), copy=False)


def check_ids(ids, n_examples, argname="ids"):
    """Check example ids: 1-D, unique, one per example; ``None`` numbers the examples."""
    if ids is None:
        return np.arange(n_examples)
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.shape[0] != n_examples:
        raise ValueError(f"`{argname}` must have shape ({n_examples},), one id per example; got "
                         f"{ids.shape}.")
    if len(pd.unique(ids)) != n_examples:
        raise ValueError(f"`{argname}` must be unique; {n_examples - len(pd.unique(ids))} "
                         f"duplicates found.")
    return ids


def check_same_ids(ids, reference_ids, argname):
    """Two populations must describe the same examples in the same order."""
    ids = np.asarray(ids)
    if ids.shape != reference_ids.shape or not np.array_equal(ids, reference_ids):
        if ids.shape == reference_ids.shape and set(ids.tolist()) == set(reference_ids.tolist()):
            raise ValueError(f"`{argname}` holds the same examples as `ids` in a different "
                             f"order; align the populations before auditing.")
        raise ValueError(f"`{argname}` does not match `ids`: the populations were evaluated on "
                         f"different examples.")


def check_attributes(attributes, n_examples=None, argname="attributes"):
    """Check protected attributes: a mapping name -> boolean array or a DataFrame of booleans.

    ``n_examples=None`` takes the number of rows from the attributes themselves (0 without any).

    Returns
    -------
    pandas.DataFrame of bool, shape (n_examples, n_attributes), RangeIndex.
    """
    if attributes is None:
        return pd.DataFrame(index=pd.RangeIndex(n_examples or 0))
    if isinstance(attributes, pd.DataFrame):
        frame = attributes.reset_index(drop=True)
    elif isinstance(attributes, Mapping):
        columns = {k: np.asarray(v) for k, v in attributes.items()}
        lengths = {len(v) if v.ndim else 0 for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"`{argname}` has columns of different lengths (rows "
                             f"{sorted(lengths)}); one value per example each.")
        frame = pd.DataFrame(columns) if attributes else \
            pd.DataFrame(index=pd.RangeIndex(n_examples or 0))
    else:
        raise TypeError(f"`{argname}` must be a mapping name -> array or a DataFrame; got "
                        f"{type(attributes).__name__}.")
    if n_examples is None:
        n_examples = len(frame)
    if len(frame) != n_examples:
        raise ValueError(f"`{argname}` has {len(frame)} rows but there are {n_examples} "
                         f"examples.")
    out = {}
    for name in frame.columns:
        if not isinstance(name, str) or not name:
            raise TypeError(f"`{argname}` names must be non-empty strings; got {name!r}.")
        col = frame[name].to_numpy()
        if col.dtype == bool:
            out[name] = col
            continue
        if col.dtype == object or not np.issubdtype(col.dtype, np.number) \
                or not np.all(np.isin(col, (0, 1))):
            raise ValueError(f"`{argname}[{name!r}]` must be boolean (or 0/1); got values "
                             f"{pd.unique(col)[:5]!r}.")
        out[name] = col.astype(bool)
    return pd.DataFrame(out, index=pd.RangeIndex(n_examples))


def check_mapping(value, argname):
    if not isinstance(value, Mapping) or not value:
        raise TypeError(f"`{argname}` must be a non-empty mapping variant name -> array; got "
                        f"{type(value).__name__}.")
    return value
