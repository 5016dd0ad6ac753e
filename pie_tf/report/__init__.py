"""pie_tf.report: an audit as CSV tables, matplotlib figures and one self-contained HTML page.

    report = pie_tf.report.write_report(audit_tables, "out/")   # out/report.html opens offline
    print(pie_tf.report.findings_text(audit_tables))          # the findings, in words

The report only renders: every number it shows is in one of the audit's tables.
"""
from pie_tf.report._findings import (Finding, dataset_caveats, findings, findings_text,
                                     in_short)
from pie_tf.report._report import SECTIONS, Report, write_report
from pie_tf.report.figures import (class_change_figure, corruption_error_figure,
                                   exemplar_grid_figure, group_rates_figure, overindex_figure)
from pie_tf.report._statistics import (flips_figure, forecast_figure, reliability_figure,
                                       sort_exemplars)

__all__ = ["write_report", "Report", "SECTIONS", "class_change_figure", "overindex_figure",
           "group_rates_figure", "corruption_error_figure", "exemplar_grid_figure",
           "reliability_figure", "forecast_figure", "flips_figure", "sort_exemplars",
           "findings", "findings_text", "in_short", "Finding", "dataset_caveats"]
