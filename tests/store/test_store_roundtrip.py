"""PredictionStore: what goes in comes back, reduced as documented, and is written once."""
import numpy as np
import pytest

from pie_tf.store import PredictionStore, StoreError


def _probs(rng, n, c):
    return rng.dirichlet(np.ones(c) * 0.3, size=n).astype(np.float32)


def test_full_probabilities_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    store = PredictionStore(str(tmp_path / "s"))
    labels = rng.integers(0, 4, size=30)
    attrs = {"Male": rng.random(30) < 0.5, "Young": rng.integers(0, 2, size=30)}
    ids = np.array([f"img_{i:03d}" for i in range(30)])
    assert store.write_eval_set("test", ids, labels, n_classes=4, attributes=attrs,
                                info={"split": "test"})
    written = {}
    for seed in (3, 0, 7):
        written[seed] = _probs(rng, 30, 4)
        store.write_member("dense", seed, {"test": written[seed]}, recipe={"epochs": 1},
                           timing={"train_s": 1.5})
    reopened = PredictionStore(str(tmp_path / "s"))
    eval_set = reopened.eval_set("test")
    np.testing.assert_array_equal(eval_set.ids, ids)
    np.testing.assert_array_equal(eval_set.labels, labels)
    np.testing.assert_array_equal(eval_set.attributes["Male"], attrs["Male"])
    assert eval_set.info == {"split": "test"} and eval_set.num_examples == 30
    assert eval_set.n_examples == eval_set.num_examples == 30
    got = reopened.read("dense", "test", fields=("labels", "probs"))
    assert list(got.seeds) == [0, 3, 7]
    assert got.labels.shape == (3, 30) and got.probs.shape == (3, 30, 4)
    assert got.probs.dtype == np.float16 and got.topk_labels is None
    for row, seed in enumerate(got.seeds):
        expected = [max(range(4), key=lambda c: written[seed][i, c]) for i in range(30)]
        assert list(got.labels[row]) == expected
        np.testing.assert_allclose(got.probs[row], written[seed], atol=1e-3)
    info = reopened.member_info("dense", 3)
    assert info["recipe"] == {"epochs": 1} and info["timing"]["train_s"] == 1.5
    assert "numpy" in info["versions"]
    assert reopened.members() == [("dense", 0), ("dense", 3), ("dense", 7)]
    only = reopened.read("dense", "test", seeds=[7])
    np.testing.assert_array_equal(only.labels, got.labels[2:])
    # memory-mapped locally, not loaded
    assert isinstance(reopened.read_member("dense", 0, "test", "probs"), np.memmap)
    assert reopened.verify_all() == 4 + 3 * 2  # ids, labels, 2 attributes; 3 members x 2


def test_topk_and_restricted_labels_for_large_label_spaces(tmp_path):
    rng = np.random.default_rng(2)
    store = PredictionStore(str(tmp_path / "s"), top_k=3, max_full_classes=8)
    subset = np.array([1, 4, 6, 9, 11])
    store.write_eval_set("a", np.arange(40), rng.integers(0, 12, 40), n_classes=12,
                         class_subset=subset)
    probs = _probs(rng, 40, 12)
    store.write_member("prune@0.9", 5, {"a": probs}, recipe={})
    assert store.fields_for("a") == ("labels", "topk_labels", "topk_probs", "restricted_labels")
    got = store.read("prune@0.9", "a", fields=("topk_labels", "topk_probs", "restricted_labels"))
    assert got.labels is None
    for i in range(40):
        order = sorted(range(12), key=lambda c: -probs[i, c])[:3]
        assert list(got.topk_labels[0, i]) == order
        np.testing.assert_allclose(got.topk_probs[0, i], probs[i, order], atol=1e-3)
        assert got.restricted_labels[0, i] == max(subset, key=lambda c: probs[i, c])
    with pytest.raises(ValueError, match="'probs' is not stored.*max_full_classes=8"):
        store.read("prune@0.9", "a", fields=("probs",))
    with pytest.raises(ValueError, match="`top_k`=5 differs"):
        PredictionStore(str(tmp_path / "s"), top_k=5)


def test_written_once_and_bad_input(tmp_path):
    store = PredictionStore(str(tmp_path / "s"))
    store.write_eval_set("test", [0, 1, 2], [0, 1, 1], n_classes=2)
    assert not store.write_eval_set("test", [0, 1, 2], [0, 1, 1], n_classes=2)
    with pytest.raises(ValueError, match="already in the store.*different"):
        store.write_eval_set("test", [0, 1, 2], [0, 0, 1], n_classes=2)
    probs = np.array([[.9, .1], [.2, .8], [.5, .5]])
    store.write_member("dense", 0, {"test": probs}, recipe={})
    assert store.read("dense", "test").labels[0, 2] == 0  # ties go to the lower label
    with pytest.raises(ValueError, match="already in the store"):
        store.write_member("dense", 0, {"test": probs}, recipe={})
    with pytest.raises(ValueError, match=r"shape \(3, 2\)"):
        store.write_member("dense", 1, {"test": probs[:2]}, recipe={})
    with pytest.raises(ValueError, match="not logits"):
        store.write_member("dense", 1, {"test": probs - 1}, recipe={})
    with pytest.raises(ValueError, match="eval set 'val' is not in the store"):
        store.write_member("dense", 1, {"val": probs}, recipe={})
    with pytest.raises(ValueError, match="`variant` must be"):
        store.has_member("../x", 0)
    with pytest.raises(ValueError, match="`seed` must be"):
        store.has_member("dense", -1)
    with pytest.raises(ValueError, match="not unique"):
        store.write_eval_set("dup", [0, 0], [0, 1], n_classes=2)
    with pytest.raises(ValueError, match=r"lie in \[0, 2\)"):
        store.write_eval_set("bad", [0, 1], [0, 2], n_classes=2)
    with pytest.raises(ValueError, match="no members.*stored variants: \\['dense'\\]"):
        store.read("qat_int8", "test")


def test_a_non_local_filesystem_goes_through_gfile():
    # TensorFlow's in-memory filesystem stands in for gs://: no memory-mapping, same checks
    import uuid

    import tensorflow as tf
    root = f"ram://pie_store_{uuid.uuid4().hex}"
    store = PredictionStore(root)
    assert not store.is_local
    store.write_eval_set("test", np.arange(4), [0, 1, 1, 0], n_classes=2)
    probs = np.array([[.7, .3], [.4, .6], [.1, .9], [.8, .2]])
    store.write_member("dense", 2, {"test": probs}, recipe={})
    got = PredictionStore(root).read("dense", "test", fields=("labels", "probs"))
    assert got.labels.tolist() == [[0, 1, 1, 0]] and not isinstance(got.probs, np.memmap)
    path = f"{root}/members/dense/seed_2/test.labels.npy"
    with tf.io.gfile.GFile(path, "rb") as f:
        data = bytearray(f.read())
    data[-2] ^= 1
    tf.io.gfile.remove(path)  # TensorFlow's ram:// appends on "wb" to an existing file
    with tf.io.gfile.GFile(path, "wb") as f:
        f.write(bytes(data))
    with pytest.raises(StoreError, match="test.labels.npy: checksum differs"):
        store.read("dense", "test")
