"""Populations under MirroredStrategy (two logical CPUs) and MultiWorkerMirroredStrategy (two
local worker processes on 127.0.0.1)."""
import json
import os
import socket
import subprocess
import sys

import numpy as np

from pie_tf.store import PredictionStore
from tests.population import _tiny

JOB = os.path.join(os.path.dirname(__file__), "_population_job.py")


def test_mirrored_strategy_on_two_logical_cpus(tmp_path, mirrored_strategy):
    strategy = mirrored_strategy
    root = str(tmp_path / "store")
    results = _tiny.population(root, strategy=strategy,
                               variants=["dense", "prune_ft@0.5", "qat_int8"]).run()
    assert [r.status for r in results] == ["written"] * 3
    store = PredictionStore(root)
    info = store.member_info("prune_ft@0.5", 0)["info"]
    assert info == {"strategy": "MirroredStrategy", "replicas": 2}
    # the dense member's predictions are its checkpointed weights' (dataset order kept)
    probs = store.read("dense", "test", fields="probs").probs[0]
    model = _tiny.build_model()
    model.load_weights(f"{root}/checkpoints/dense/seed_0/weights").expect_partial()
    images, _ = _tiny.arrays(40, offset=1000)
    np.testing.assert_allclose(probs, model.predict(images, verbose=0), atol=1e-3)
    # the QAT member (predicted from a plain copy of its mirrored weights) stays close to dense
    qat = store.read("qat_int8", "test", fields="probs").probs[0]
    assert np.mean(qat.argmax(1) == probs.argmax(1)) > 0.8


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_multi_worker_mirrored_strategy_two_local_workers(tmp_path):
    root = str(tmp_path / "store")
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    processes = []
    try:
        for index in range(2):
            env = dict(os.environ, TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
            processes.append(subprocess.Popen(
                [sys.executable, JOB, root, "0", "dense", "multi_worker"], env=env,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        outputs = [p.communicate(timeout=150)[0] for p in processes]
    finally:
        for p in processes:  # bounded in time: never leave a worker behind
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    results = []
    for p, out in zip(processes, outputs):
        assert p.returncode == 0, out[-3000:]
        line = [x for x in out.splitlines() if x.startswith("RESULTS ")][-1]
        results.append([(r["variant"], r["seed"], r["status"]) for r in json.loads(line[8:])])
    # the chief writes; the other worker trains with it and writes nothing
    assert results[0] == [("dense", 0, "written")]
    assert results[1] == [("dense", 0, "not_chief")]
    store = PredictionStore(root)
    assert store.members() == [("dense", 0)]
    probs = store.read("dense", "test", fields="probs").probs[0]
    np.testing.assert_allclose(probs.astype(np.float32).sum(axis=1), 1.0, atol=5e-3)
    assert store.member_info("dense", 0)["info"] == {"strategy": "CollectiveAllReduceStrategy",
                                                     "replicas": 2}
    assert store.verify_all() == 3 + 2
