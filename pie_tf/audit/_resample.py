"""The bootstrap's shared pieces: its options' checks and the resample as draw counts."""
from __future__ import annotations

import numpy as np

from pie_tf.errors import InvalidArgumentError

__all__ = ["check_bootstrap", "draw_counts"]


def check_bootstrap(n_bootstrap, confidence):
    """``n_bootstrap`` a non-negative int (0: no interval), ``confidence`` in (0, 1)."""
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, (int, np.integer)) \
            or n_bootstrap < 0:
        raise InvalidArgumentError(f"`n_bootstrap` must be a non-negative integer; got "
                                   f"{n_bootstrap!r}.")
    if not 0 < confidence < 1:
        raise InvalidArgumentError(f"`confidence` must be in (0, 1); got {confidence!r}.")


def draw_counts(rng, n_items, n_bootstrap):
    """How often each of ``n_items`` is drawn in each of ``n_bootstrap`` resamples.

    Each resample draws ``n_items`` indices uniformly with replacement (``rng.integers``) and
    counts them, so every statistic becomes a weighted sum instead of an indexing of the data.
    (A multinomial draw of the counts has the same law but numpy draws it category by category,
    about 50x slower for 20,000 examples.)

    Returns
    -------
    ndarray of float64, shape (n_bootstrap, n_items), each row summing to ``n_items``.
    """
    draws = rng.integers(0, n_items, size=(n_bootstrap, n_items))
    offsets = (np.arange(n_bootstrap) * n_items)[:, None]
    return np.bincount((draws + offsets).ravel(), minlength=n_bootstrap * n_items) \
        .reshape(n_bootstrap, n_items).astype(np.float64)
