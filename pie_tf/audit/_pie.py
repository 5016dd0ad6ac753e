"""Modal labels and Pruning / Compression Identified Exemplars (PIE / CIE).

Hooker et al. (arXiv 1911.05248) call an example a PIE when the modal (most frequent) top-1
label of a population of independently trained pruned models differs from the modal label of a
population of dense models; Hooker et al. (arXiv 2010.03058) call the same thing a CIE for any
compression. Both are computed here from predicted labels alone.

Tie rule. A mode can be shared by several labels when members disagree evenly. The public
reference code takes ``pandas.DataFrame.mode`` and keeps the last entry, so ties break to the
HIGHEST label. Our default is ``tie_break="lowest"`` (the convention of ``scipy.stats.mode`` and of
``numpy.argmax``, so the vote and the mean-probability variants agree on the same rule);
``tie_break="highest"`` reproduces the paper's code exactly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from pie_tf.audit._validation import check_tie_break

__all__ = ["modal_labels", "mean_probability_labels", "agreement_share", "pie_mask",
           "pie_table", "pie_summary", "population_accuracy"]

# Columns of pie_table that attribute names may not take.
PIE_COLUMNS = ("id", "label", "dense_mode", "compressed_mode", "dense_agreement",
               "compressed_agreement", "cie", "dense_mode_correct", "compressed_mode_correct")


def modal_labels(predictions, *, tie_break="lowest", return_counts=False):
    """Per-example modal label across the members of a population.

    Vectorised by sorting each example's votes (``n_members`` small integers) and finding the
    longest run; there is no Python loop over examples or classes, and memory stays
    O(n_members x n_examples) whatever the number of classes.

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
        Top-1 labels, one row per member (validated by the caller; use int16 for speed).
    tie_break : {"lowest", "highest"}
        Which label wins when several share the highest count. The paper's code (pandas mode,
        last entry) breaks to ``"highest"``; our default is ``"lowest"`` (scipy.stats.mode).
    return_counts : bool
        Also return how many members voted the mode.

    Returns
    -------
    modes : ndarray of shape (n_examples,), the dtype of ``predictions``
    counts : ndarray of int, shape (n_examples,), only if ``return_counts``
    """
    check_tie_break(tie_break)
    votes = np.sort(np.asarray(predictions).T, axis=1)  # (n_examples, n_members), C-contiguous
    n_examples, n_members = votes.shape
    position = np.arange(n_members, dtype=np.int32)
    new_run = np.empty(votes.shape, dtype=bool)
    new_run[:, 0] = True
    np.not_equal(votes[:, 1:], votes[:, :-1], out=new_run[:, 1:])
    # Index where each position's run began; run length so far = position - start + 1.
    run_start = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
    run_length = position - run_start  # + 1 omitted: a constant shift leaves the argmax alone
    if tie_break == "lowest":
        # Sorted ascending, so the first longest run belongs to the lowest tied label.
        end = np.argmax(run_length, axis=1)
    else:
        end = n_members - 1 - np.argmax(run_length[:, ::-1], axis=1)
    rows = np.arange(n_examples)
    modes = votes[rows, end]
    if return_counts:
        return modes, run_length[rows, end] + 1
    return modes


def mean_probability_labels(probabilities, *, tie_break="lowest"):
    """Per-example label of the population's mean class distribution (the soft-vote variant).

    Parameters
    ----------
    probabilities : ndarray of shape (n_members, n_examples, n_classes)
    tie_break : {"lowest", "highest"}
        Exact ties of the mean probability (rare except for identical members).

    Returns
    -------
    ndarray of int, shape (n_examples,)
    """
    check_tie_break(tie_break)
    mean = np.asarray(probabilities).mean(axis=0)
    if tie_break == "lowest":
        return mean.argmax(axis=-1)
    return mean.shape[-1] - 1 - mean[:, ::-1].argmax(axis=-1)


def agreement_share(predictions, reference):
    """Fraction of members whose label equals ``reference``, per example.

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
    reference : ndarray of int, shape (n_examples,)

    Returns
    -------
    ndarray of float64, shape (n_examples,) in [0, 1].
    """
    return (np.asarray(predictions) == np.asarray(reference)[None, :]).mean(axis=0)


def pie_mask(dense_modes, compressed_modes):
    """True where the compressed population's modal label differs from the dense one's.

    Parameters
    ----------
    dense_modes, compressed_modes : ndarray of int, shape (n_examples,)
        From :func:`modal_labels` or :func:`mean_probability_labels`.

    Returns
    -------
    ndarray of bool, shape (n_examples,)
    """
    dense_modes, compressed_modes = np.asarray(dense_modes), np.asarray(compressed_modes)
    if dense_modes.shape != compressed_modes.shape or dense_modes.ndim != 1:
        raise ValueError(f"`dense_modes` {dense_modes.shape} and `compressed_modes` "
                         f"{compressed_modes.shape} must be 1-D of the same length.")
    return dense_modes != compressed_modes


def pie_table(dense_predictions, compressed_predictions, labels, *, ids=None, attributes=None,
              dense_modes=None, compressed_modes=None, tie_break="lowest"):
    """One row per example: labels, modes, agreement shares, PIE flag and attributes.

    Parameters
    ----------
    dense_predictions, compressed_predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    ids : array_like of shape (n_examples,), optional (default ``0 .. n_examples - 1``)
    attributes : pandas.DataFrame of bool, shape (n_examples, n_attributes), optional
    dense_modes, compressed_modes : ndarray of int, shape (n_examples,), optional
        Precomputed modes (e.g. the mean-probability variant); voted with ``tie_break`` if absent.

    Returns
    -------
    pandas.DataFrame with columns ``id, label, dense_mode, compressed_mode, dense_agreement,
    compressed_agreement, cie, dense_mode_correct, compressed_mode_correct`` followed by one
    boolean column per attribute. ``*_agreement`` is the fraction of that population's members
    whose top-1 label equals the population's modal label.
    """
    if dense_modes is None:
        dense_modes = modal_labels(dense_predictions, tie_break=tie_break)
    if compressed_modes is None:
        compressed_modes = modal_labels(compressed_predictions, tie_break=tie_break)
    n_examples = len(labels)
    table = pd.DataFrame({
        "id": np.arange(n_examples) if ids is None else ids,
        "label": labels,
        "dense_mode": dense_modes,
        "compressed_mode": compressed_modes,
        "dense_agreement": agreement_share(dense_predictions, dense_modes),
        "compressed_agreement": agreement_share(compressed_predictions, compressed_modes),
        "cie": pie_mask(dense_modes, compressed_modes),
        "dense_mode_correct": dense_modes == labels,
        "compressed_mode_correct": compressed_modes == labels,
    })
    if attributes is not None and len(attributes.columns):
        clash = sorted(set(attributes.columns) & set(PIE_COLUMNS))
        if clash:
            raise ValueError(f"`attributes` names {clash} clash with pie table columns "
                             f"{PIE_COLUMNS}; rename them.")
        table = pd.concat([table, attributes.reset_index(drop=True)], axis=1)
    return table


def population_accuracy(predictions, labels, mask=None):
    """Top-1 accuracy of every member, optionally on a subset of examples.

    Parameters
    ----------
    predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    mask : ndarray of bool, shape (n_examples,), optional

    Returns
    -------
    ndarray of float64, shape (n_members,); NaN for every member when ``mask`` selects nothing.
    """
    correct = np.asarray(predictions) == np.asarray(labels)[None, :]
    if mask is not None:
        if not np.any(mask):
            return np.full(correct.shape[0], np.nan)
        correct = correct[:, mask]
    return correct.mean(axis=1)


def pie_summary(dense_predictions, compressed_predictions, labels, pie):
    """How many examples are PIEs and how each population fares on them.

    Parameters
    ----------
    dense_predictions, compressed_predictions : ndarray of int, shape (n_members, n_examples)
    labels : ndarray of int, shape (n_examples,)
    pie : ndarray of bool, shape (n_examples,)

    Returns
    -------
    dict with ``n_examples, n_cie, cie_fraction`` and, for ``pop`` in {dense, compressed} and
    ``subset`` in {all, cie, non_cie}: ``{pop}_accuracy_{subset}`` (mean over members of each
    member's top-1 accuracy on the subset) and ``{pop}_accuracy_{subset}_std`` (sample standard
    deviation over members, ddof=1; NaN for a one-member population). Accuracies on an empty
    subset are NaN (``n_cie`` says why).
    """
    row = {"n_examples": int(pie.size), "n_cie": int(pie.sum()),
           "cie_fraction": float(pie.mean())}
    for pop, preds in (("dense", dense_predictions), ("compressed", compressed_predictions)):
        for subset, mask in (("all", None), ("cie", pie), ("non_cie", ~pie)):
            acc = population_accuracy(preds, labels, mask)
            row[f"{pop}_accuracy_{subset}"] = float(acc.mean())
            row[f"{pop}_accuracy_{subset}_std"] = float(acc.std(ddof=1)) if acc.size > 1 \
                else np.nan
    return row
