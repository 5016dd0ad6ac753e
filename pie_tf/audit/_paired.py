"""Paired tests: did compression change the answers on *these* examples, per group and class?

The paper's class test (Welch over members, :func:`pie_tf.audit.class_impact`) compares the
spread of per-member recalls; it ignores that both populations answered the same examples. The
exact McNemar test uses exactly that pairing, on the populations' modal labels: of the examples
where the two disagree in correctness,

- ``b`` = dense modal label right, compressed wrong (negative flips),
- ``c`` = dense wrong, compressed right (positive flips),

under the null hypothesis "compression is as likely to fix an example as to break it" ``b`` is
Binomial(b + c, 1/2), and the two-sided exact p-value is ``min(1, 2 * P[X <= min(b, c)])``
(McNemar 1947, exact form; the same as ``scipy.stats.binomtest(b, b + c).pvalue`` and as
modeljoust's sign test). Examples both get right or both get wrong carry no information. With no
discordant example the test is undefined (NaN, status says so) and left out of the correction.

Family and correction: one comparison (dense against one variant, or a Keras model against its
TFLite export) is one family: every protected group, every intersection, "all" and every class.
Benjamini-Hochberg q-values (``scipy.stats.false_discovery_control``) are taken over the tests of
that family that are defined. The group tests overlap (an example is in "Male" and in "all"), so
they are positively dependent; BH controls the FDR under that kind of dependence (Benjamini &
Yekutieli 2001, PRDS).

What the test cannot tell: it is conditional on the modal labels, so it says nothing about the
members' spread (a variant whose members disagree more but vote the same mode passes), and
with few discordant examples it has little power.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from pie_tf.audit._flips import flip_table
from pie_tf.errors import InvalidArgumentError

__all__ = ["mcnemar_exact", "paired_tests"]

STATUS_NO_DISCORDANT = "no discordant examples: McNemar test undefined"


def mcnemar_exact(b, c):
    """Two-sided exact McNemar p-values for discordant counts ``b`` and ``c`` (vectorised).

    Parameters
    ----------
    b, c : array_like of int, same shape

    Returns
    -------
    ndarray of float64: ``min(1, 2 * binom.cdf(min(b, c), b + c, 0.5))``; NaN where ``b + c`` is 0.
    """
    b, c = np.asarray(b, dtype=np.int64), np.asarray(c, dtype=np.int64)
    n = b + c
    p = np.minimum(1.0, 2.0 * stats.binom.cdf(np.minimum(b, c), n, 0.5))
    return np.where(n > 0, p, np.nan)


def paired_tests(dense_modes, compressed_modes, labels, group_names, group_masks, *,
                 group_orders=None, n_classes=None, class_names=None, alpha=0.05):
    """Exact McNemar test per group and per class, with BH q-values over the family.

    Parameters
    ----------
    dense_modes, compressed_modes : ndarray of int, shape (n_examples,)
        Modal labels of the reference population (dense, or the Keras source of an export) and
        of the compared one.
    labels, group_names, group_masks, group_orders, n_classes, class_names :
        As :func:`pie_tf.audit._flips.flip_table` (an ``"all"`` group is added first).
    alpha : float in (0, 1): threshold of ``significant`` (p) and ``significant_fdr`` (q)

    Returns
    -------
    pandas.DataFrame, one row per group then per class: ``kind, group, order, class,
    n_examples, b`` (negative flips), ``c`` (positive flips), ``n_discordant, p_value, q_value,
    significant, significant_fdr, status``.
    """
    if not 0 < alpha < 1:
        raise InvalidArgumentError(f"`alpha` must be in (0, 1); got {alpha!r}.")
    flips = flip_table(dense_modes, compressed_modes, labels, group_names, group_masks,
                       group_orders=group_orders, n_classes=n_classes, class_names=class_names)
    table = flips[["kind", "group", "order", "class", "n_examples"]].copy()
    table["b"] = flips["n_negative_flips"].to_numpy()
    table["c"] = flips["n_positive_flips"].to_numpy()
    table["n_discordant"] = table["b"] + table["c"]
    p = mcnemar_exact(table["b"], table["c"])
    q = np.full(p.shape, np.nan)
    tested = ~np.isnan(p)
    if tested.any():
        q[tested] = stats.false_discovery_control(p[tested], method="bh")
    table["p_value"] = p
    table["q_value"] = q
    table["significant"] = p <= alpha
    table["significant_fdr"] = q <= alpha
    table["status"] = np.where(table["n_examples"] == 0, "empty: no examples",
                               np.where(tested, "tested", STATUS_NO_DISCORDANT))
    return table
