"""A graded exemplar score: how far compression moved each example's population answer.

A CIE is a yes/no verdict (the modal labels differ). To show the most changed examples first,
Hooker et al. (2020) grade exemplars by a distance between the two populations' mean probability
vectors. Our sources do not pin down which distance; we take the total-variation distance

    score_i = 1/2 * sum_k |mean_dense_ik - mean_compressed_ik|,

in [0, 1]: 0 when the two mean distributions coincide, 1 when they put their mass on disjoint
classes. It is half the L1 distance; for two classes it is the change of the mean probability of
either class.

Without probabilities for both populations, the vote shares stand in for the mean distributions
(``mean_k = share of members voting k``), so the score is also defined for label-only
populations; the ``score_basis`` column says which was used. A CIE always has a vote-share score
above 0, but an example can score high and not be a CIE (both modes kept, the confidence
moved): the score ranks, the CIE mask decides.
"""
from __future__ import annotations

import numpy as np

__all__ = ["exemplar_score", "vote_shares", "vote_share_distance"]


def vote_shares(predictions, n_classes):
    """Share of members voting each class, shape (n_examples, n_classes)."""
    predictions = np.asarray(predictions)
    n_members, n_examples = predictions.shape
    shares = np.zeros((n_examples, n_classes))
    rows = np.broadcast_to(np.arange(n_examples), predictions.shape)
    np.add.at(shares, (rows.ravel(), predictions.astype(np.int64).ravel()), 1.0 / n_members)
    return shares


def exemplar_score(dense_distribution, compressed_distribution):
    """Total-variation distance between two per-example class distributions.

    Parameters
    ----------
    dense_distribution, compressed_distribution : ndarray of shape (n_examples, n_classes)
        Mean probabilities (or vote shares) of each population.

    Returns
    -------
    ndarray of float64, shape (n_examples,), in [0, 1].
    """
    d = np.asarray(dense_distribution, dtype=np.float64)
    c = np.asarray(compressed_distribution, dtype=np.float64)
    return np.clip(0.5 * np.abs(d - c).sum(axis=-1), 0.0, 1.0)


def vote_share_distance(dense_predictions, compressed_predictions, n_classes, *, chunk=4096):
    """:func:`exemplar_score` of the two populations' vote shares, a chunk of examples at a time
    (memory O(chunk x n_classes), not O(n_examples x n_classes)).

    Parameters
    ----------
    dense_predictions, compressed_predictions : ndarray of int, shape (n_members, n_examples)
    n_classes : int

    Returns
    -------
    ndarray of float64, shape (n_examples,), in [0, 1].
    """
    dense_predictions = np.asarray(dense_predictions)
    compressed_predictions = np.asarray(compressed_predictions)
    n_examples = dense_predictions.shape[1]
    out = np.empty(n_examples)
    for start in range(0, n_examples, chunk):
        part = slice(start, start + chunk)
        out[part] = exemplar_score(vote_shares(dense_predictions[:, part], n_classes),
                                   vote_shares(compressed_predictions[:, part], n_classes))
    return out
