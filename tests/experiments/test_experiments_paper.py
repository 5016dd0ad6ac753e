"""Both studies' ``--preset=paper`` end to end on tfds mock data: the paper's datasets (tfds
``celeb_a`` with its 40 attributes; ``imagenet2012``, the 75 ``imagenet2012_corrupted`` configs,
``imagenet_a``), architectures (ResNet-18, ResNet-50), image size (224), variants, TFLite modes
and corruption configs, with only sizes overridden (members, examples, batch, calibration
images) and one sparsity of the paper's. Tables are checked against the store by independent
code, as the tiny studies are.

``imagenet_pie.py --preset=paper`` is not here yet: on mock data it trains and evaluates every
member (ResNet-50 at 224 px, 75 ImageNet-C sets, ImageNet-A, int8 export) and then the audit
rightly refuses tfds's fake ImageNet-A labels, which are drawn from all 1,000 classes rather than
ImageNet-A's 200; and at about 8 minutes it would double the suite. ``benchmarks/device_check.sh``
runs it on an accelerator.

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
