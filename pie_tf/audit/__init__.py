"""pie_tf.audit: what compression cost, from predictions alone (numpy, scipy, pandas; no I/O).

The entry point is the :class:`Audit`: one object holding every table of the audit (PIE/CIE,
class impact, over-indexing, group FPR/FNR, loyalty, corruption error, ImageNet-A) as pandas
DataFrames. Build it

- from arrays, with keywords: ``pie_tf.audit(dense, {"prune@0.9": pruned}, labels, ...)``;
- from its input objects: ``Audit(CleanEvaluation(...), groups=Groups(...),
  corrupted=CorruptedEvaluations(...), subset=SubsetEvaluation(...), options=AuditOptions(...))``;
- from a prediction store: ``Audit.from_store(store, "test", ...)``.

The statistics the Audit composes are functions of arrays, usable alone: :func:`modal_labels`,
:func:`pie_mask`, :func:`pie_table`, :func:`class_impact`, :func:`attribute_groups`,
:func:`overindex`, :func:`group_rates`, :func:`label_loyalty`, :func:`probability_loyalty`,
:func:`corruption_errors`, :func:`corruption_error`, :func:`imagenet_a_accuracy`,
:func:`mitigation_comparison` (a mitigated variant against the plain pruned one), ... Their
modules are private (``_pie``, ``_class_impact``, ``_attributes``, ``_loyalty``, ``_robustness``);
import the names from here.

Beyond the papers (``docs/audit.md``): :func:`dense_forecast` scores the examples and groups at
risk from a dense population alone, before any compressed model is trained; the Audit adds the
forecast's quality, calibration (ECE, reliability), flips, two-level bootstrap intervals of the
group-rate changes, exact McNemar tests and a graded exemplar score as tables.

``pie_tf.audit`` is this package, and the package itself can be called: ``pie_tf.audit(...)`` is
:func:`audit`. (A plain function named ``pie_tf.audit`` could not coexist with the package:
importing the package binds that name to it.)
"""
import sys
import types

from pie_tf.audit._attributes import attribute_groups, group_rates, overindex
from pie_tf.audit._audit import Audit, audit
from pie_tf.audit._calibration import calibration, reliability
from pie_tf.audit._class_impact import class_impact, class_recall
from pie_tf.audit._exemplar_score import exemplar_score
from pie_tf.audit._flips import flip_table, group_rate_change_interval
from pie_tf.audit._forecast import (
    DenseForecast, auroc, average_precision, dense_forecast, forecast_groups, forecast_quality,
    risk_scores)
from pie_tf.audit._inputs import (
    AuditOptions, CleanEvaluation, CorruptedEvaluations, Groups, SubsetEvaluation)
from pie_tf.audit._loyalty import label_loyalty, member_loyalty, probability_loyalty
from pie_tf.audit._mitigation import mitigation_comparison, mitigation_summary, rare_group
from pie_tf.audit._paired import mcnemar_exact, paired_tests
from pie_tf.audit._pie import (
    agreement_share, mean_probability_labels, modal_labels, pie_mask, pie_table)
from pie_tf.audit._robustness import (
    ALEXNET_CLEAN_ERROR, ALEXNET_MEAN_ERRORS, corruption_error, corruption_errors,
    imagenet_a_accuracy)

__all__ = ["Audit", "audit", "CleanEvaluation", "Groups", "CorruptedEvaluations",
           "SubsetEvaluation", "AuditOptions", "modal_labels", "mean_probability_labels",
           "agreement_share", "pie_mask", "pie_table", "class_recall", "class_impact",
           "attribute_groups", "overindex", "group_rates", "label_loyalty",
           "probability_loyalty", "member_loyalty", "corruption_errors", "corruption_error",
           "imagenet_a_accuracy", "ALEXNET_MEAN_ERRORS", "ALEXNET_CLEAN_ERROR",
           "dense_forecast", "DenseForecast", "risk_scores", "forecast_quality",
           "forecast_groups", "auroc", "average_precision", "calibration", "reliability",
           "flip_table", "group_rate_change_interval", "mcnemar_exact", "paired_tests",
           "exemplar_score",
           "mitigation_comparison", "mitigation_summary", "rare_group"]


class _CallableModule(types.ModuleType):
    """The type of this package: calling it calls :func:`audit`."""

    def __call__(self, dense_predictions, compressed_predictions, labels, **kwargs):
        return audit(dense_predictions, compressed_predictions, labels, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
