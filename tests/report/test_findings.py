"""The findings state the audit's numbers: each is recomputed here from the predictions with plain
numpy / scipy (not with the audit's code) and compared with the sentence and its numbers."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pie_tf
import pie_tf.data.standin
from pie_tf.errors import InvalidArgumentError
from pie_tf.report import dataset_caveats, findings, findings_text, in_short

N, MEMBERS = 3000, 6


def _mode(predictions):
    # modal label per example, ties to the lowest label (the audit's default)
    return stats.mode(predictions, axis=0, keepdims=False).mode


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 2, N)
    male = rng.random(N) < 0.4
    tiny = np.zeros(N, bool)
    tiny[:12] = True                       # a group too small to state
    rare = male & (labels == 1)
    dense = np.where(rng.random((MEMBERS, N)) < 0.95, labels, 1 - labels)
    hurt = np.where(rare, 0.75, 0.93)      # the compressed members fail the rare group more
    pruned = np.where(rng.random((MEMBERS, N)) < hurt, labels, 1 - labels)
    pruned[:, :3] = 1 - _mode(dense)[:3]   # three of the tiny group's examples change
    attributes = {"Male": male, "Tiny": tiny}
    audit = pie_tf.audit(dense, {"prune@0.9": pruned}, labels, attributes=attributes,
                         target_name="Blond_Hair", n_bootstrap=200, seed=0)
    return audit.to_frames(), labels, attributes, dense, pruned


def _by_kind(items, kind, variant="prune@0.9"):
    return [f for f in items if f.kind == kind and f.variant == variant]


def test_accuracy_and_cies_are_the_populations(binary):
    tables, labels, _, dense, pruned = binary
    items = findings(tables)
    (acc,) = _by_kind(items, "accuracy")
    dense_acc, pruned_acc = (dense == labels).mean(1), (pruned == labels).mean(1)
    assert acc.numbers["dense_accuracy"] == pytest.approx(dense_acc.mean())
    assert acc.numbers["compressed_accuracy"] == pytest.approx(pruned_acc.mean())
    assert acc.numbers["compressed_std"] == pytest.approx(pruned_acc.std(ddof=1))
    change = pruned_acc.mean() - dense_acc.mean()
    assert f"({100 * change:+.2f} points)" in acc.text
    assert f"{100 * pruned_acc.mean():.2f}%" in acc.text and acc.table == "pie_summary"

    cie = _mode(dense) != _mode(pruned)
    (cies,) = _by_kind(items, "cie")
    assert cies.numbers["n_cie"] == cie.sum()
    on_cie = (dense[:, cie] == labels[cie]).mean(1).mean()
    assert cies.numbers["dense_accuracy_cie"] == pytest.approx(on_cie)
    assert cies.text.startswith(f"{cie.sum()} of {N} examples ({100 * cie.mean():.2f}%)")
    assert f"right {100 * on_cie:.1f}%" in cies.text
    # 6 members: no caveat on the member count
    assert not [f for f in _by_kind(items, "caveat") if "member" in f.text]


def test_overindex_names_supported_groups_only(binary):
    tables, labels, attributes, dense, pruned = binary
    cie = _mode(dense) != _mode(pruned)
    items = findings(tables, min_examples=30, min_cies=5)
    over = _by_kind(items, "overindex")[0]
    assert over.table == "overindex" and "at least 30 examples and 5 CIEs" in over.text
    rare = attributes["Male"] & (labels == 1)
    named = {g[0]: g for g in over.numbers["groups"]}
    group, ratio, low, high, n_cie, n = named["Male ∧ Blond_Hair"]
    assert ratio == pytest.approx((cie & rare).sum() / cie.sum() / rare.mean())
    assert (n_cie, n) == ((cie & rare).sum(), rare.sum())
    assert low < ratio < high
    assert f"Male ∧ Blond_Hair {ratio:.2f}x (interval {low:.2f}-{high:.2f}" in over.text
    # The tiny group has the highest ratio of all but 3 CIEs in 12 examples: not stated.
    tiny_ratio = (cie & attributes["Tiny"]).sum() / cie.sum() / attributes["Tiny"].mean()
    assert tiny_ratio > max(g[1] for g in over.numbers["groups"])
    in_tiny = [g for g in over.numbers["groups"] if "Tiny" in g[0].replace("not Tiny", "")]
    assert not in_tiny and "Tiny " not in over.text.replace("not Tiny ", "")
    assert any("less support" in f.text for f in _by_kind(items, "caveat"))


def test_group_rates_are_the_members_rates(binary):
    tables, labels, attributes, dense, pruned = binary
    items = findings(tables)
    (fnr,) = [f for f in _by_kind(items, "group_rates")
              if f.numbers["metric"] == "false_negative_rate"]
    assert fnr.text.startswith("False negative rate per group, dense -> compressed: ")
    rates = {g: (d, c) for g, d, c, _ in fnr.numbers["groups"]}
    for name, mask in (("Male", attributes["Male"]), ("not Male", ~attributes["Male"])):
        positives = mask & (labels == 1)
        expected = [((pop[:, positives] == 0).mean(1)).mean() for pop in (dense, pruned)]
        np.testing.assert_allclose(rates[name], expected, rtol=1e-7)  # float32 counts
        assert f"{name} {100 * expected[0]:.1f}% -> {100 * expected[1]:.1f}%" in fnr.text
    # Male has the largest rise (the data are built so); the FNR of Male ∧ Blond_Hair is the
    # same rate (same positives) and is stated once.
    assert fnr.numbers["worst_group"] == "Male" and "Male ∧ Blond_Hair" not in rates
    assert "Largest rise: Male (interval" in fnr.text
    # Tiny has 12 examples: no rate stated, with a caveat saying so.
    assert "Tiny" not in rates
    assert any("Tiny" in f.text and "fewer than 30" in f.text for f in _by_kind(items, "caveat"))


def test_paired_and_study_caveats(binary):
    tables, labels, _, dense, pruned = binary
    items = findings(tables, caveats=["the data are a stand-in."])
    assert items[0].kind == "caveat" and items[0].variant is None
    assert items[0].text == "Caveat: the data are a stand-in."
    (paired,) = _by_kind(items, "paired")
    d_ok, c_ok = _mode(dense) == labels, _mode(pruned) == labels
    b, c = int((d_ok & ~c_ok).sum()), int((~d_ok & c_ok).sum())
    assert (paired.numbers["b"], paired.numbers["c"]) == (b, c)
    assert paired.numbers["p_value"] == pytest.approx(stats.binomtest(b, b + c).pvalue)
    info = pie_tf.data.standin.standin_info()
    (standin,) = dataset_caveats(info)
    assert "celeba_standin, a stand-in" in standin and "NOT CelebA" in standin
    assert findings(tables, caveats=[standin])[0].text == "Caveat: " + standin
    text = findings_text(items)
    assert text.splitlines()[0] == "Findings" and "prune@0.9:" in text
    assert all(len(line) <= 100 for line in text.splitlines())


def test_significant_classes_after_bh_and_few_members():
    rng = np.random.default_rng(5)
    n, k = 4000, 10
    labels = rng.integers(0, k, n)
    dense = np.where(rng.random((3, n)) < 0.9, labels, (labels + 1) % k)
    accuracy = np.where(labels == 7, 0.5, 0.9)             # class 7 is hurt
    pruned = np.where(rng.random((3, n)) < accuracy, labels, (labels + 1) % k)
    names = [f"c{j}" for j in range(k)]
    tables = pie_tf.audit(dense, {"q": pruned}, labels, class_names=names,
                          n_bootstrap=20).to_frames()
    items = findings(tables)
    (classes,) = _by_kind(items, "classes", "q")
    shift = [(pop == labels).mean() for pop in (dense, pruned)]  # one constant a population
    p = []
    for j in range(k):
        rec = [(pop[:, labels == j] == j).mean(1) - s for pop, s in zip((dense, pruned), shift)]
        p.append(stats.ttest_ind(rec[0], rec[1], equal_var=False).pvalue)
    q = stats.false_discovery_control(p)
    assert classes.numbers["n_significant_fdr"] == (q <= 0.05).sum() >= 1
    assert classes.text.startswith(f"{(q <= 0.05).sum()} of 10 classes changed significantly")
    assert classes.numbers["most_hurt"][0][0] == "c7" and "most hurt: c7 (" in classes.text
    assert classes.numbers["most_hurt"][0][2] == pytest.approx(q[7])
    caveat = [f for f in _by_kind(items, "caveat", None) if "member" in f.text]
    assert caveat and caveat[0].numbers["n_members"] == 3
    assert "as few as 3 members" in caveat[0].text


def _deployed(binary):
    """The binary study with a TFLite export of prune@0.9 audited against it, as studies do."""
    tables, labels, _, dense, pruned = binary
    rng = np.random.default_rng(2)
    exported = np.where(rng.random(pruned.shape) < 0.01, 1 - pruned, pruned)
    export = pie_tf.audit(pruned, {"prune@0.9+tflite_int8": exported}, labels, n_bootstrap=20)
    summary = export.summary().rename(columns=lambda c: c.replace("dense_", "keras_")
                                      .replace("compressed_", "tflite_"))
    summary = summary.rename(columns={"n_cie": "n_deployment_exemplars",
                                      "cie_fraction": "deployment_exemplar_fraction"})
    summary.insert(1, "source", "prune@0.9")
    sizes = pd.DataFrame({"variant": "prune@0.9+tflite_int8", "seed": range(MEMBERS),
                          "tflite_bytes": 40000.0, "tflite_gzip_bytes": 10240.0 + np.arange(6)})
    return dict(tables, deployment=summary, deployment_sizes=sizes), exported


def test_deployment_sentence_and_bad_input(binary):
    tables, labels, _, dense, pruned = binary
    deployed, exported = _deployed(binary)
    items = findings(deployed)
    (dep,) = _by_kind(items, "deployment", "prune@0.9+tflite_int8")
    changed = (_mode(pruned) != _mode(exported)).sum()
    assert dep.numbers["n_deployment_exemplars"] == changed
    keras, tflite = (pruned == labels).mean(), (exported == labels).mean()
    assert dep.numbers["change"] == pytest.approx(tflite - keras)
    assert f"{changed} examples" in dep.text and f"{100 * (tflite - keras):+.2f} points" in dep.text
    assert dep.numbers["tflite_gzip_bytes"] == pytest.approx(10242.5)
    assert "10.0 KiB gzipped" in dep.text and dep.table == "deployment"

    with pytest.raises(InvalidArgumentError, match="min_cies"):
        findings(tables, min_cies=-1)
    with pytest.raises(InvalidArgumentError, match="tables"):
        findings([1, 2])


def _rate(predictions, condition, wrong):
    # a group's FNR (wrong = 0 among positives) or FPR (wrong = 1 among negatives), mean over
    # members
    return (predictions[:, condition] == wrong).mean(1).mean()


def test_in_short_states_the_tables_numbers_one_sentence_a_variant(binary):
    _, labels, attributes, dense, pruned = binary
    deployed, exported = _deployed(binary)
    items = findings(deployed)
    short = in_short(items)
    assert [s.variant for s in short] == ["prune@0.9", "prune@0.9+tflite_int8"]
    assert {s.kind for s in short} == {"in_short"}
    pruned_short, export_short = short

    dense_acc, pruned_acc = (dense == labels).mean(1), (pruned == labels).mean(1)
    change, sd = pruned_acc.mean() - dense_acc.mean(), pruned_acc.std(ddof=1)
    cie = (_mode(dense) != _mode(pruned)).mean()
    assert pruned_short.numbers["change"] == pytest.approx(change)
    assert pruned_short.numbers["std"] == pytest.approx(sd)
    assert pruned_short.numbers["cie_fraction"] == pytest.approx(cie)
    # the most harmed group: the largest rise of FNR or FPR over the groups with >= 30 examples
    # in the condition (Tiny has 12 examples; the target's own groups are the whole condition)
    rises = {}
    for name, mask in (("Male", attributes["Male"]), ("not Male", ~attributes["Male"]),
                       ("not Tiny", ~attributes["Tiny"])):
        for metric, condition, wrong in (("FNR", mask & (labels == 1), 0),
                                         ("FPR", mask & (labels == 0), 1)):
            rises[metric, name] = _rate(pruned, condition, wrong) - _rate(dense, condition, wrong)
    (metric, group), rise = max(rises.items(), key=lambda item: item[1])
    assert (metric, group) == ("FNR", "Male")   # the data are built so
    assert pruned_short.numbers["group"] == group
    assert pruned_short.numbers["metric"] == "false_negative_rate"
    assert pruned_short.numbers["group_change"] == pytest.approx(rise, rel=1e-6)
    assert pruned_short.text == (
        f"prune@0.9: {100 * change:+.1f} points top-1 (sd {100 * sd:.1f}), "
        f"{100 * cie:.1f}% of examples changed, FNR of Male {100 * rise:+.1f} points.")

    keras, tflite = (pruned == labels).mean(), (exported == labels).mean()
    on_export = (_mode(pruned) != _mode(exported)).mean()
    assert export_short.numbers["change"] == pytest.approx(tflite - keras)
    assert export_short.numbers["cie_fraction"] == pytest.approx(on_export)
    assert export_short.numbers["tflite_gzip_bytes"] == pytest.approx(10240 + 2.5)
    assert export_short.text == (
        f"prune@0.9+tflite_int8: {100 * (tflite - keras):+.1f} points top-1 against its Keras "
        f"source, {100 * on_export:.1f}% of examples changed on export; 10.0 KiB gzipped.")

    # the console: the block after the study-wide notes, above the per-variant findings
    lines = findings_text(items).splitlines()
    assert lines.index("In short:") < lines.index("prune@0.9:")
    assert lines[lines.index("In short:") + 1].startswith("  - prune@0.9: ")
    assert all(len(line) <= 100 for line in lines)


def test_in_short_orders_by_sparsity_then_kind(binary):
    _, labels, attributes, dense, pruned = binary
    rng = np.random.default_rng(3)
    light = np.where(rng.random(pruned.shape) < 0.94, labels, 1 - labels)
    tables = pie_tf.audit(dense, {"qat@0.5": light, "prune@0.9": pruned, "prune@0.5": light},
                          labels, attributes=attributes, n_bootstrap=20, seed=0).to_frames()
    order = [s.variant for s in in_short(tables)]
    assert order == ["prune@0.5", "qat@0.5", "prune@0.9"]
    assert [s.variant for s in in_short(tables, sparsity={"prune@0.9": 0.1})][0] == "prune@0.9"


def test_in_short_without_a_rise_says_so_or_names_the_over_index(binary):
    _, labels, attributes, dense, _ = binary
    same = dense.copy()
    same[:, 100:400] = 1 - _mode(dense)[100:400]     # the same change in every group
    tables = pie_tf.audit(dense, {"prune@0.5": dense, "prune@0.9": same}, labels,
                          attributes=attributes, n_bootstrap=20, seed=0).to_frames()
    unchanged, changed = in_short(tables)
    assert unchanged.text.endswith("0.0% of examples changed, no supported group's rate rose.")
    assert "group" not in unchanged.numbers
    # without rate tables the most over-indexed supported group is named, with its ratio
    rates = {k: v for k, v in tables.items() if not k.startswith("group_rate")}
    (over,) = _by_kind(findings(rates), "overindex", "prune@0.9")
    group, ratio = over.numbers["groups"][0][:2]
    short = in_short(rates)[1]
    assert (short.numbers["group"], short.numbers["overindex"]) == (group, ratio)
    assert short.text.endswith(f", {group} {ratio:.2f}x over-indexed among the CIEs.")
