"""A store is never created over something else, never silently reset, and never takes scores
that are not probabilities."""
import os

import numpy as np
import pytest

from pie_tf.errors import NotProbabilitiesError
from pie_tf.store import PredictionStore, StoreError


def _filled(root):
    store = PredictionStore(str(root))
    store.write_eval_set("test", np.arange(6), np.arange(6) % 3, n_classes=3)
    probs = np.random.default_rng(0).dirichlet(np.ones(3), size=6)
    store.write_member("dense", 0, {"test": probs}, recipe={})
    return store, probs


def test_no_store_json_written_into_a_non_empty_folder_that_is_not_a_store(tmp_path):
    run_root = tmp_path / "run"
    (run_root / "tables").mkdir(parents=True)
    (run_root / "report.html").write_text("<html></html>")
    with pytest.raises(StoreError, match=f"{run_root}: is a non-empty folder that is not a "
                                         "prediction store.*report.html") as err:
        PredictionStore(str(run_root))
    assert err.value.path == str(run_root)
    assert not (run_root / "STORE.json").exists()
    store, _ = _filled(tmp_path / "store")
    members = os.path.join(store.root, "members")
    with pytest.raises(StoreError, match="members: is a non-empty folder"):
        PredictionStore(members)
    assert not os.path.exists(os.path.join(members, "STORE.json"))
    # An empty folder, or one holding only another job's temporary file, becomes a store.
    (tmp_path / "empty").mkdir()
    PredictionStore(str(tmp_path / "empty"))
    (tmp_path / "racing").mkdir()
    (tmp_path / "racing" / "STORE.json.tmp-0123abcd").write_text("{}")
    PredictionStore(str(tmp_path / "racing"))


def test_store_path_that_is_a_file_names_it(tmp_path):
    path = tmp_path / "predictions.npy"
    path.write_bytes(b"\x93NUMPY")
    with pytest.raises(StoreError, match="predictions.npy: is a file, not a folder"):
        PredictionStore(str(path))


def test_deleted_store_json_is_an_error_and_restore_settings_recovers(tmp_path):
    store, probs = _filled(tmp_path / "s")
    os.remove(os.path.join(store.root, "STORE.json"))
    with pytest.raises(StoreError, match="no STORE.json: the store's settings file was deleted"):
        PredictionStore(store.root)
    assert not os.path.exists(os.path.join(store.root, "STORE.json"))
    # Wrong settings are caught against the members' files (probs stored, top-k implied) ...
    with pytest.raises(StoreError, match="not the settings the store was created with"):
        PredictionStore.restore_settings(store.root, max_full_classes=2)
    assert not os.path.exists(os.path.join(store.root, "STORE.json"))
    # ... the right ones give back the same predictions.
    restored = PredictionStore.restore_settings(store.root)
    np.testing.assert_array_equal(restored.read("dense", "test").labels[0], probs.argmax(1))
    with pytest.raises(StoreError, match="exists"):
        PredictionStore.restore_settings(store.root)


def test_write_member_refuses_rows_that_do_not_sum_to_one(tmp_path):
    store, probs = _filled(tmp_path / "s")
    for bad, row in ((probs * 3, 0), (np.where(np.arange(6)[:, None] == 4, probs * 0.5, probs), 4)):
        with pytest.raises(NotProbabilitiesError,
                           match=rf"`probabilities\['test'\]`: \d of 6 rows do not sum to 1 "
                                 rf"\(row {row} sums to"):
            store.write_member("dense", 1, {"test": bad}, recipe={})
    assert not store.has_member("dense", 1)
    # float16 round-off is not an error
    store.write_member("dense", 1, {"test": probs.astype(np.float16)}, recipe={})
    assert store.has_member("dense", 1)
