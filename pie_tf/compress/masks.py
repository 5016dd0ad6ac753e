"""tfmot's magnitude masks without sorting whole tensors: :class:`SelectingPruning`.

tfmot's ``pruning_impl.Pruning._update_mask`` finds a tensor's threshold by sorting all its
magnitudes (``tf.math.top_k`` with ``k`` = the tensor's size) and reading one entry: the k-th
largest magnitude and its position, ``k = max(round(size * (1 - sparsity)), 1)``. The mask is
``|w| >= threshold`` or'ed with a one-hot of that position. On ResNet-50 those sorts are almost
all of a mask update (about 98%: 23.5 M magnitudes in 54 tensors, roughly 0.45 s for the largest
alone on a 2-core CPU).

:class:`SelectingPruning` is tfmot's ``Pruning`` with the same two numbers read from the same op
on a small slice of the tensor. A seeded random sample of the magnitudes gives a bracket
``[lo, hi]`` that holds the k-th largest with overwhelming probability; the entries in the
bracket (in index order) go through ``tf.math.top_k``, and the k-th largest overall is their
``(k - #{|w| > hi})``-th largest. Whether the bracket holds it is checked exactly (by counting,
``#{|w| > hi} < k <= #{|w| >= lo}``); when it does not (or a magnitude is NaN), tfmot's full
sort runs instead, in a ``tf.cond``. Either way the threshold, its position and therefore the
mask are tfmot's exactly, ties included: ``top_k`` orders equal values by index, the bracket
keeps index order, and every entry above the bracket comes before it in the sorted order. The
schedule, ``k``'s rounding, the mask formula, block pooling and m-by-n masks are tfmot's code,
unchanged. Tensors with fewer than :data:`MIN_SIZE` entries use tfmot's sort as it is.
"""
from __future__ import annotations

from pie_tf._keras import tf

from pie_tf._tfmot import pruning_impl  # tfmot without changing the user's Keras

__all__ = ["MIN_SIZE", "SAMPLE_SIZE", "SelectingPruning", "kth_largest"]

# Magnitudes sampled to bracket the threshold, and the bracket's half-width in standard
# deviations of the k-th largest's rank in the sample (a binomial), plus a few ranks.
SAMPLE_SIZE = 32768
SIGMAS = 6.0
EXTRA_RANKS = 16
# Tensors smaller than this are sorted whole, as tfmot does: it is cheap for them.
MIN_SIZE = 2 * SAMPLE_SIZE


def _full_sort(values, k):
    """tfmot's own: the (k-1)-th entry of ``top_k(values, size)`` (value, index)."""
    top, index = tf.math.top_k(values, k=tf.size(values))
    return tf.gather(top, k - 1), tf.gather(index, k - 1)


def kth_largest(values, k, *, sample_size=SAMPLE_SIZE, sigmas=SIGMAS, extra_ranks=EXTRA_RANKS):
    """The k-th largest entry of 1-D ``values`` and its index, ties ordered by index.

    Equal, always, to ``top_k(values, size(values))`` read at position ``k - 1`` (tfmot's
    threshold and its position); ``1 <= k <= size`` (an int32 scalar tensor or int).

    ``sample_size`` magnitudes are sampled; the bracket spans ``sigmas`` standard deviations of
    the k-th largest's rank in the sample, plus ``extra_ranks``, on either side.

    Returns
    -------
    value, index, selected : tf.Tensor
        ``selected`` is True when the bracket held the k-th largest (the fast path ran), False
        when the whole tensor was sorted.
    """
    values = tf.convert_to_tensor(values)
    k = tf.cast(k, tf.int32)
    n = tf.size(values)
    sample_at = tf.random.stateless_uniform([sample_size], seed=[20181, 1], minval=0,
                                            maxval=tf.cast(n, tf.int64), dtype=tf.int64)
    sample = tf.math.top_k(tf.gather(values, sample_at), k=sample_size).values   # descending
    # Where the k-th largest of all falls in the sorted sample, and how far it may stray.
    q = tf.cast(k, tf.float64) / tf.cast(n, tf.float64)
    rank = q * sample_size - 1.0
    spread = sigmas * tf.sqrt(sample_size * q * (1.0 - q)) + extra_ranks
    hi_rank = tf.cast(tf.floor(rank - spread), tf.int32)
    lo_rank = tf.cast(tf.math.ceil(rank + spread), tf.int32)
    inf = tf.constant(float("inf"), values.dtype)
    hi = tf.where(hi_rank >= 0, tf.gather(sample, tf.maximum(hi_rank, 0)), inf)
    lo = tf.where(lo_rank < sample_size, tf.gather(sample, tf.minimum(lo_rank, sample_size - 1)),
                  -inf)
    above = tf.reduce_sum(tf.cast(values > hi, tf.int32))
    inside = tf.where(tf.logical_and(values >= lo, values <= hi))[:, 0]       # index order
    selected = tf.logical_and(above < k, k <= above + tf.size(inside))
    selected = tf.logical_and(selected, tf.logical_not(tf.reduce_any(tf.math.is_nan(values))))

    def from_bracket():
        candidates = tf.gather(values, inside)
        top, at = tf.math.top_k(candidates, k=k - above)
        return top[-1], tf.cast(tf.gather(inside, at[-1]), tf.int32)

    value, index = tf.cond(selected, from_bracket, lambda: _full_sort(values, k))
    return value, index, selected


class SelectingPruning(pruning_impl.Pruning):
    """tfmot's ``pruning_impl.Pruning`` whose threshold comes from :func:`kth_largest`.

    Same constructor, same masks and thresholds (see the module docstring); only a tensor's
    full sort is replaced, for tensors of at least :data:`MIN_SIZE` entries.
    """

    def _update_mask(self, weights):
        size = weights.shape.num_elements()
        if size is None or size < MIN_SIZE:
            return super()._update_mask(weights)
        # tfmot 0.8's _update_mask, with top_k(abs_weights, size)[k - 1] from kth_largest.
        sparsity = self._pruning_schedule(self._step_fn())[1]
        with tf.name_scope("pruning_ops"):
            abs_weights = tf.math.abs(weights)
            k = tf.dtypes.cast(
                tf.math.maximum(
                    tf.math.round(
                        tf.dtypes.cast(tf.size(abs_weights), tf.float32) * (1 - sparsity)),
                    1),
                tf.int32)
            threshold_value, threshold_pos, _ = kth_largest(tf.reshape(abs_weights, [-1]), k)
            new_mask = tf.math.logical_or(
                tf.math.greater_equal(abs_weights, threshold_value),
                tf.reshape(
                    tf.one_hot(threshold_pos, depth=tf.size(abs_weights), on_value=True,
                               off_value=False, dtype=tf.bool),
                    abs_weights.shape))
        return (tf.dtypes.cast(threshold_value, weights.dtype),
                tf.dtypes.cast(new_mask, weights.dtype))
