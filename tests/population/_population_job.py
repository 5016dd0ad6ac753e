"""Runs a tiny population in its own process (killed mid-run, or as one multi-worker worker).

Usage: python _population_job.py STORE SEEDS VARIANTS [multi_worker] (comma-separated lists);
TF_CONFIG set for multi_worker.
Prints one JSON line with the MemberResults.
"""
import dataclasses
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from pie_tf._keras import tf  # noqa: E402

# a multi-worker strategy must exist before TensorFlow runs anything else
strategy = (tf.distribute.MultiWorkerMirroredStrategy()
            if len(sys.argv) > 4 and sys.argv[4] == "multi_worker" else None)

from tests.population import _tiny  # noqa: E402

seeds = [int(s) for s in sys.argv[2].split(",")]
results = _tiny.population(sys.argv[1], seeds=seeds, variants=sys.argv[3].split(","),
                           strategy=strategy, verbose=1).run()
print("RESULTS " + json.dumps([dataclasses.asdict(r) for r in results]), flush=True)
