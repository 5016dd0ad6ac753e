"""Corruption robustness (ImageNet-C style) and ImageNet-A accuracy of populations.

Corruption error (Hendrycks & Dietterich 2019): ``CE_c = sum_s err(s, c) / sum_s err_ref(s, c)``,
``mCE`` is the mean of ``CE_c`` over corruptions, and the relative version subtracts clean errors:
``sum_s (err(s, c) - err_clean) / sum_s (err_ref(s, c) - err_ref_clean)``.

References. For ImageNet the reference is AlexNet. Its published figures are MEAN errors over the
five severities (``ALEXNET_MEAN_ERRORS``), so ``sum_s err_AlexNet(s, c) = 5 * mean``; this needs
all five severities of a corruption. Otherwise (CIFAR-10-C, Fashion-MNIST corruptions, ...) the
reference is the dense population: its member-mean error at each severity.

CE is computed per member and then summarised over members (mean and sample std), so the spread
of the compressed population is visible next to the dense one.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from pie_tf._imagenet_c import CORRUPTIONS, EXTRA_CORRUPTIONS, SEVERITIES
from pie_tf.errors import InvalidArgumentError

__all__ = ["ALEXNET_MEAN_ERRORS", "ALEXNET_CLEAN_ERROR", "corruption_errors",
           "corruption_error", "imagenet_a_accuracy", "restricted_accuracy"]

# Hendrycks & Dietterich (2019): AlexNet top-1 error on ImageNet-C averaged over severities 1-5
# (the figures the ImageNet-C evaluation code of that paper normalizes by).
ALEXNET_MEAN_ERRORS = {
    "gaussian_noise": 0.886428, "shot_noise": 0.894468, "impulse_noise": 0.922640,
    "defocus_blur": 0.819880, "glass_blur": 0.826268, "motion_blur": 0.785948,
    "zoom_blur": 0.798360, "snow": 0.866816, "frost": 0.826572, "fog": 0.819324,
    "brightness": 0.564592, "contrast": 0.853204, "elastic_transform": 0.646056,
    "pixelate": 0.717840, "jpeg_compression": 0.606500,
}
# AlexNet clean top-1 error, 43.5 % in Hendrycks & Dietterich (2019), Table 1. Used only for
# relative CE against AlexNet; pass your own with ``reference_clean_error``.
ALEXNET_CLEAN_ERROR = 0.435
N_SEVERITIES = len(SEVERITIES)
# Error sums below this are round-off of equal means (errors are multiples of 1 / n_examples).
_ROUND_OFF = 1e-9
STATUS_OK = "ok"
STATUS_REFERENCE_UNCHANGED = ("relative CE undefined: the reference's error on the corrupted sets "
                              "equals its clean error (0/0)")
STATUS_NO_REFERENCE = "CE undefined: the reference has no error figure for this corruption"


def corruption_errors(predictions, labels):
    """Top-1 error of every member on every (corruption, severity).

    Parameters
    ----------
    predictions : mapping (corruption: str, severity: int) -> ndarray of int,
        shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,), shared by all corrupted sets, or a mapping
        with the same keys as ``predictions``.

    Returns
    -------
    pandas.DataFrame with columns ``corruption, severity, member, error``.
    """
    if not isinstance(predictions, Mapping) or not predictions:
        raise TypeError("`corruption_predictions` must map (corruption, severity) -> "
                        "predictions (n_members, n_examples).")
    rows = []
    for key, preds in predictions.items():
        if not (isinstance(key, tuple) and len(key) == 2 and isinstance(key[0], str)
                and isinstance(key[1], (int, np.integer)) and not isinstance(key[1], bool)):
            raise TypeError(f"`corruption_predictions` keys must be (corruption: str, severity: "
                            f"int); got {key!r}.")
        if key[1] not in SEVERITIES:
            raise InvalidArgumentError(f"`corruption_predictions` key {key!r}: severity must be "
                                       f"one of {SEVERITIES}; got {key[1]!r}.")
        y = labels[key] if isinstance(labels, Mapping) else labels
        y = np.asarray(y)
        preds = np.asarray(preds)
        if preds.ndim == 1:
            preds = preds[None, :]
        if preds.ndim != 2 or preds.shape[1] != y.shape[0]:
            raise ValueError(f"`corruption_predictions[{key!r}]` has shape {preds.shape}; "
                             f"expected (n_members, {y.shape[0]}) to match its labels.")
        error = (preds != y[None, :]).mean(axis=1)
        rows.append(pd.DataFrame({"corruption": key[0], "severity": int(key[1]),
                                  "member": np.arange(preds.shape[0]), "error": error}))
    return pd.concat(rows, ignore_index=True)


def _sum_over_severities(errors):
    """(corruption, member) -> sum of errors and number of severities."""
    grouped = errors.groupby(["corruption", "member"])["error"]
    return grouped.sum(), grouped.count()


def corruption_error(errors, clean_error, *, reference="alexnet", reference_errors=None,
                     reference_clean_error=None):
    """CE and relative CE per member and corruption; mCE per member.

    Parameters
    ----------
    errors : DataFrame from :func:`corruption_errors` (one population)
    clean_error : ndarray of shape (n_members,)
        Each member's error on the uncorrupted set (for relative CE).
    reference : {"alexnet", "population"}
    reference_errors : DataFrame from :func:`corruption_errors`, required for "population"
        (the dense population); its member-mean error per (corruption, severity) is the
        denominator.
    reference_clean_error : float
        Clean error of the reference: the dense population's mean clean error for
        "population", ``ALEXNET_CLEAN_ERROR`` by default for "alexnet".

    Returns
    -------
    by_corruption : DataFrame, one row per (corruption, member): ``corruption, member,
        n_severities, error`` (mean over severities), ``ce``, ``relative_ce``, ``status``. A
        corruption the reference does not cover (AlexNet has no figure for speckle_noise, for
        example) has NaN CE, is left out of mCE, and ``status`` says so. Relative CE is NaN
        (``status`` says why) when the reference's corrupted error equals its clean error, as
        when a corruption changes none of its predictions: 0/0, not a ratio of round-off.
    by_member : DataFrame, one row per member: ``member, clean_error, mce, relative_mce,
        n_corruptions`` (corruptions with a CE).
    """
    clean_error = np.asarray(clean_error, dtype=np.float64)
    total, count = _sum_over_severities(errors)
    frame = pd.DataFrame({"n_severities": count, "error_sum": total}).reset_index()
    members = frame["member"].to_numpy()
    n_corrupted = int(members.max()) + 1
    if n_corrupted != clean_error.size:
        # Member i's corrupted errors are compared with member i's clean error: the two
        # populations must be the same members.
        raise InvalidArgumentError(
            f"`clean_error` has {clean_error.size} members but the corruption predictions have "
            f"{n_corrupted}: evaluate the same members on the clean and the corrupted sets.")
    clean = clean_error[members]
    n_sev = frame["n_severities"].to_numpy()
    if reference == "alexnet":
        ref_clean = ALEXNET_CLEAN_ERROR if reference_clean_error is None else reference_clean_error
        unknown = sorted(set(frame["corruption"]) - set(CORRUPTIONS + EXTRA_CORRUPTIONS))
        if unknown:
            raise InvalidArgumentError(
                f"`corruption_predictions`: unknown corruption(s) {unknown} for an AlexNet "
                f"reference; ImageNet-C's are {', '.join(CORRUPTIONS + EXTRA_CORRUPTIONS)}. "
                "Corruptions of your own need reference='population'.")
        ref_mean = frame["corruption"].map(ALEXNET_MEAN_ERRORS).to_numpy(dtype=np.float64)
        known = ~np.isnan(ref_mean)
        partial = known & (n_sev != N_SEVERITIES)
        if partial.any():
            bad = sorted(set(frame.loc[partial, "corruption"]))
            raise ValueError(f"AlexNet's published errors are means over all {N_SEVERITIES} "
                             f"severities; corruptions {bad} lack some severities. Use "
                             f"reference='population' or give all five.")
        denom = N_SEVERITIES * ref_mean
        rel_denom = N_SEVERITIES * (ref_mean - ref_clean)
    elif reference == "population":
        if reference_errors is None:
            raise ValueError("reference='population' needs `reference_errors` (the dense "
                             "population's corruption errors).")
        ref = reference_errors.groupby(["corruption", "severity"])["error"].mean()
        ref_clean = reference_clean_error
        if ref_clean is None:
            raise ValueError("reference='population' needs `reference_clean_error`.")
        mine = errors.groupby(["corruption", "severity"]).size().index
        missing = mine.difference(ref.index)
        if len(missing):
            raise ValueError(f"The reference population has no errors for {list(missing)[:5]}.")
        # Sum the reference over the severities this population was evaluated on.
        ref_sum = ref.groupby(level="corruption").sum()
        ref_n = ref.groupby(level="corruption").size()
        per_c = errors.groupby("corruption")["severity"].nunique()
        if not (per_c == ref_n.reindex(per_c.index)).all():
            raise ValueError("The population and the reference were evaluated on different "
                             "severities of some corruption.")
        denom = frame["corruption"].map(ref_sum).to_numpy(dtype=np.float64)
        rel_denom = denom - n_sev * ref_clean
    else:
        raise ValueError(f"`reference` must be 'alexnet' or 'population'; got {reference!r}.")
    # Errors are means over examples: a corruption that changes no prediction leaves sums that
    # differ from n_sev * clean only by round-off (~1e-16), which must not become a ratio.
    numerator = frame["error_sum"].to_numpy() - n_sev * clean
    numerator[np.abs(numerator) < _ROUND_OFF] = 0.0
    rel_denom = np.where(np.abs(rel_denom) < _ROUND_OFF, 0.0, rel_denom)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["ce"] = frame["error_sum"] / denom
        frame["relative_ce"] = np.where(rel_denom == 0, np.nan, numerator / rel_denom)
    frame["error"] = frame["error_sum"] / n_sev
    status = np.full(len(frame), STATUS_OK, dtype=object)
    status[rel_denom == 0] = STATUS_REFERENCE_UNCHANGED
    status[np.isnan(denom)] = STATUS_NO_REFERENCE
    frame["status"] = status
    by_corruption = frame[["corruption", "member", "n_severities", "error", "ce",
                           "relative_ce", "status"]]
    grouped = by_corruption.groupby("member")
    by_member = pd.DataFrame({
        "clean_error": clean_error,
        "mce": grouped["ce"].mean().reindex(range(clean_error.size)).to_numpy(),
        "relative_mce": grouped["relative_ce"].mean().reindex(range(clean_error.size)).to_numpy(),
        "n_corruptions": grouped["ce"].count().reindex(range(clean_error.size)).to_numpy(),
    })
    by_member.insert(0, "member", np.arange(clean_error.size))
    return by_corruption, by_member


def _check_subset(labels, class_indices, n_examples, n_classes):
    class_indices = np.asarray(class_indices)
    labels = np.asarray(labels)
    if class_indices.ndim != 1 or not np.issubdtype(class_indices.dtype, np.integer) \
            or class_indices.size == 0 or len(np.unique(class_indices)) != class_indices.size:
        raise ValueError("`imagenet_a_classes` must be a 1-D array of distinct class indices.")
    if class_indices.min() < 0 or (n_classes is not None and class_indices.max() >= n_classes):
        raise ValueError(f"`imagenet_a_classes` must be in [0, {n_classes}).")
    if labels.shape != (n_examples,):
        raise ValueError(f"`imagenet_a_labels` must have shape ({n_examples},); got "
                         f"{labels.shape}.")
    outside = ~np.isin(labels, class_indices)
    if outside.any():
        raise ValueError(f"`imagenet_a_labels` has {int(outside.sum())} labels outside "
                         f"`imagenet_a_classes` (e.g. {labels[outside][0]}).")
    return labels, class_indices


def _per_member(values, argname, axes):
    """``values`` as an array of the named ``axes``, the first being members: one member's array
    (without that axis) gets it; any other shape is an error naming ``argname``."""
    values = np.asarray(values)
    if values.ndim == len(axes) - 1:
        values = values[None]
    if values.ndim != len(axes):
        raise InvalidArgumentError(f"`{argname}` must have shape ({', '.join(axes)}); got "
                                   f"{values.shape}.")
    return values


def imagenet_a_accuracy(scores, labels, class_indices):
    """Top-1 accuracy on ImageNet-A with the 1000-way scores restricted to its 200 classes.

    Parameters
    ----------
    scores : ndarray of shape (n_members, n_examples, n_classes) (logits or probabilities)
    labels : ndarray of int, shape (n_examples,), in the full class space (as tfds gives them)
    class_indices : ndarray of int, shape (n_subset,)
        The classes of the subset in the full space (ImageNet-A: 200; the data layer
        provides them).

    Returns
    -------
    ndarray of float64, shape (n_members,)
    """
    scores = _per_member(scores, "imagenet_a_scores", ("n_members", "n_examples", "n_classes"))
    if not np.all(np.isfinite(scores)):
        raise ValueError("`imagenet_a_scores` holds NaN or infinite values.")
    labels, class_indices = _check_subset(labels, class_indices, scores.shape[1],
                                          scores.shape[-1])
    predicted = class_indices[scores[:, :, class_indices].argmax(axis=-1)]
    return (predicted == labels[None, :]).mean(axis=1)


def restricted_accuracy(predictions, labels, class_indices):
    """Accuracy of labels already restricted to a class subset (the store's
    ``restricted_labels``), checking that they are.

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples), in the full class space
    labels : ndarray of int, shape (n_examples,)
    class_indices : ndarray of int, shape (n_subset,)

    Returns
    -------
    ndarray of float64, shape (n_members,)
    """
    predictions = _per_member(predictions, "imagenet_a_predictions", ("n_members", "n_examples"))
    labels, class_indices = _check_subset(labels, class_indices, predictions.shape[1], None)
    if not np.all(np.isin(predictions, class_indices)):
        raise ValueError("`imagenet_a_predictions` holds labels outside `imagenet_a_classes`: "
                         "restrict the argmax to the subset first (or pass the scores).")
    return (predictions == labels[None, :]).mean(axis=1)
