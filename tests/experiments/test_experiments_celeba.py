"""experiments/celeba_bias.py on its tiny preset: every table, figure and the page, each number
checked against the prediction store it came from; then a resumed run that trains nothing."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from tests.experiments._study_run import member_accuracy, modal, run_script, run_study
from tests.report._chromium import dump_dom, require_chromium

DENSE, PRUNED, EXPORT = "dense", "prune_ft@0.9", "prune_ft@0.9+tflite_int8"
TABLES = {"summary", "pie", "pie_summary", "class_impact", "class_impact_summary", "overindex",
          "group_rates", "group_rates_by_member", "loyalty", "loyalty_by_member",
          "corruption_errors", "robustness", "robustness_summary", "imagenet_a",
          "imagenet_a_by_member", "deployment", "deployment_exemplars", "deployment_sizes",
          "forecast_risk", "forecast", "forecast_groups", "calibration", "calibration_by_member",
          "reliability", "flips", "group_rate_intervals", "paired_tests", "exemplar_scores",
          "deployment_calibration", "deployment_paired_tests", "forgetting_curve"}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return run_study("celeba_bias.py", tmp_path_factory)


def test_every_table_and_figure_is_written(study):
    out, run, store, tables = study
    assert set(tables) == TABLES
    figures = {p.name for p in (out / "figures").glob("*.png")}
    # the exemplar grid is drawn exactly when the pruned variant has exemplars
    has_cie = tables["pie"].query("variant == @PRUNED")["cie"].any()
    assert figures == {"forgetting_curve.png", "class_impact.png", "overindex.png",
                       "group_rates.png", "forecast.png", "calibration.png", "flips.png"} | (
        {"exemplars_prune_ft_0_9.png"} if has_cie else set())
    assert (out / "report.html").stat().st_size > 10_000
    assert sorted(store.variants()) == sorted([DENSE, PRUNED, EXPORT])
    assert all(len(store.seeds(v)) == 2 for v in store.variants())
    assert "Report:" in run.stdout


def test_tables_agree_with_the_store(study):
    _, _, store, tables = study
    evaluation = store.eval_set("test")
    labels, ids = evaluation.labels, evaluation.ids.astype(str)
    dense = store.read(DENSE, "test").labels
    pruned = store.read(PRUNED, "test").labels
    exported = store.read(EXPORT, "test").labels
    cie = modal(dense) != modal(pruned)

    pie = tables["pie"][tables["pie"]["variant"] == PRUNED]
    assert pie["id"].astype(str).tolist() == ids.tolist()
    np.testing.assert_array_equal(pie["cie"].to_numpy(), cie)
    summary = tables["summary"].set_index("variant").loc[PRUNED]
    assert summary["n_cie"] == cie.sum()
    assert summary["dense_accuracy_all"] == pytest.approx(member_accuracy(dense, labels))
    assert summary["compressed_accuracy_all"] == pytest.approx(member_accuracy(pruned, labels))

    # over-indexing of Male among CIEs, from the stored attribute
    male = evaluation.attributes["Male"].astype(bool)
    row = tables["overindex"].query("variant == @PRUNED and group == 'Male'").iloc[0]
    assert row["share_eval"] == pytest.approx(male.mean())
    assert row["n_cie"] == (cie & male).sum()

    # false positive rate of the whole set, dense population, member by member
    fpr = [np.mean(row[labels == 0] == 1) for row in dense]
    rate = tables["group_rates"].query(
        "variant == @PRUNED and group == 'all' and metric == 'false_positive_rate'").iloc[0]
    assert rate["dense_mean"] == pytest.approx(np.mean(fpr))

    # deployment: the TFLite export against its Keras source
    deployment = tables["deployment"].set_index("variant").loc[EXPORT]
    assert deployment["source"] == PRUNED
    assert deployment["n_deployment_exemplars"] == (modal(pruned) != modal(exported)).sum()
    assert deployment["tflite_accuracy_all"] == pytest.approx(member_accuracy(exported, labels))
    assert len(tables["deployment_exemplars"]) == deployment["n_deployment_exemplars"]
    # probability loyalty of the int8 export to its source's mean distribution, where the audit
    # accepts the stored int8 softmax outputs (they sum to 1 - 1/256) as probabilities; never a
    # number computed on them as if they were logits
    source = store.read(PRUNED, "test", ("probs",)).probs.astype(np.float64).mean(axis=0)
    export_probs = store.read(EXPORT, "test", ("probs",)).probs.astype(np.float64)
    loyalty = [np.mean(1 - jensenshannon(p, source, axis=1, base=2)) for p in export_probs]
    if np.isnan(deployment["probability_loyalty_mean"]):
        assert np.abs(export_probs.sum(axis=-1) - 1).max() > 1e-3  # refused: not normalized
    else:
        assert deployment["probability_loyalty_mean"] == pytest.approx(np.mean(loyalty),
                                                                       abs=1e-4)
    sizes = tables["deployment_sizes"]
    assert (sizes["tflite_bytes"] > 1000).all()
    assert ((sizes["tflite_gzip_bytes"] > 100) & (sizes["tflite_gzip_bytes"]
                                                  < sizes["tflite_bytes"])).all()


def test_statistics_beyond_the_papers_agree_with_the_store(study):
    _, _, store, tables = study
    labels = store.eval_set("test").labels
    dense, pruned = store.read(DENSE, "test").labels, store.read(PRUNED, "test").labels
    d_ok, c_ok = modal(dense) == labels, modal(pruned) == labels
    b, c = int((d_ok & ~c_ok).sum()), int((~d_ok & c_ok).sum())
    row = tables["paired_tests"].query("variant == @PRUNED and group == 'all'").iloc[0]
    assert (row["b"], row["c"]) == (b, c)
    if b + c:
        assert row["p_value"] == pytest.approx(stats.binomtest(b, b + c).pvalue)
    flips = tables["flips"].query("variant == @PRUNED and group == 'all'").iloc[0]
    assert flips["n_negative_flips"] == b and flips["n_positive_flips"] == c
    # ECE of the dense members (10 equal-width bins), member by member, by a loop
    probs = store.read(DENSE, "test", ("probs",)).probs.astype(np.float64)
    probs /= probs.sum(-1, keepdims=True)
    eces = []
    for member in probs:
        conf, hit = member.max(-1), member.argmax(-1) == labels
        bins = np.clip(np.ceil(conf * 10) - 1, 0, 9)
        eces.append(sum(abs(hit[bins == k].mean() - conf[bins == k].mean()) * (bins == k).mean()
                        for k in range(10) if (bins == k).any()))
    ece = tables["calibration"].query("population == @DENSE and group == 'all'").iloc[0]
    assert ece["ece_mean"] == pytest.approx(np.mean(eces), abs=1e-5)
    assert ece["n_bins"] == 10
    assert set(tables["deployment_paired_tests"]["variant"]) == {EXPORT}
    assert set(tables["deployment_calibration"]["population"]) == {PRUNED, EXPORT}
    forecast = tables["forecast"].query("variant == @PRUNED")
    assert set(forecast["score"]) == {"vote_margin", "disagreement", "probability_margin",
                                      "entropy", "mutual_information"}


def test_page_in_chromium(study, tmp_path):
    require_chromium()
    out, _, _, tables = study
    page = dump_dom(out / "report.html", tmp_path, window=(1280, 1600))
    assert page.body_attrs["data-sections"].split(",")[0] == "findings"
    assert page.findings[0][1].startswith("Caveat: the data are celeba_standin, a stand-in")
    assert int(page.body_attrs["data-scroll-width"]) <= 1280 and not page.body_attrs["data-wide"]
    for heading in ("Summary", "Class impact", "Over-indexing of protected groups among exemplars",
                    "Error rates per group, dense against compressed",
                    "Deployed (TFLite) models against their Keras source"):
        assert heading in page.headings["h2"]
    assert PRUNED in page.cells and EXPORT in page.cells
    assert "Male ∧ Blond_Hair" in page.cells  # the rare group of the CelebA paper
    assert len(page.images) >= 3
    for img in page.images:
        width, height = (int(v) for v in img["data-natural"].split("x"))
        assert width > 100 and height > 100


def test_rerun_resumes_without_training(study):
    out, _, _, tables = study
    again = run_script("celeba_bias.py", out)
    assert "population: 0 members trained now, 6 already stored" in again.stderr
    summary = pd.read_csv(out / "tables" / "summary.csv")
    pd.testing.assert_frame_equal(summary, tables["summary"])


@pytest.mark.slow
def test_changed_flags_incomplete_report_and_repair(study, tmp_path):
    import os
    import shutil

    original, _, store, _ = study
    out = tmp_path / "run"
    shutil.copytree(original, out)
    manifest = out / "store" / "members" / DENSE / "seed_0" / "MEMBER.json"
    before = manifest.stat().st_mtime_ns
    # other flags on a finished --out_dir: stopped before any work, with the differences
    changed = run_script("celeba_bias.py", out, "--epochs=2", check=False)
    assert changed.returncode != 0
    assert "recipe.epochs: stored 1, requested 2" in changed.stderr
    assert "--retrain_changed" in changed.stderr and "Traceback" not in changed.stderr
    assert manifest.stat().st_mtime_ns == before

    # a damaged member: --stage=report refuses it, --stage=repair re-predicts it
    labels_file = manifest.parent / "test.labels.npy"
    data = bytearray(labels_file.read_bytes())
    data[-1] ^= 1
    labels_file.write_bytes(bytes(data))
    damaged = run_script("celeba_bias.py", out, "--stage=report", check=False)
    assert damaged.returncode != 0 and "checksum differs" in damaged.stderr
    repaired = run_script("celeba_bias.py", out, "--stage=repair")
    assert f"repair: removed damaged member {DENSE} seed 0" in repaired.stderr
    assert "population: 1 members trained now, 5 already stored" in repaired.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "tables" / "summary.csv"),
                                  pd.read_csv(original / "tables" / "summary.csv"))

    # an incomplete store: --stage=report exits non-zero naming what is missing, and the
    # earlier report no longer looks current
    shutil.rmtree(out / "store" / "members" / PRUNED / "seed_1")
    incomplete = run_script("celeba_bias.py", out, "--stage=report", check=False)
    assert incomplete.returncode != 0
    assert "lacks 1 of 6 members" in incomplete.stderr and f"{PRUNED} seed 1" in incomplete.stderr
    assert not (out / "report.html").exists() and (out / "report.stale.html").exists()
    empty = run_script("celeba_bias.py", tmp_path / "nothing", "--stage=report", check=False)
    assert empty.returncode != 0 and "holds no prediction store" in empty.stderr
    assert not os.path.exists(tmp_path / "nothing" / "store" / "STORE.json")
