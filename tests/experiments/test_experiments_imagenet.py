"""experiments/imagenet_pie.py on its tiny preset: PIE, class impact and corruption error from the
clean and corrupted sets, every number checked against the prediction store."""
import numpy as np
import pytest

from tests.experiments._study_run import member_accuracy, modal, run_study
from tests.report._chromium import dump_dom, require_chromium

PRUNED = "prune_ft@0.9"
CORRUPTED = ["gaussian_noise@3", "fog@3"]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return run_study("imagenet_pie.py", tmp_path_factory)


def test_outputs_agree_with_the_store(study):
    out, run, store, tables = study
    assert sorted(store.eval_sets()) == sorted(["test", *CORRUPTED])
    assert sorted(store.variants()) == ["dense", PRUNED]
    assert "deployment" not in tables  # the tiny preset deploys nothing (deploy_mode="")
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"class_impact.png", "group_rates.png", "robustness.png"} <= figures

    evaluation = store.eval_set("test")
    labels = evaluation.labels
    dense, pruned = (store.read(v, "test").labels for v in ("dense", PRUNED))
    pie = tables["pie"]
    np.testing.assert_array_equal(pie["cie"].to_numpy(), modal(dense) != modal(pruned))
    assert len(tables["class_impact"]) == 10  # every Fashion-MNIST class, tested or not
    recall = [np.mean(row[labels == 1] == 1) for row in dense]
    trouser = tables["class_impact"].set_index("class").loc[1]
    assert trouser["dense_recall"] == pytest.approx(np.mean(recall))

    # corruption error of each population, member by member from the corrupted sets
    robustness = tables["robustness"].set_index(["population", "corruption"])
    for variant, population in (("dense", "dense"), (PRUNED, PRUNED)):
        for name in CORRUPTED:
            corrupted = store.eval_set(name)
            assert corrupted.num_examples == 64
            np.testing.assert_array_equal(corrupted.labels, labels[:64])  # same examples
            predictions = store.read(variant, name).labels
            error = 1 - member_accuracy(predictions, corrupted.labels)
            assert robustness.loc[(population, name.split("@")[0]), "error_mean"] == \
                pytest.approx(error)
    clean = tables["robustness_summary"].set_index("population").loc[PRUNED, "clean_error_mean"]
    assert clean == pytest.approx(1 - member_accuracy(pruned, labels))


def test_page_in_chromium(study, tmp_path):
    require_chromium()
    out, _, _, _ = study
    page = dump_dom(out / "report.html", tmp_path)
    for heading in ("Summary", "Class impact", "Robustness to corruptions",
                    "Mean corruption error (mCE)"):
        assert heading in page.headings["h2"]
    assert "Over-indexing of protected groups among exemplars" not in page.headings["h2"]
    assert {"fog", "gaussian_noise", "Trouser"} <= set(page.cells)
    for img in page.images:
        width, height = (int(v) for v in img["data-natural"].split("x"))
        assert width > 100 and height > 100
