"""Run an experiment script as the user does (a subprocess), and read a store independently."""
import os
import pathlib
import subprocess
import sys

import numpy as np
from scipy import stats

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_script(script, out_dir, *flags, timeout=300, check=True, env=None):
    """``python experiments/<script> --preset=tiny --out_dir=...``; returns the CompletedProcess
    (which must have succeeded unless ``check=False``). ``env`` adds environment variables."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2",
           "CUDA_VISIBLE_DEVICES": "", **(env or {})}
    done = subprocess.run([sys.executable, str(ROOT / "experiments" / script), "--preset=tiny",
                           f"--out_dir={out_dir}", *flags], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)
    if check:
        assert done.returncode == 0, done.stderr[-4000:]
    return done


def run_study(script, tmp_path_factory):
    """Run ``script`` on the tiny preset into a fresh directory; return what the tests read:
    the output directory, the finished process, the prediction store and every CSV table."""
    import pandas as pd

    from pie_tf.store import PredictionStore
    out = tmp_path_factory.mktemp(script[:-len(".py")])
    run = run_script(script, out)
    tables = {p.stem: pd.read_csv(p) for p in (out / "tables").glob("*.csv")}
    return out, run, PredictionStore(str(out / "store")), tables


def modal(predictions):
    """Modal label per example, ties to the lowest label (scipy's rule, and pie_tf's)."""
    return stats.mode(predictions, axis=0, keepdims=False).mode


def member_accuracy(predictions, labels):
    """Mean over members of each member's accuracy, by a loop."""
    return float(np.mean([np.mean(row == labels) for row in predictions]))
