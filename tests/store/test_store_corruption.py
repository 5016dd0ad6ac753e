"""A corrupt, truncated, half-written or foreign file is an error naming it, never a wrong array."""
import json
import os

import numpy as np
import pytest

from pie_tf.store import PredictionStore, StoreError


@pytest.fixture
def store(tmp_path):
    store = PredictionStore(str(tmp_path / "s"))
    store.write_eval_set("test", np.arange(50), np.arange(50) % 3, n_classes=3)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=50)
    store.write_member("dense", 0, {"test": probs}, recipe={})
    return store


def _member_file(store, name):
    return os.path.join(store.root, "members", "dense", "seed_0", name)


def test_altered_bytes_fail_the_checksum(store):
    path = _member_file(store, "test.labels.npy")
    data = bytearray(open(path, "rb").read())
    data[-1] ^= 1  # same size, one label changed
    open(path, "wb").write(bytes(data))
    with pytest.raises(StoreError, match="test.labels.npy: checksum differs") as err:
        store.read("dense", "test")
    assert err.value.path == path
    unverified = PredictionStore(store.root, verify=False)
    assert unverified.read("dense", "test").labels.shape == (1, 50)  # opt-out is explicit


def test_truncated_and_replaced_files(store):
    path = _member_file(store, "test.probs.npy")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-10])
    with pytest.raises(StoreError, match="test.probs.npy: has .* bytes; the manifest says"):
        store.read("dense", "test", fields="probs")
    np.save(path, np.zeros((50, 3), np.float32))  # a valid .npy, but not ours
    with pytest.raises(StoreError, match="test.probs.npy"):
        store.read("dense", "test", fields="probs")
    os.remove(path)
    with pytest.raises(StoreError, match="test.probs.npy: missing"):
        store.read("dense", "test", fields="probs")


def test_corrupt_and_foreign_manifests(store, tmp_path):
    manifest = _member_file(store, "MEMBER.json")
    original = open(manifest).read()
    open(manifest, "w").write(original[:40])
    with pytest.raises(StoreError, match="MEMBER.json: is not valid JSON"):
        store.read("dense", "test")
    open(manifest, "w").write(json.dumps({"format": "something.else"}))
    with pytest.raises(StoreError, match="MEMBER.json: is not a 'pie_tf.store.member' manifest"):
        store.member_info("dense", 0)
    other = tmp_path / "foreign"
    other.mkdir()
    (other / "STORE.json").write_text('{"name": "not ours"}')
    with pytest.raises(StoreError, match="STORE.json: is not a 'pie_tf.prediction_store'"):
        PredictionStore(str(other))


def test_half_written_member_is_invisible_and_cleared(store):
    directory = os.path.join(store.root, "members", "dense", "seed_1")
    os.makedirs(directory)
    # what a run killed mid-member leaves: a complete array and a temporary one, no manifest
    np.save(os.path.join(directory, "test.labels.npy"), np.zeros(50, np.int16))
    open(os.path.join(directory, "test.probs.npy.tmp-1234"), "wb").write(b"\x93NUMPY")
    assert not store.has_member("dense", 1)
    assert store.members() == [("dense", 0)]
    assert list(store.read("dense", "test").seeds) == [0]
    probs = np.full((50, 3), 1 / 3)
    store.write_member("dense", 1, {"test": probs}, recipe={})
    assert sorted(os.listdir(directory)) == ["MEMBER.json", "test.labels.npy", "test.probs.npy"]
    assert store.verify_all() == 2 + 2 * 2
