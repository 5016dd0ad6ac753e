"""Forecast, from the dense population alone, which examples and groups compression will hurt.

Iofinova, Peste and Alistarh (*Bias in Pruned Vision Models*, CVPR 2023) find that the examples a
pruned model gets wrong, and the groups they belong to, can be predicted from the uncompressed
model: from its uncertainty and from how much its independently trained members disagree. This
module turns that into scores a user can compute *before* training any compressed model, and,
once compressed populations exist, measures how well each score foresaw their CIEs.

Risk scores, per example, from the dense population only (``n_members`` members, ``K`` classes):

- ``vote_margin``: (votes of the modal label - votes of the runner-up label) / n_members, in
  [0, 1]; 1 when the members are unanimous. Low margin = at risk.
- ``disagreement``: fraction of members whose top-1 label is not the modal label, in
  [0, 1 - 1/K]. High = at risk. For two classes ``vote_margin = 1 - 2 * disagreement``, so the two
  rank examples identically there.
- ``probability_margin``: top-1 minus top-2 of the members' mean class distribution, in [0, 1].
  Low = at risk. Needs probabilities.
- ``entropy``: Shannon entropy of the mean distribution in bits, divided by ``log2(K)`` so it lies
  in [0, 1]. High = at risk. Needs probabilities.
- ``mutual_information``: entropy of the mean distribution minus the members' mean entropy (bits,
  the same normalisation): the part of the uncertainty that comes from members disagreeing in
  their distributions (Houlsby et al.'s BALD term). High = at risk. Needs probabilities.

Iofinova et al. use one dense model's sigmoid output (an "uncertain" share |p - 0.5| < 0.4); with
a population we can use the spread over members as well. Scores that need probabilities are NaN,
with a status, when the dense population has none.

Forecast quality for a variant treats its CIE mask as the outcome: AUROC (the probability that a
random CIE has a higher risk than a random non-CIE, ties counting one half: the Mann-Whitney U
statistic divided by n_cie * n_other) and average precision (scikit-learn's definition: the mean,
over CIEs, of the precision at the threshold that first includes them, all examples with the same
score entering together). Their intervals are percentile bootstraps over examples.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from pie_tf.audit._resample import check_bootstrap, draw_counts
from pie_tf.errors import InvalidArgumentError

__all__ = ["RISK_SCORES", "risk_scores", "forecast_quality", "forecast_groups",
           "dense_forecast", "DenseForecast", "auroc", "average_precision"]

# Score name -> +1 when a higher value means more at risk, -1 when a lower one does.
RISK_SCORES = {"vote_margin": -1, "disagreement": +1, "probability_margin": -1,
               "entropy": +1, "mutual_information": +1}
_PROBABILITY_SCORES = ("probability_margin", "entropy", "mutual_information")
STATUS_OK = "ok"
STATUS_NO_PROBABILITIES = "no dense probabilities: score undefined"
STATUS_NO_CIE = "no CIEs: forecast quality undefined"
STATUS_ALL_CIE = "every example is a CIE: forecast quality undefined"


def _vote_counts_top2(predictions):
    """Votes of the most and second most voted label per example, without a class axis."""
    votes = np.sort(np.asarray(predictions).T, axis=1)  # (n_examples, n_members)
    n_examples, n_members = votes.shape
    position = np.arange(n_members)
    new_run = np.ones(votes.shape, dtype=bool)
    np.not_equal(votes[:, 1:], votes[:, :-1], out=new_run[:, 1:])
    run_start = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
    run_end = np.ones(votes.shape, dtype=bool)
    run_end[:, :-1] = new_run[:, 1:]
    lengths = np.where(run_end, position - run_start + 1, 0)
    if n_members == 1:
        return lengths[:, 0], np.zeros(n_examples, dtype=lengths.dtype)
    top2 = -np.partition(-lengths, 1, axis=1)[:, :2]
    return top2[:, 0], top2[:, 1]


def _entropy_bits(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, -p * np.log2(np.where(p > 0, p, 1.0)), 0.0)
    return terms.sum(axis=-1)


def risk_scores(dense_predictions, dense_probabilities=None, *, ids=None):
    """Per-example risk scores of a dense population (see the module docstring).

    Parameters
    ----------
    dense_predictions : ndarray of int, shape (n_members, n_examples)
        Top-1 labels of the dense population (validated by the caller).
    dense_probabilities : ndarray of shape (n_members, n_examples, n_classes), optional
        Class distributions (rows summing to one). Without them the probability scores are NaN.
    ids : array_like of shape (n_examples,), optional

    Returns
    -------
    pandas.DataFrame, one row per example: ``id, vote_margin, disagreement, probability_margin,
    entropy, mutual_information``. ``DataFrame.attrs["status"]`` maps each score to ``"ok"`` or
    why it is NaN.
    """
    predictions = np.asarray(dense_predictions)
    n_members, n_examples = predictions.shape
    first, second = _vote_counts_top2(predictions)
    table = pd.DataFrame({
        "id": np.arange(n_examples) if ids is None else np.asarray(ids),
        "vote_margin": (first - second) / n_members,
        "disagreement": 1.0 - first / n_members,
    })
    status = {"vote_margin": STATUS_OK, "disagreement": STATUS_OK}
    if dense_probabilities is None:
        for name in _PROBABILITY_SCORES:
            table[name] = np.nan
            status[name] = STATUS_NO_PROBABILITIES
    else:
        probs = np.asarray(dense_probabilities, dtype=np.float64)
        n_classes = probs.shape[-1]
        mean = probs.mean(axis=0)
        if n_classes > 1:
            top2 = -np.partition(-mean, 1, axis=-1)[:, :2]
            margin = top2[:, 0] - top2[:, 1]
        else:
            margin = np.ones(n_examples)
        scale = np.log2(n_classes) if n_classes > 1 else 1.0
        total = _entropy_bits(mean)
        # Member by member keeps memory at one (n_examples, n_classes) array.
        member_mean = np.zeros(n_examples)
        for member in probs:
            member_mean += _entropy_bits(member) / n_members
        table["probability_margin"] = margin
        table["entropy"] = total / scale
        # Clip float round-off: the mutual information is non-negative by Jensen's inequality.
        table["mutual_information"] = np.maximum(total - member_mean, 0.0) / scale
        status.update({name: STATUS_OK for name in _PROBABILITY_SCORES})
    table.attrs["status"] = status
    return table


# --------------------------------------------------------------------------- ranking metrics
def _tied_weights(risk, outcome, weights):
    """Sum the weights of positives and negatives of each distinct score, lowest score first.

    ``weights`` has shape (n_replicates, n_examples); returns two (n_replicates, n_distinct).
    One ``bincount`` over (replicate, distinct score) pairs: memory O(n_replicates x n_examples).
    """
    _, inverse = np.unique(risk, return_inverse=True)
    n_distinct = int(inverse.max()) + 1
    n_rep = weights.shape[0]
    index = (np.arange(n_rep)[:, None] * n_distinct + inverse[None, :]).ravel()
    size = n_rep * n_distinct
    pos = np.bincount(index, weights=(weights * outcome[None, :]).ravel(), minlength=size)
    neg = np.bincount(index, weights=(weights * ~outcome[None, :]).ravel(), minlength=size)
    return pos.reshape(n_rep, n_distinct), neg.reshape(n_rep, n_distinct)


def _auroc_from_tied(pos, neg):
    n_pos, n_neg = pos.sum(axis=-1), neg.sum(axis=-1)
    below = np.cumsum(neg, axis=-1) - neg  # negatives strictly below each distinct score
    with np.errstate(invalid="ignore", divide="ignore"):
        return (pos * (below + 0.5 * neg)).sum(axis=-1) / (n_pos * n_neg)


def _average_precision_from_tied(pos, neg):
    # Highest score first: precision at each distinct threshold, weighted by the recall it adds.
    pos, neg = pos[..., ::-1], neg[..., ::-1]
    tp, fp = np.cumsum(pos, axis=-1), np.cumsum(neg, axis=-1)
    n_pos = pos.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / np.maximum(tp + fp, 1e-300), 0.0)
        return (precision * pos).sum(axis=-1) / n_pos


def _check_outcome(risk, outcome):
    risk = np.asarray(risk, dtype=np.float64)
    outcome = np.asarray(outcome)
    if outcome.dtype != bool:
        raise InvalidArgumentError(f"`outcome` must be boolean; got dtype {outcome.dtype}.")
    if risk.ndim != 1 or risk.shape != outcome.shape:
        raise InvalidArgumentError(f"`risk` {risk.shape} and `outcome` {outcome.shape} must be "
                                   f"1-D of the same length.")
    if not np.all(np.isfinite(risk)):
        raise InvalidArgumentError("`risk` holds NaN or infinite values.")
    return risk, outcome


def auroc(risk, outcome):
    """Area under the ROC curve of ``risk`` for the boolean ``outcome`` (ties count 1/2).

    Equals ``U / (n_pos * n_neg)`` with U the Mann-Whitney statistic of the positives; NaN when
    either class is empty.
    """
    risk, outcome = _check_outcome(risk, outcome)
    pos, neg = _tied_weights(risk, outcome, np.ones((1, risk.size)))
    return float(_auroc_from_tied(pos, neg)[0])


def average_precision(risk, outcome):
    """Average precision of ``risk`` for ``outcome``: sum over thresholds of precision x the
    recall it adds (scikit-learn's ``average_precision_score``); NaN without positives."""
    risk, outcome = _check_outcome(risk, outcome)
    pos, neg = _tied_weights(risk, outcome, np.ones((1, risk.size)))
    return float(_average_precision_from_tied(pos, neg)[0])


def forecast_quality(scores, cie, *, n_bootstrap=1000, confidence=0.95, seed=0, chunk=100):
    """How well each dense risk score ranked the CIEs a compressed population produced.

    Parameters
    ----------
    scores : DataFrame from :func:`risk_scores`
    cie : ndarray of bool, shape (n_examples,)
        The variant's CIE mask (the outcome the scores try to foresee).
    n_bootstrap : int
        Percentile-bootstrap resamples of the examples (0 skips the intervals). One draw of
        example counts is shared by every score, so their intervals are comparable.
    confidence : float in (0, 1)
    seed : int (``numpy.random.default_rng(seed)``)

    Returns
    -------
    pandas.DataFrame, one row per score: ``score, direction`` (``"low"`` when a low value means
    at risk, else ``"high"``), ``n_examples, n_cie, cie_fraction, auroc, auroc_ci_low,
    auroc_ci_high, average_precision, average_precision_ci_low, average_precision_ci_high,
    n_bootstrap_valid, status``. AUROC 0.5 and average precision equal to ``cie_fraction`` are
    what a score that knows nothing gets. Bootstrap resamples with no CIE (or only CIEs) are
    left out of the percentiles.
    """
    check_bootstrap(n_bootstrap, confidence)
    cie = np.asarray(cie, dtype=bool)
    n, n_cie = cie.size, int(cie.sum())
    draws = draw_counts(np.random.default_rng(seed), n, n_bootstrap) if n_bootstrap \
        and 0 < n_cie < n else np.zeros((0, n))
    tail = 100 * (1 - confidence) / 2
    rows = []
    for name, sign in RISK_SCORES.items():
        row = {"score": name, "direction": "low" if sign < 0 else "high", "n_examples": n,
               "n_cie": n_cie, "cie_fraction": n_cie / n}
        status = scores.attrs.get("status", {}).get(name, STATUS_OK)
        values = scores[name].to_numpy(dtype=np.float64)
        if status == STATUS_OK and n_cie == 0:
            status = STATUS_NO_CIE
        elif status == STATUS_OK and n_cie == n:
            status = STATUS_ALL_CIE
        row.update(auroc=np.nan, auroc_ci_low=np.nan, auroc_ci_high=np.nan,
                   average_precision=np.nan, average_precision_ci_low=np.nan,
                   average_precision_ci_high=np.nan, n_bootstrap_valid=0, status=status)
        if status == STATUS_OK:
            risk = sign * values
            pos, neg = _tied_weights(risk, cie, np.ones((1, n)))
            row["auroc"] = float(_auroc_from_tied(pos, neg)[0])
            row["average_precision"] = float(_average_precision_from_tied(pos, neg)[0])
            if len(draws):
                boot_auc, boot_ap = [], []
                for start in range(0, len(draws), chunk):
                    p, q = _tied_weights(risk, cie, draws[start:start + chunk].astype(np.float64))
                    boot_auc.append(_auroc_from_tied(p, q))
                    boot_ap.append(_average_precision_from_tied(p, q))
                boot_auc, boot_ap = np.concatenate(boot_auc), np.concatenate(boot_ap)
                valid = np.isfinite(boot_auc)
                row["n_bootstrap_valid"] = int(valid.sum())
                if valid.any():
                    row["auroc_ci_low"], row["auroc_ci_high"] = np.percentile(
                        boot_auc[valid], [tail, 100 - tail])
                    row["average_precision_ci_low"], row["average_precision_ci_high"] = \
                        np.percentile(boot_ap[valid], [tail, 100 - tail])
        rows.append(row)
    return pd.DataFrame(rows)


def flag_weights(risk, n_flagged):
    """Which examples are among the ``n_flagged`` riskiest: weight 1 above the cut, 0 below, and
    an equal share of the remaining places for the examples tied at the cut (so the weights sum
    to ``n_flagged`` exactly whatever the ties; a discrete score such as the vote margin of 5
    members takes only 3 values)."""
    risk = np.asarray(risk, dtype=np.float64)
    if n_flagged <= 0:
        return np.zeros(risk.size)
    if n_flagged >= risk.size:
        return np.ones(risk.size)
    cut = np.sort(risk)[::-1][n_flagged - 1]
    above = risk > cut
    at = risk == cut
    weights = above.astype(np.float64)
    weights[at] = (n_flagged - above.sum()) / at.sum()
    return weights


def forecast_groups(scores, groups, masks, *, flag_fraction=0.1, cie=None):
    """Which groups each dense risk score flags in advance.

    The examples are ranked by a score and the riskiest ``flag_fraction`` of them are flagged
    (ties at the cut share the last places, see :func:`flag_weights`). A group's
    ``flagged_overindex`` is its share among the flagged examples divided by its share of the
    evaluation set: the forecast of the over-indexing of CIEs (Hooker et al. 2020) that the audit
    measures once a compressed population exists. Above 1 the score flags the group.

    Parameters
    ----------
    scores : DataFrame from :func:`risk_scores`
    groups, masks : from :func:`pie_tf.audit.attribute_groups`
    flag_fraction : float in (0, 1], or None with ``cie``
        Share of the examples flagged. None flags as many examples as ``cie`` has CIEs (what the
        audit does), and nothing when there are none (status ``"nothing flagged"``).
    cie : ndarray of bool, shape (n_examples,), optional
        A variant's CIE mask: adds its observed ``cie_overindex`` and the share of the group's
        CIEs that were flagged (``cie_recall``).

    Returns
    -------
    pandas.DataFrame, one row per (score, group): ``score, group, order, n_examples,
    n_flagged`` (the group's flag weights, summed), ``flag_fraction, flagged_overindex, flagged``
    (``flagged_overindex > 1``), with ``cie``: ``n_cie, cie_overindex, cie_recall``; ``status``.
    Scores the dense population cannot give and empty groups are NaN with their reason.
    """
    masks = np.asarray(masks, dtype=bool)
    weights_by_group = masks.astype(np.float64)  # one BLAS product per score, not a bool loop
    n = masks.shape[0]
    if flag_fraction is None and cie is not None:
        n_flag = int(np.sum(cie))  # as many flagged as compression changed; none without CIEs
    elif flag_fraction is None or not 0 < flag_fraction <= 1:
        raise InvalidArgumentError(f"`flag_fraction` must be in (0, 1] (or None with `cie`: "
                                   f"the CIE fraction); got {flag_fraction!r}.")
    else:
        n_flag = int(round(flag_fraction * n))
    n_group = masks.sum(axis=0)
    frames = []
    for name, sign in RISK_SCORES.items():
        status = scores.attrs.get("status", {}).get(name, STATUS_OK)
        frame = groups[["group", "order", "n_examples"]].copy()
        frame.insert(0, "score", name)
        if status == STATUS_OK and n_flag > 0:
            weights = flag_weights(sign * scores[name].to_numpy(dtype=np.float64), n_flag)
            flagged = weights @ weights_by_group
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(n_group > 0, (flagged / n_flag) / (n_group / n), np.nan)
        else:
            flagged = np.full(len(groups), np.nan)
            ratio = np.full(len(groups), np.nan)
        frame["n_flagged"] = flagged
        frame["flag_fraction"] = n_flag / n
        frame["flagged_overindex"] = ratio
        frame["flagged"] = ratio > 1
        if cie is not None:
            cie = np.asarray(cie, dtype=bool)
            n_cie_group = (cie.astype(np.float64) @ weights_by_group).astype(np.int64)
            total = cie.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                frame["n_cie"] = n_cie_group
                frame["cie_overindex"] = np.where((n_group > 0) & (total > 0),
                                                  (n_cie_group / total) / (n_group / n), np.nan)
                caught = np.full(len(groups), np.nan)
                if status == STATUS_OK and n_flag > 0:
                    caught = (weights * cie) @ weights_by_group
                frame["cie_recall"] = np.where(n_cie_group > 0,
                                               caught / np.maximum(n_cie_group, 1), np.nan)
        frame["status"] = np.where(n_group == 0, "empty group: no examples",
                                   STATUS_OK if n_flag > 0 else "nothing flagged")
        if status != STATUS_OK:
            frame["status"] = status
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@dataclasses.dataclass(frozen=True)
class DenseForecast:
    """What :func:`dense_forecast` found, from the dense population alone.

    Attributes
    ----------
    risk : pandas.DataFrame
        One row per example: ``id`` and the risk scores of :func:`risk_scores`.
    groups : pandas.DataFrame
        One row per (score, group): :func:`forecast_groups` without a CIE mask.
    flag_fraction : float
        Share of the examples flagged per score.
    """

    risk: pd.DataFrame
    groups: pd.DataFrame
    flag_fraction: float

    def riskiest(self, score="disagreement", n=20):
        """The ``n`` examples most at risk by ``score`` (ties in example order)."""
        if score not in RISK_SCORES:
            raise InvalidArgumentError(f"`score` must be one of {list(RISK_SCORES)}; got "
                                       f"{score!r}.")
        if self.risk.attrs.get("status", {}).get(score, STATUS_OK) != STATUS_OK:
            raise InvalidArgumentError(f"score {score!r} is undefined here: "
                                       f"{self.risk.attrs['status'][score]}.")
        order = np.argsort(-RISK_SCORES[score] * self.risk[score].to_numpy(), kind="stable")
        return self.risk.iloc[order[:n]]


def dense_forecast(dense_predictions=None, dense_probabilities=None, *, ids=None,
                   attributes=None, protected=None, max_order=None, flag_fraction=0.1,
                   scores_kind="auto"):
    """Risk scores and flagged groups from a dense population alone, before any compression.

    Parameters
    ----------
    dense_predictions : array_like of int, shape (n_members, n_examples), optional
        Top-1 labels of the dense members; default the argmax of ``dense_probabilities``.
    dense_probabilities : array_like of shape (n_members, n_examples, n_classes), optional
        Logits or probabilities (``scores_kind``, the audit's policy); the probability scores
        are NaN without them.
    ids : array_like of shape (n_examples,), optional
    attributes, protected, max_order :
        Groups to flag, as for :class:`Groups` (no groups without attributes).
    flag_fraction : float in (0, 1]
        Share of the examples each score flags (default 10%: the PIE share Hooker et al. found
        at 90% sparsity on ImageNet).

    Returns
    -------
    DenseForecast

    Examples
    --------
    >>> import numpy as np
    >>> from pie_tf.audit import dense_forecast
    >>> dense = np.array([[0, 1, 1, 0], [0, 1, 0, 0], [0, 1, 1, 1]])  # 3 members, 4 examples
    >>> result = dense_forecast(dense, attributes={"Male": [False, False, True, True]},
    ...                         flag_fraction=0.5)
    >>> result.risk["disagreement"].round(3).tolist()
    [0.0, 0.0, 0.333, 0.333]
    >>> rows = result.groups.query("score == 'disagreement'").set_index("group")
    >>> rows["flagged_overindex"].tolist()
    [2.0, 0.0]
    """
    from pie_tf.audit._validation import (
        check_attributes, check_ids, check_predictions, check_scores)
    from pie_tf.audit import attribute_groups  # the public name survives module renames

    if dense_predictions is None and dense_probabilities is None:
        raise InvalidArgumentError("`dense_forecast` needs `dense_predictions` or "
                                   "`dense_probabilities`.")
    probs = None
    if dense_probabilities is not None:
        probs = check_scores(dense_probabilities, "dense_probabilities", scores_kind)
    if dense_predictions is None:
        dense_predictions = probs.argmax(axis=-1)
    n_classes = probs.shape[-1] if probs is not None else np.iinfo(np.int32).max
    preds = check_predictions(dense_predictions, "dense_predictions", n_classes)
    if probs is not None and probs.shape[:2] != preds.shape:
        raise InvalidArgumentError(f"`dense_probabilities` has {probs.shape[:2]} (members, "
                                   f"examples) but `dense_predictions` has {preds.shape}.")
    n_examples = preds.shape[1]
    groups, masks = attribute_groups(check_attributes(attributes, n_examples), protected,
                                     max_order)
    risk = risk_scores(preds, probs, ids=check_ids(ids, n_examples))
    return DenseForecast(risk=risk, groups=forecast_groups(risk, groups, masks,
                                                           flag_fraction=flag_fraction),
                         flag_fraction=flag_fraction)
