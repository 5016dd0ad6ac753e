"""A run killed mid-population loses at most the member in flight; re-running completes it."""
import os
import signal
import subprocess
import sys
import time

from pie_tf.store import PredictionStore
from tests.population import _tiny

JOB = os.path.join(os.path.dirname(__file__), "_population_job.py")


def test_killed_run_resumes_without_half_files(tmp_path):
    root = str(tmp_path / "store")
    process = subprocess.Popen([sys.executable, JOB, root, "0,1", "dense"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first_member = os.path.join(root, "members", "dense", "seed_0", "MEMBER.json")
    deadline = time.monotonic() + 90
    try:
        while not os.path.exists(first_member) and process.poll() is None:
            assert time.monotonic() < deadline, "the job wrote no member within 90 s"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    store = PredictionStore(root)
    written_before = store.members()
    assert written_before == [("dense", 0)]  # killed while seed 1 trained

    results = _tiny.population(root, seeds=[0, 1]).run()
    assert [(r.seed, r.status) for r in results] == [(0, "skipped"), (1, "written")]
    assert store.members() == [("dense", 0), ("dense", 1)]
    assert store.verify_all() == 3 + 2 * 2  # ids, labels, 1 attribute; 2 members x 2 fields
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                 if ".tmp-" in f]
    assert leftovers == []
