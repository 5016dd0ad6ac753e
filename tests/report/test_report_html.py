"""The report: CSV tables equal to the audit's, figures that draw those tables, and an HTML page
that headless Chromium renders with its headings, values and decoded images."""
import re

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pie_tf import report
from tests.report._chromium import dump_dom, require_chromium, screenshot

VARIANTS = ["prune_0.5", "prune_0.9"]
SIGNIFICANT_RGB = (0xc0 / 255, 0x39 / 255, 0x2b / 255)  # the figure's colour of significant bars


@pytest.fixture(scope="module")
def tables():
    rng = np.random.default_rng(3)
    class_impact = pd.DataFrame({
        "variant": np.repeat(VARIANTS, 10), "class": np.tile(np.arange(10), 2),
        "normalized_change": rng.normal(0, 0.02, 20),
        "significant": np.r_[[True] * 3, [False] * 7, [True] * 5, [False] * 5]})
    groups = ["Male", "Young", "Blond_Hair & Male", "Blond_Hair & not Male"]
    ratio = rng.uniform(0.5, 3, 8)
    overindex = pd.DataFrame({"variant": np.repeat(VARIANTS, 4), "group": groups * 2,
                              "overindex": ratio, "ci_low": ratio * 0.7, "ci_high": ratio * 1.4})
    n = 2 * 3 * 2
    group_rates = pd.DataFrame({
        "variant": np.repeat(VARIANTS, 6),
        "group": np.tile(np.repeat(["all", "Male", "not Male"], 2), 2),
        "metric": ["false_positive_rate", "false_negative_rate"] * 6,
        "dense_mean": np.tile(rng.uniform(0, .3, 6), 2), "dense_std": 0.01,
        "compressed_mean": rng.uniform(0, .3, n), "compressed_std": 0.02})
    populations = ["dense", *VARIANTS]
    robustness = pd.DataFrame([(p, c, rng.uniform(.1, .5)) for p in populations
                               for c in ("fog", "snow")],
                              columns=["population", "corruption", "error_mean"])
    robustness_summary = pd.DataFrame({"population": populations,
                                       "clean_error_mean": [0.1, 0.12, 0.2]})
    loyalty_by_member = pd.DataFrame({"population": "dense", "member": [0, 1],
                                      "label_loyalty": [0.97, 0.98]})
    pie = pd.DataFrame({"variant": "prune_0.9", "id": np.arange(40) + 1000,
                        "label": rng.integers(0, 10, 40), "dense_mode": rng.integers(0, 10, 40),
                        "compressed_mode": rng.integers(0, 10, 40), "cie": np.arange(40) % 3 == 0})
    summary = pd.DataFrame({"population": ["dense", *VARIANTS],
                            "accuracy": [0.9137, 0.9021, 0.8712]})
    return dict(summary=summary, class_impact=class_impact, overindex=overindex,
                group_rates=group_rates, robustness=robustness,
                robustness_summary=robustness_summary, loyalty_by_member=loyalty_by_member, pie=pie,
                bin_errors=pd.DataFrame({"bin": [1, 2], "ece": [0.0123, 0.0456]}))


@pytest.fixture(scope="module")
def written(tables, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(0)
    images = {i: rng.integers(0, 256, (28, 28, 1), dtype=np.uint8) for i in range(1000, 1040)}
    names = [f"class{k}" for k in range(10)]
    return report.write_report(tables, out, title="Audit of a test population", images=images,
                               class_names=names, max_exemplars=8,
                               sparsity={"dense": 0.0, "prune_0.5": 0.5, "prune_0.9": 0.9})


def test_tables_are_the_audit_tables(tables, written):
    assert set(written.tables) == set(tables)
    for name, frame in tables.items():
        back = pd.read_csv(written.tables[name])
        assert list(back.columns) == list(frame.columns)
        for column in frame.columns:
            if frame[column].dtype.kind == "f":
                np.testing.assert_allclose(back[column], frame[column], rtol=1e-12)
            else:
                assert back[column].astype(str).tolist() == frame[column].astype(str).tolist()


def test_figures_written_and_page_self_contained(written):
    assert set(written.figures) == {"class_impact", "overindex", "group_rates",
                                    "robustness", "exemplars_prune_0_9"}
    for path in written.figures.values():
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 100 and image.shape[1] > 100 and image.std() > 0.01
    text = written.html.read_text()
    assert text.count('src="data:image/png;base64,') == len(written.figures)
    # Nothing fetched from anywhere: no script, no stylesheet link, no remote URL.
    assert not re.search(r"<script|<link|<iframe|(src|href)=\"(https?:)?//", text)


def test_class_figure_marks_exactly_the_significant_classes(tables):
    frame = tables["class_impact"]
    fig = report.class_change_figure(frame)
    for ax, variant in zip(fig.axes, VARIANTS):
        rows = frame[frame["variant"] == variant]
        red = [p for p in ax.patches if np.allclose(p.get_facecolor()[:3], SIGNIFICANT_RGB)]
        assert len(red) == rows["significant"].sum()
        heights = sorted(p.get_height() for p in red)
        np.testing.assert_allclose(
            heights, sorted(rows.loc[rows["significant"], "normalized_change"]))
        assert f"{rows['significant'].sum()} of 10 classes significant" in ax.get_title()
    plt.close(fig)


def test_chromium_shows_headings_values_and_images(tables, written, tmp_path):
    require_chromium()
    page = dump_dom(written.html, tmp_path)
    assert page.body_attrs.get("data-probed") == "yes", "the page did not finish loading"
    assert page.headings["h1"] == ["Audit of a test population"]
    for heading in ("Summary", "Class impact", "Over-indexing of protected groups among exemplars",
                    "Error rates per group, dense against compressed", "Robustness to corruptions",
                    "Mean corruption error (mCE)", "Compression-identified exemplars (PIE / CIE)",
                    "Per-member tables (CSV)", "Other tables"):
        assert heading in page.headings["h2"]
    assert "bin_errors" in page.headings["h3"]  # a table the report does not know
    # Values appear as the tables hold them (4 significant digits on the page).
    for value in ("0.9137", "0.8712", "Blond_Hair & not Male", "0.0456", "prune_0.9"):
        assert value in page.cells
    # The pie section lists exemplars only: ids 1000, 1003, ... but not 1001.
    assert "1003" in page.cells and "1001" not in page.cells
    assert len(page.images) == 5
    for img in page.images:
        width, height = (int(v) for v in img["data-natural"].split("x"))
        assert width > 100 and height > 100, img.get("alt")

    shot = screenshot(written.html, tmp_path / "shot.png", tmp_path)
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (2400, 1200)
    assert pixels[..., :3].std() > 0.05  # text and figures, not a blank page


def test_bad_input(tmp_path):
    with pytest.raises(TypeError, match="audit"):
        report.write_report([1, 2], tmp_path)
    with pytest.raises(TypeError, match="'summary'"):
        report.write_report({"summary": [1]}, tmp_path)
    with pytest.raises(ValueError, match="class_impact.*lacks column"):
        report.write_report({"class_impact": pd.DataFrame({"class": [0]})}, tmp_path)
    with pytest.raises(ValueError, match="images"):
        report.exemplar_grid_figure(np.zeros((0, 4, 4)), [], [], [])


def test_exemplar_grid_of_images_of_different_sizes(tables, tmp_path):
    # raw ImageNet images keep their JPEG's size: the grid draws each at its own
    rng = np.random.default_rng(1)
    sizes = [(44, 19, 3), (47, 17, 3), (300, 500, 3)]
    images = [rng.integers(0, 256, s, dtype=np.uint8) for s in sizes]
    fig = report.exemplar_grid_figure(images, [0, 1, 2], [0, 1, 2], [1, 1, 0])
    drawn = [ax.get_images()[0].get_array().shape for ax in fig.axes if ax.get_images()]
    assert drawn == sizes
    plt.close(fig)
    cie = tables["pie"][tables["pie"]["cie"]]
    by_id = {i: images[k % 3] for k, i in enumerate(cie["id"])}
    written = report.write_report({"pie": tables["pie"]}, tmp_path, images=by_id,
                                  max_exemplars=3)
    assert (tmp_path / "figures" / "exemplars_prune_0_9.png").stat().st_size > 1000
    assert written.html.exists()
