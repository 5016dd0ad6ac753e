"""A run killed mid-population loses at most the member in flight; re-running completes it."""
import os
import signal
import subprocess
import sys
import time

import numpy as np

from pie_tf.store import PredictionStore
from tests.population import _tiny

JOB = os.path.join(os.path.dirname(__file__), "_population_job.py")


def test_killed_run_resumes_without_half_files(tmp_path):
    root = str(tmp_path / "store")
    process = subprocess.Popen([sys.executable, JOB, root, "0,1,2", "dense"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
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
    assert ("dense", 0) in written_before and len(written_before) < 3  # killed mid-run

    results = _tiny.population(root, seeds=[0, 1, 2]).run()
    statuses = {(r.variant, r.seed): r.status for r in results}
    assert {m for m, s in statuses.items() if s == "skipped"} == set(written_before)
    assert store.members() == [("dense", 0), ("dense", 1), ("dense", 2)]
    assert store.verify_all() == 3 + 3 * 2  # ids, labels, 1 attribute; 3 members x 2 fields
    leftovers = [os.path.join(d, f) for d, _, files in os.walk(root) for f in files
                 if ".tmp-" in f]
    assert leftovers == []
    # the member written by the killed process is the one an uninterrupted run writes
    fresh = _tiny.population(str(tmp_path / "fresh"), seeds=[0]).run()
    assert fresh[0].status == "written"
    np.testing.assert_array_equal(
        PredictionStore(str(tmp_path / "fresh")).read("dense", "test", fields="probs").probs[0],
        store.read("dense", "test", fields="probs", seeds=[0]).probs[0])
