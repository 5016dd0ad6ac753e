"""pie_tf.audit: what compression cost, from predictions alone (numpy, scipy, pandas; no I/O).

``pie_tf.audit(...)`` builds an :class:`Audit`; the building blocks are importable on their own:

- :mod:`pie_tf.audit.pie`: modal labels, PIE/CIE masks, the per-example table.
- :mod:`pie_tf.audit.class_impact`: per-class Welch t-tests with BH q-values.
- :mod:`pie_tf.audit.attributes`: attribute groups, over-indexing, group error/FPR/FNR.
- :mod:`pie_tf.audit.loyalty`: label and probability loyalty.
- :mod:`pie_tf.audit.robustness`: corruption error, mCE, ImageNet-A accuracy.

The package module is itself callable (``pie_tf.audit(...)`` works however it was imported:
importing a submodule binds ``pie_tf.audit`` to this module, so a plain function under the same
name would be shadowed).
"""
import sys
import types

from pie_tf.audit.audit import Audit, audit  # noqa: F401 - rebinds `audit` to the function
from pie_tf.audit.attributes import attribute_groups, group_rates, overindex  # noqa: F401
from pie_tf.audit.class_impact import class_impact, class_recall  # noqa: F401
from pie_tf.audit.loyalty import label_loyalty, member_loyalty, probability_loyalty  # noqa: F401
from pie_tf.audit.pie import (  # noqa: F401
    agreement_share, mean_probability_labels, modal_labels, pie_mask, pie_table)
from pie_tf.audit.robustness import (  # noqa: F401
    corruption_error, corruption_errors, imagenet_a_accuracy)

__all__ = ["Audit", "audit", "modal_labels", "mean_probability_labels", "agreement_share",
           "pie_mask", "pie_table", "class_recall", "class_impact", "attribute_groups",
           "overindex", "group_rates", "label_loyalty", "probability_loyalty", "member_loyalty",
           "corruption_errors", "corruption_error", "imagenet_a_accuracy"]


class _CallableModule(types.ModuleType):
    def __call__(self, *args, **kwargs):
        return audit(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
