"""Both studies' ``--preset=paper`` end to end on tfds mock data: the paper's datasets (tfds
``celeb_a`` with its 40 attributes; ``imagenet2012``, the 75 ``imagenet2012_corrupted`` configs,
``imagenet_a``), architectures (ResNet-18, ResNet-50), image size (224), variants, TFLite modes
and corruption configs, with only sizes overridden (members, examples, batch, calibration
images) and one sparsity of the paper's. Tables are checked against the store by independent
code, as the tiny studies are. The ImageNet run keeps two of the 15 ImageNet-C corruptions
(gaussian_noise, fog), at all five severities and read from tfds ``imagenet2012_corrupted``:
every code path of the 75 sets at a seventh of the cost (each set costs a tfds builder and a
prediction pass per member); ``benchmarks/device_check.sh`` runs all 75.

These are the slowest tests of the suite (ResNets at 224 px and their TFLite conversions on two
CPU cores); a user on a rented accelerator meets the same code paths in the first minutes.
"""
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from pie_tf.store import PredictionStore
from tests.experiments._study_run import ROOT, member_accuracy, modal

pytestmark = pytest.mark.slow
SIZES = ["--members=2", "--epochs=1", "--calibration_examples=8", "--sparsities=0.9"]


def run_paper(script, out_dir, num_examples, *flags, timeout=1800):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2",
               CUDA_VISIBLE_DEVICES="")
    done = subprocess.run(
        [sys.executable, "-m", "tests.experiments._mock_paper", f"experiments/{script}",
         str(num_examples), "--preset=paper", f"--out_dir={out_dir}", *SIZES, *flags],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-6000:])
    tables = {p.stem: pd.read_csv(p) for p in (out_dir / "tables").glob("*.csv")}
    return done, PredictionStore(str(out_dir / "store")), tables


@pytest.fixture(scope="module")
def celeba(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_celeba")
    return (out,) + run_paper("celeba_bias.py", out, 32, "--train_examples=32",
                              "--eval_examples=32", "--batch_size=16")


@pytest.fixture(scope="module")
def imagenet(tmp_path_factory):
    out = tmp_path_factory.mktemp("paper_imagenet")
    return (out,) + run_paper("imagenet_pie.py", out, 16, "--train_examples=16",
                              "--eval_examples=8", "--batch_size=8", "--corruption_examples=8",
                              "--corruptions=gaussian_noise,fog")


def test_celeba_paper_preset(celeba):
    out, run, store, tables = celeba
    # the paper's variants: pruned during training, QAT, post-training dynamic and int8, and the
    # int8 export of every compressed model
    assert sorted(store.variants()) == sorted([
        "dense", "prune@0.9", "qat_int8", "dense+tflite_dynamic", "dense+tflite_int8",
        "prune@0.9+tflite_int8", "qat_int8+tflite_int8"])
    evaluation = store.eval_set("test")
    assert len(evaluation.attributes) == 40 and evaluation.n_classes == 2
    np.testing.assert_array_equal(evaluation.labels,
                                  evaluation.attributes["Blond_Hair"].astype(int))
    recipe = store.member_info("prune@0.9", 0)["recipe"]
    assert recipe["jit_compile"] and recipe["mixed_precision"] == "float32"  # "auto" on a CPU
    labels = evaluation.labels
    dense, pruned = store.read("dense", "test").labels, store.read("prune@0.9", "test").labels
    row = tables["summary"].set_index("variant").loc["prune@0.9"]
    assert row["n_cie"] == (modal(dense) != modal(pruned)).sum()
    assert row["compressed_accuracy_all"] == pytest.approx(member_accuracy(pruned, labels))
    male = evaluation.attributes["Male"].astype(bool)
    over = tables["overindex"].query("variant == 'prune@0.9' and group == 'Male'").iloc[0]
    assert over["share_eval"] == pytest.approx(male.mean())
    assert set(tables["deployment"]["variant"]) == {"prune@0.9+tflite_int8",
                                                    "qat_int8+tflite_int8"}
    assert (out / "report.html").stat().st_size > 10_000 and "Report:" in run.stdout


def test_imagenet_paper_preset(imagenet):
    out, run, store, tables = imagenet
    assert sorted(store.variants()) == ["dense", "prune@0.9", "prune@0.9+tflite_int8"]
    sets = store.eval_sets()
    corrupted = [s for s in sets if store.eval_set(s).info.get("corruption")]
    assert len(corrupted) == 10  # 2 corruptions x 5 severities, tfds imagenet2012_corrupted
    validation = store.eval_set("validation")
    assert validation.n_classes == 1000
    # 1000 classes are stored as top-5 labels and probabilities (float16), not full rows
    assert "topk_labels" in store.fields_for("validation")
    assert "probs" not in store.fields_for("validation")
    top = store.read("dense", "validation", ("topk_labels", "labels"))
    np.testing.assert_array_equal(top.topk_labels[:, :, 0], top.labels)
    # ImageNet-A: the argmax over its 200 classes, in the 1000-class label space
    subset = store.eval_set("imagenet_a")
    assert len(subset.class_subset) == 200
    restricted = store.read("dense", "imagenet_a", ("restricted_labels",)).restricted_labels
    assert np.isin(restricted, subset.class_subset).all()
    accuracy = tables["imagenet_a"].set_index("population").loc["dense", "accuracy_mean"]
    assert accuracy == pytest.approx(member_accuracy(restricted, subset.labels))
    # the export predicts on the sets its audit reads, not on the 75 corrupted ones
    export_sets = {s for s in sets if store.has_member("prune@0.9+tflite_int8", 0)
                   and _has(store, "prune@0.9+tflite_int8", s)}
    assert export_sets == {"validation", "imagenet_a"}
    # AlexNet-normalised mCE from the stored labels, by a loop over corruptions and severities
    from pie_tf.audit import ALEXNET_MEAN_ERRORS
    dense = {s: store.read("dense", s).labels for s in corrupted}
    ce = []
    for corruption in ("gaussian_noise", "fog"):
        errors = [np.mean([np.mean(m != store.eval_set(f"{corruption}@{k}").labels)
                           for m in dense[f"{corruption}@{k}"]]) for k in range(1, 6)]
        ce.append(np.sum(errors) / (5 * ALEXNET_MEAN_ERRORS[corruption]))
    mce = tables["robustness_summary"].set_index("population").loc["dense", "mce_mean"]
    assert mce == pytest.approx(np.mean(ce), rel=1e-6)
    # class impact over 1000 classes, readable in the page: a figure, not 1000 bars
    assert len(tables["class_impact"].query("variant == 'prune@0.9'")) == 1000
    assert (out / "report.html").stat().st_size > 10_000


def _has(store, variant, eval_set):
    from pie_tf.errors import MissingEvaluationError
    try:
        store.read(variant, eval_set, ("labels",))
        return True
    except MissingEvaluationError:
        return False
