"""The report's mitigation section: verdicts in words, with the numbers of the tables."""
from pie_tf.audit import mitigation_comparison, mitigation_summary
from pie_tf.report import write_report
from pie_tf.report.mitigation import HEADING, mitigation_sentences
from tests.audit import _mitigation_case as _case


def _tables():
    labels, male, dense = _case.dense_case(3)
    audit = _case.audit(dense, {"prune_ft@0.8": _case.forgetting(dense, labels, 40),
                                "prune_kd@0.8": _case.forgetting(dense, labels, 10),
                                "prune_rw@0.8": _case.forgetting(dense, labels, 40)},
                        labels, male)
    tables = audit.to_frames()
    comparison = mitigation_comparison(
        tables, [("prune_kd@0.8", "prune_ft@0.8"), ("prune_rw@0.8", "prune_ft@0.8")],
        n_bootstrap=100)
    tables.update(mitigation=comparison, mitigation_summary=mitigation_summary(comparison))
    return tables


def test_section_states_each_verdict_with_its_numbers(tmp_path):
    tables = _tables()
    sentences = mitigation_sentences(tables["mitigation_summary"], tables["mitigation"])
    by_variant = {v: (meets, text) for v, meets, text in sentences}
    meets, text = by_variant["prune_kd@0.8"]
    n_plain, n_kd = tables["mitigation_summary"].iloc[0][["n_cie_baseline", "n_cie_mitigated"]]
    assert meets and text.startswith("prune_kd@0.8 against prune_ft@0.8: meets the bar")
    assert f"CIEs {n_plain:.0f} → {n_kd:.0f}" in text and "95% CI" in text
    assert not by_variant["prune_rw@0.8"][0]
    assert "did not help" in by_variant["prune_rw@0.8"][1]

    report = write_report(tables, tmp_path, title="t")
    page = report.html.read_text(encoding="utf-8")
    assert HEADING in page and "1 of 2 mitigated variants meet the bar." in page
    assert "<h3>mitigation</h3>" not in page and "<h3>mitigation_summary</h3>" not in page
    assert page.index('id="summary"') < page.index('id="mitigation_summary"')
    assert 'href="tables/mitigation.csv"' in page
    assert (tmp_path / "tables" / "mitigation_summary.csv").exists()
    # without mitigation tables there is no section
    plain = {k: v for k, v in tables.items() if not k.startswith("mitigation")}
    assert HEADING not in write_report(plain, tmp_path / "plain").html.read_text("utf-8")
