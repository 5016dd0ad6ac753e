"""Top-k storage (more than ``max_full_classes`` classes) keeps exactly what a full stable sort
keeps, ties included, while selecting in linear time."""
import numpy as np
import pytest

from pie_tf.store import PredictionStore
from pie_tf.store._store import _top_k


@pytest.mark.parametrize("quantized", [False, True], ids=["float", "int8-like ties"])
def test_top_k_equals_a_stable_sort(quantized):
    rng = np.random.default_rng(0)
    for _ in range(100):
        n, c = int(rng.integers(1, 40)), int(rng.integers(2, 300))
        k = min(int(rng.integers(1, 6)), c)
        probs = rng.random((n, c)).astype(np.float32)
        if quantized:  # a few distinct values: ties at the k-th place in most rows
            probs = np.round(probs * 4) / 4
        expected = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(_top_k(probs, k), expected)


def test_stored_top_k_of_a_member(tmp_path):
    rng = np.random.default_rng(1)
    store = PredictionStore(str(tmp_path / "store"), max_full_classes=8, top_k=3)
    probs = rng.dirichlet(np.ones(20), 50).astype(np.float32)
    probs[0] = 1 / 20  # a uniform row: the three lowest labels, like argmax's tie rule
    store.write_eval_set("v", np.arange(50), rng.integers(0, 20, 50), n_classes=20)
    store.write_member("dense", 0, {"v": probs}, recipe={})
    read = store.read("dense", "v", ("topk_labels", "topk_probs", "labels"))
    np.testing.assert_array_equal(read.topk_labels[0],
                                  np.argsort(-probs, axis=1, kind="stable")[:, :3])
    assert read.topk_labels[0][0].tolist() == [0, 1, 2]
    np.testing.assert_array_equal(read.topk_labels[0][:, 0], read.labels[0])
