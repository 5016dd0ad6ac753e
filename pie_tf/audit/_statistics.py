"""The Audit's tables beyond the papers' statistics: forecast, calibration, flips, paired tests,
two-level intervals of the group-rate changes and the graded exemplar score.

A mixin of :class:`pie_tf.audit.Audit`: each table is a cached property computed from what the
Audit already holds (populations, modes, groups, options); none adds a constructor argument.
The definitions are in the modules named in each docstring.
"""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from pie_tf.audit import _calibration, _exemplar_score, _flips, _forecast, _paired

__all__ = ["AuditStatistics", "STATISTICS_TABLES"]

# Tables this mixin adds to ``Audit.to_frames()``.
STATISTICS_TABLES = ("forecast_risk", "forecast", "forecast_groups", "calibration",
                     "calibration_by_member", "reliability", "flips", "group_rate_intervals",
                     "paired_tests", "exemplar_scores")

FORECAST_COLUMNS = ["variant", "score", "direction", "n_examples", "n_cie", "cie_fraction",
                    "auroc", "auroc_ci_low", "auroc_ci_high", "average_precision",
                    "average_precision_ci_low", "average_precision_ci_high",
                    "n_bootstrap_valid", "status"]
CALIBRATION_COLUMNS = ["population", "group", "order", "n_examples", "n_members", "n_bins",
                       "ece_mean", "ece_std", "mean_confidence", "accuracy", "gap_mean",
                       "gap_std", "direction", "status"]
RELIABILITY_COLUMNS = ["population", "bin", "bin_low", "bin_high", "n", "mean_confidence",
                       "accuracy", "share"]
STATUS_NO_PROBABILITIES = "no probabilities for this population: calibration undefined"


class AuditStatistics:
    """Tables of :class:`Audit` that go beyond Hooker et al.'s statistics (see the module)."""

    # -- what the host Audit provides, in one place
    def _stat_groups(self):
        groups = self.groups
        return groups.table, groups.masks

    def _stat_group_args(self):
        table, masks = self._stat_groups()
        return dict(group_names=list(table["group"]), group_masks=masks,
                    group_orders=list(table["order"]))

    # ------------------------------------------------------------------ forecast
    @functools.cached_property
    def forecast_risk(self):
        """Per example, the dense population's risk scores (:func:`pie_tf.audit.risk_scores`).

        Computed from the dense population alone: see :func:`pie_tf.audit.dense_forecast` to
        get them before any compressed model exists.
        """
        return _forecast.risk_scores(self.predictions("dense"), self.probabilities("dense"),
                                     ids=self.ids)

    @functools.cached_property
    def forecast(self):
        """Per variant and risk score: AUROC and average precision of the dense-only score for
        the variant's CIEs, with percentile-bootstrap intervals (:func:`forecast_quality`)."""
        options = self.options
        frames = []
        for variant in self.variants:
            table = _forecast.forecast_quality(
                self.forecast_risk, self.pie_mask(variant), n_bootstrap=options.n_bootstrap,
                confidence=options.confidence, seed=options.seed)
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)[FORECAST_COLUMNS]

    @functools.cached_property
    def forecast_groups(self):
        """Per variant, score and group: the group's over-index among the examples each dense
        score flags (as many as the variant's CIEs), next to its observed CIE over-index
        (:func:`forecast_groups`)."""
        groups, masks = self._stat_groups()
        frames = []
        for variant in self.variants:
            cie = self.pie_mask(variant)
            table = _forecast.forecast_groups(self.forecast_risk, groups, masks,
                                              flag_fraction=None, cie=cie)
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ calibration
    @functools.cached_property
    def _calibration_tables(self):
        args = self._stat_group_args()
        summaries, members, reliability = [], [], []
        for pop in self.populations:
            probs = self.probabilities(pop)
            if probs is None:
                summaries.append(pd.DataFrame([{
                    "population": pop, "group": "all", "order": 0,
                    "n_examples": self.n_examples, "n_members": self.predictions(pop).shape[0],
                    "n_bins": _calibration.DEFAULT_N_BINS, "direction": "undefined",
                    "status": STATUS_NO_PROBABILITIES}]))
                continue
            by_member, summary = _calibration.calibration(probs, self.labels, **args)
            for frame in (by_member, summary):
                frame.insert(0, "population", pop)
            table = _calibration.reliability(probs, self.labels)
            table.insert(0, "population", pop)
            summaries.append(summary)
            members.append(by_member)
            reliability.append(table)
        summary = pd.concat(summaries, ignore_index=True).reindex(columns=CALIBRATION_COLUMNS)
        by_member = pd.concat(members, ignore_index=True) if members else pd.DataFrame(
            columns=["population", "member", "group", "order", "n_examples", "n_bins", "ece",
                     "mean_confidence", "accuracy", "gap"])
        reliability = pd.concat(reliability, ignore_index=True) if reliability else \
            pd.DataFrame(columns=RELIABILITY_COLUMNS)
        return summary, by_member, reliability

    @property
    def calibration(self):
        """Per population and group: ECE (10 equal-width bins, mean and std over members), mean
        confidence, accuracy and the signed gap, with ``direction`` over- or under-confident
        (:func:`pie_tf.audit.calibration`). Populations without probabilities: one row whose
        ``status`` says so."""
        return self._calibration_tables[0]

    @property
    def calibration_by_member(self):
        """Per population, member and group: ECE, mean confidence, accuracy, gap."""
        return self._calibration_tables[1]

    @property
    def reliability(self):
        """Per population and confidence bin, all members pooled: the reliability diagram."""
        return self._calibration_tables[2]

    # ------------------------------------------------------------------ flips and tests
    def _per_variant(self, function, **kwargs):
        frames = []
        for variant in self.variants:
            table = function(self.modes["dense"], self.modes[variant], self.labels,
                             **self._stat_group_args(), n_classes=self.n_classes,
                             class_names=self.clean.class_names, **kwargs)
            table.insert(0, "variant", variant)
            frames.append(table)
        return pd.concat(frames, ignore_index=True)

    @functools.cached_property
    def flips(self):
        """Per variant, group and class: negative / positive flips of the modal labels and the
        net change (:func:`pie_tf.audit.flip_table`)."""
        return self._per_variant(_flips.flip_table)

    @functools.cached_property
    def paired_tests(self):
        """Per variant, group and class: exact McNemar test of the modal labels, dense against
        the variant, with BH q-values over each variant's family (:func:`paired_tests`)."""
        return self._per_variant(_paired.paired_tests, alpha=self.options.alpha)

    @functools.cached_property
    def group_rate_intervals(self):
        """Per variant, group and metric: a two-level (members and examples) bootstrap interval
        of every change in ``group_rates`` (:func:`group_rate_change_interval`)."""
        args = self._stat_group_args()
        options = self.options
        return _flips.group_rate_change_intervals(
            self.predictions("dense"), {v: self.predictions(v) for v in self.variants},
            self.labels, args["group_names"], args["group_masks"],
            positive_label=self.groups.positive_label, n_bootstrap=options.n_bootstrap,
            confidence=options.confidence, seed=options.seed)

    # ------------------------------------------------------------------ exemplar score
    @functools.cached_property
    def exemplar_scores(self):
        """Per variant and example: the graded exemplar score (total-variation distance of the
        two populations' mean distributions, vote shares without probabilities), its basis,
        the CIE flag and the rank (1 = most changed) (:func:`pie_tf.audit.exemplar_score`)."""
        dense_probs = self.probabilities("dense")
        frames = []
        for variant in self.variants:
            probs = self.probabilities(variant)
            if dense_probs is not None and probs is not None:
                score = _exemplar_score.exemplar_score(dense_probs.mean(axis=0),
                                                       probs.mean(axis=0))
                basis = "mean probabilities"
            else:
                score = _exemplar_score.vote_share_distance(
                    self.predictions("dense"), self.predictions(variant), self.n_classes)
                basis = "vote shares"
            rank = pd.Series(-score).rank(method="first").to_numpy().astype(np.int64)
            frames.append(pd.DataFrame({"variant": variant, "id": self.ids,
                                        "exemplar_score": score, "score_basis": basis,
                                        "cie": self.pie_mask(variant), "rank": rank}))
        return pd.concat(frames, ignore_index=True)
