"""The page a reader opens: findings first, with the tables' numbers, linked to their tables; the
forgetting curve; figures that stay readable; nothing wider than a 1280 px window (rendered in
headless Chromium)."""
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

import pie_tf
from pie_tf.report import _curve
from pie_tf.report import figures as fig
from tests.report._chromium import dump_dom, require_chromium

N, MEMBERS = 2500, 4
VARIANTS = ["prune@0.5", "prune@0.9", "dense+tflite_int8"]


def _mode(predictions):
    return stats.mode(predictions, axis=0, keepdims=False).mode


@pytest.fixture(scope="module")
def study():
    rng = np.random.default_rng(4)
    labels = (rng.random(N) < 0.2).astype(int)
    male = rng.random(N) < 0.4
    young = rng.random(N) < 0.7
    rare = male & (labels == 1)

    def population(accuracy, accuracy_rare):
        right = rng.random((MEMBERS, N)) < np.where(rare, accuracy_rare, accuracy)
        return np.where(right, labels, 1 - labels)

    dense = population(0.95, 0.85)
    compressed = {"prune@0.5": population(0.94, 0.8), "prune@0.9": population(0.92, 0.65),
                  "dense+tflite_int8": population(0.945, 0.82)}
    def probabilities(predictions):
        confidence = rng.uniform(0.55, 1.0, predictions.shape)[..., None]
        return np.where(predictions[..., None] == np.arange(2), confidence, 1 - confidence)

    audit = pie_tf.audit(dense, compressed, labels, attributes={"Male": male, "Young": young},
                         target_name="Blond_Hair", n_bootstrap=100, seed=0,
                         class_names=["not Blond_Hair", "Blond_Hair"],
                         dense_probabilities=probabilities(dense),
                         compressed_probabilities={k: probabilities(v)
                                                   for k, v in compressed.items()})
    tables = audit.to_frames()
    # a deployment table as the studies build it (the export audited against its source)
    exported = np.where(rng.random((MEMBERS, N)) < 0.01, 1 - compressed["prune@0.9"],
                        compressed["prune@0.9"])
    export = pie_tf.audit(compressed["prune@0.9"], {"prune@0.9+tflite_int8": exported}, labels,
                          n_bootstrap=20).summary()
    export = export.rename(columns=lambda c: c.replace("dense_", "keras_")
                           .replace("compressed_", "tflite_"))
    export = export.rename(columns={"n_cie": "n_deployment_exemplars",
                                    "cie_fraction": "deployment_exemplar_fraction"})
    export.insert(1, "source", "prune@0.9")
    tables["deployment"] = export
    tables["deployment_sizes"] = pd.DataFrame({
        "variant": np.repeat(["prune@0.9+tflite_int8", "dense+tflite_int8"], MEMBERS),
        "seed": np.tile(range(MEMBERS), 2), "tflite_bytes": 52000.0,
        "tflite_gzip_bytes": np.repeat([12000.0, 40000.0], MEMBERS)})
    return tables, labels, dense, compressed


@pytest.fixture(scope="module")
def written(study, tmp_path_factory):
    tables, *_ = study
    return pie_tf.report.write_report(tables, tmp_path_factory.mktemp("page"),
                                      title="Findings page", caveats=["the data are synthetic."])


@pytest.mark.slow
def test_findings_first_with_the_tables_numbers_and_no_overflow(study, written, tmp_path):
    require_chromium()
    tables, labels, dense, compressed = study
    page = dump_dom(written.html, tmp_path, window=(1280, 1600))
    attrs = page.body_attrs
    assert attrs.get("data-probed") == "yes"
    sections = attrs["data-sections"].split(",")
    assert sections[:2] == ["findings", "forgetting_curve"]
    assert page.headings["h2"][0] == "Findings"
    # no horizontal overflow at 1280 px: neither the page nor any table or figure
    assert int(attrs["data-scroll-width"]) <= int(attrs["data-client-width"]) <= 1280
    assert attrs["data-wide"] == ""

    texts = {(a["data-variant"], a["data-kind"]): t for a, t in page.findings}
    assert page.findings[0][1].startswith("Caveat: the data are synthetic.")
    dense_acc = (dense == labels).mean()
    for variant, predictions in compressed.items():
        accuracy = (predictions == labels).mean()
        text = texts[(variant, "accuracy")]
        assert f"Top-1 accuracy {100 * accuracy:.2f}% against dense {100 * dense_acc:.2f}%" \
            f" ({100 * (accuracy - dense_acc):+.2f} points)" in text
        cie = _mode(dense) != _mode(predictions)
        assert texts[(variant, "cie")].startswith(
            f"{cie.sum()} of {N} examples ({100 * cie.mean():.2f}%) changed")
    # the deployment sentence: the export's numbers and its gzip size
    exported = texts[("prune@0.9+tflite_int8", "deployment")]
    assert "11.7 KiB gzipped" in exported
    assert texts[("dense+tflite_int8", "accuracy")].endswith("; TFLite 39.1 KiB gzipped. "
                                                             "[pie_summary]")
    # every sentence links to a section (or a table) of this page
    ids = set(sections) | set(page.headings["h3"])
    for attributes, _ in page.findings:
        (href,) = attributes["links"]
        assert href.lstrip("#") in ids or href.startswith("tables/"), href
        assert href == f"#{attributes['data-table']}" or href.startswith("tables/")


def test_page_lists_the_curve_and_wires_the_statistics(study, written):
    tables, labels, dense, compressed = study
    assert {"forgetting_curve", "calibration", "forecast", "flips"} <= set(written.figures)
    curve = pd.read_csv(written.tables["forgetting_curve"])
    assert list(curve["population"]) == ["dense", *VARIANTS]
    np.testing.assert_allclose(curve["sparsity"], [0, 0.5, 0.9, 0])
    top1 = [(dense == labels).mean(1)] + [(compressed[v] == labels).mean(1) for v in VARIANTS]
    np.testing.assert_allclose(curve["top1"], [t.mean() for t in top1])
    np.testing.assert_allclose(curve["top1_std"], [t.std(ddof=1) for t in top1])
    # sizes: the export's for the pruned Keras variant, its own for the quantized dense model
    assert list(curve["size_of"].fillna("")) == ["", "", "prune@0.9+tflite_int8",
                                                 "dense+tflite_int8"]
    np.testing.assert_allclose(curve["tflite_gzip_bytes"].iloc[2:], [12000, 40000])
    assert curve["worst_metric"].iloc[0] == "false_negative_rate"
    text = written.html.read_text(encoding="utf-8")
    for section in ('id="calibration"', 'id="paired_tests"', 'id="flips"', 'id="forecast"',
                    'id="deployment_sizes"'):
        assert section in text
    assert text.index('id="findings"') < text.index('id="forgetting_curve"') \
        < text.index('id="summary"')


def test_curve_for_one_variant_and_without_sizes():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    dense = np.where(rng.random((2, 300)) < 0.9, labels, 1 - labels)
    tables = pie_tf.audit(dense, {"qat_int8": dense[::-1]}, labels, n_bootstrap=10).to_frames()
    curve = _curve.curve_table(tables)
    assert list(curve["kind"]) == ["dense", "quantized"]
    figure = _curve.forgetting_curve_figure(curve)
    # no groups, no sizes: top-1 and the share of CIEs only
    assert [a.get_title() for a in figure.axes] == ["Top-1 accuracy (± sd over members)",
                                                    "Share of CIEs (bars: member disagreement "
                                                    "± sd)"]
    plt.close(figure)


def test_size_panel_names_of_close_points_do_not_overlap():
    # two exports of the same size and accuracy (dense int8 and QAT int8 typically are)
    curve = pd.DataFrame({"population": ["prune@0.9", "qat_int8", "dense+tflite_int8"],
                          "tflite_gzip_bytes": [8200.0, 23590.0, 23460.0],
                          "tflite_bytes": [32008.0, 33264.0, 32008.0],
                          "top1": [93.2, 96.02, 96.06], "top1_std": [0.8, 0.1, 0.2]})
    figure, ax = plt.subplots(figsize=(4, 3))
    _curve._size_panel(ax, curve, "top1", "top1_std", "top-1 accuracy, %")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    assert set(boxes) == set(curve["population"])
    assert not boxes["qat_int8"].overlaps(boxes["dense+tflite_int8"])
    plt.close(figure)


def _impact(n_classes, rng):
    change = rng.normal(0, 0.02, n_classes)
    change[:7] -= 0.2
    return pd.DataFrame({"variant": "v", "class": np.arange(n_classes),
                         "class_name": [f"c{k}" for k in range(n_classes)],
                         "normalized_change": change, "significant": change < -0.1,
                         "significant_fdr": change < -0.1})


@pytest.mark.parametrize("n_classes", [2, 10, 1000])
def test_class_figure_is_legible_at_any_number_of_classes(n_classes):
    rng = np.random.default_rng(n_classes)
    frame = _impact(n_classes, rng)
    figure = fig.class_change_figure(frame, most_hurt=15)
    width, height = figure.get_size_inches() * 100
    assert width <= 1280 and height < 1200
    if n_classes <= 40:     # a bar per class, named
        (ax,) = figure.axes
        assert len(ax.patches) == n_classes and len(ax.get_xticklabels()) == n_classes
    else:                   # the distribution and the 15 most hurt classes by name
        hist, hurt = figure.axes
        assert sum(p.get_height() for p in hist.patches) == n_classes
        names = [t.get_text() for t in hurt.get_yticklabels()]
        worst = frame.sort_values("normalized_change")["class_name"].head(15).tolist()
        assert names == worst
    plt.close(figure)


def test_overindex_figure_log_scale_and_weak_groups_apart():
    frame = pd.DataFrame({"variant": "v", "group": ["big", "small", "other"], "order": 1,
                          "n_examples": [500, 8, 400], "n_cie": [40, 1, 20],
                          "overindex": [1.8, 180.0, 0.7], "ci_low": [1.4, 0.0, 0.5],
                          "ci_high": [2.3, 600.0, 0.9]})
    figure = fig.overindex_figure(frame, min_examples=30, min_cies=5)
    ax = figure.axes[0]
    assert ax.get_xscale() == "log"
    low, high = ax.get_xlim()
    assert high < 10 and low > 0.2      # scaled to the supported groups, not to 180
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "small"        # apart, below the supported groups
    assert re.match(r"#?[0-9a-f]*", str(ax.get_yticklabels()[-1].get_color()))
    assert ax.get_yticklabels()[-1].get_color() != ax.get_yticklabels()[0].get_color()
    plt.close(figure)


def test_exemplar_grid_names_labels_and_protected_attributes(study, tmp_path):
    tables, labels, *_ = study
    pie = tables["pie"]
    cie = pie[(pie["variant"] == "prune@0.9") & pie["cie"]].head(4)
    images = {i: np.zeros((8, 8), np.uint8) + 40 * k for k, i in enumerate(cie["id"])}
    report = pie_tf.report.write_report(tables, tmp_path, images=images,
                                        class_names=["not Blond_Hair", "Blond_Hair"],
                                        exemplar_variants=["prune@0.9"])
    assert "exemplars_prune_0_9" in report.figures
    figure = fig.exemplar_grid_figure(
        np.stack(list(images.values())), cie["label"], cie["dense_mode"],
        cie["compressed_mode"], class_names=["not Blond_Hair", "Blond_Hair"],
        notes=["Male, not Young"] * len(cie))
    first = figure.axes[0].get_title()
    row = cie.iloc[0]
    names = ["not Blond_Hair", "Blond_Hair"]
    assert first == (f"true {names[row.label]}\ndense {names[row.dense_mode]}\n"
                     f"compr. {names[row.compressed_mode]}\nMale, not Young")
    plt.close(figure)
    page = report.html.read_text(encoding="utf-8")
    assert "most changed first: true / dense modal / compressed modal label" in page
    assert "then Male, Young." in page   # the protected attributes, not the target


def test_in_short_block_heads_the_findings_and_links_each_variant(study, written):
    tables, labels, dense, compressed = study
    text = written.html.read_text(encoding="utf-8")
    block = re.search(r'<h3 id="in_short">In short</h3><ul class="in-short">(.*?)</ul>', text)
    assert block and text.index('id="in_short"') < text.index('class="finding-variant"')
    rows = re.findall(r'<li class="in-short" data-variant="([^"]+)">(.*?) '
                      r'<a class="to-variant" href="#([^"]+)">', block.group(1))
    # by sparsity, then pruned before quantized: the export follows its source
    assert [r[0] for r in rows] == ["dense+tflite_int8", "prune@0.5", "prune@0.9",
                                    "prune@0.9+tflite_int8"]
    for variant, _sentence, anchor in rows:
        assert f'<h3 class="finding-variant" id="{anchor}">{variant}</h3>' in text
    sentences = {r[0]: r[1] for r in rows}
    accuracy = (compressed["prune@0.9"] == labels).mean(1)
    change = accuracy.mean() - (dense == labels).mean(1).mean()
    assert sentences["prune@0.9"].startswith(
        f"prune@0.9: {100 * change:+.1f} points top-1 (sd {100 * accuracy.std(ddof=1):.1f}), "
        f"{100 * (_mode(dense) != _mode(compressed['prune@0.9'])).mean():.1f}% of examples")
    assert sentences["dense+tflite_int8"].endswith("; 39.1 KiB gzipped.")
    assert sentences["prune@0.9+tflite_int8"].endswith("; 11.7 KiB gzipped.")
