"""The audit off the happy path: an undefined ratio is NaN with a status, bad corruption keys and
mismatched populations are refused by name, ragged prediction lists, a bad seed and a store path
that holds no store name the argument."""
import re

import numpy as np
import pandas as pd
import pytest

import tensorflow_datasets as tfds

import pie_tf
import pie_tf.data as pdata
from pie_tf.audit import Audit, AuditOptions, CleanEvaluation, Groups
from pie_tf.audit._robustness import (STATUS_NO_REFERENCE, STATUS_OK, STATUS_REFERENCE_UNCHANGED,
                                      corruption_error, corruption_errors)
from pie_tf.errors import InvalidArgumentError
from pie_tf.store import PredictionStore, StoreError


def _population(rng, labels, members, accuracy):
    keep = rng.random((members, labels.size)) < accuracy
    return np.where(keep, labels, (labels + 1) % 3)


def test_relative_ce_is_nan_with_status_when_the_reference_does_not_change():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 9)           # 9 examples: errors are multiples of 1/9
    dense_clean = _population(rng, labels, 3, 0.6)
    pruned_clean = _population(rng, labels, 2, 0.5)
    pruned_corrupt = _population(rng, labels, 2, 0.4)
    keys = [("contrast", s) for s in (1, 2, 3)]
    # the corruption changes no dense prediction: the reference's numerator and denominator are
    # both 0 (in floating point, round-off of equal means)
    dense_err = corruption_errors({k: dense_clean for k in keys}, labels)
    pruned_err = corruption_errors({k: pruned_corrupt for k in keys}, labels)
    dense_clean_error = (dense_clean != labels).mean(axis=1)
    pruned_clean_error = (pruned_clean != labels).mean(axis=1)
    kwargs = dict(reference="population", reference_errors=dense_err,
                  reference_clean_error=float(dense_clean_error.mean()))
    for errors, clean in ((dense_err, dense_clean_error), (pruned_err, pruned_clean_error)):
        by_c, by_m = corruption_error(errors, clean, **kwargs)
        assert by_c["relative_ce"].isna().all()
        assert (by_c["status"] == STATUS_REFERENCE_UNCHANGED).all()
        assert by_m["relative_mce"].isna().all()
    # CE itself stays defined, and equals a direct computation
    by_c, _ = corruption_error(pruned_err, pruned_clean_error, **kwargs)
    for m in range(2):
        mine = 3 * np.mean(pruned_corrupt[m] != labels)
        ref = 3 * np.mean([(dense_clean[d] != labels).mean() for d in range(3)])
        assert by_c.loc[by_c["member"] == m, "ce"].item() == pytest.approx(mine / ref)


def test_status_is_ok_or_says_which_reference_is_missing():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 40)
    preds = {(c, s): _population(rng, labels, 2, 0.7) for c in ("fog", "speckle_noise")
             for s in range(1, 6)}
    by_c, _ = corruption_error(corruption_errors(preds, labels), np.array([0.2, 0.1]),
                               reference="alexnet")
    assert set(by_c.loc[by_c["corruption"] == "fog", "status"]) == {STATUS_OK}
    assert set(by_c.loc[by_c["corruption"] == "speckle_noise", "status"]) == {STATUS_NO_REFERENCE}


@pytest.mark.parametrize("severity", [9, -1, 0, np.int64(6)])
def test_severity_outside_one_to_five_is_refused(severity):
    labels = np.array([0, 1, 2])
    with pytest.raises(InvalidArgumentError, match=r"key \('fog', .*severity must be one of"):
        corruption_errors({("fog", severity): labels[None]}, labels)


def test_unknown_corruption_with_an_alexnet_reference_is_refused():
    labels = np.array([0, 1, 2])
    errors = corruption_errors({("gausian_noise", s): labels[None] for s in range(1, 6)}, labels)
    with pytest.raises(InvalidArgumentError, match=r"unknown corruption\(s\) \['gausian_noise'\]"):
        corruption_error(errors, np.zeros(1), reference="alexnet")


def test_clean_and_corrupted_populations_must_be_the_same_members():
    labels = np.array([0, 1, 2, 0])
    errors = corruption_errors({("fog", s): np.stack([labels] * 2) for s in range(1, 6)}, labels)
    for clean in (np.zeros(3), np.zeros(1)):
        with pytest.raises(InvalidArgumentError, match=f"`clean_error` has {clean.size} members "
                                                       "but the corruption predictions have 2"):
            corruption_error(errors, clean, reference="alexnet")


def test_ragged_prediction_lists_name_the_argument():
    labels = [0, 1, 1]
    with pytest.raises(InvalidArgumentError, match="`dense_predictions` is ragged"):
        CleanEvaluation([[0, 1, 1], [0, 1]], {"pruned": [[0, 1, 0]]}, labels)
    with pytest.raises(InvalidArgumentError,
                       match=r"`compressed_predictions\['pruned'\]` is ragged"):
        CleanEvaluation([[0, 1, 1]], {"pruned": [[0, 1, 0], [1]]}, labels)


def test_celeb_a_target_may_also_be_an_attribute(tmp_path):
    # tfds celeb_a carries all 40 attributes, Blond_Hair (the target) among them.
    with tfds.testing.mock_data(num_examples=24):
        examples = list(pdata.load("celeb_a", "test").as_numpy_iterator())
    labels = np.array([e["label"] for e in examples])
    attributes = {a: np.array([e["attributes"][a] for e in examples])
                  for a in examples[0]["attributes"]}
    assert len(attributes) == 40 and np.array_equal(attributes["Blond_Hair"], labels == 1)
    store = PredictionStore(str(tmp_path / "store"))
    store.write_eval_set("test", [e["id"] for e in examples], labels, n_classes=2,
                         attributes=attributes)
    rng = np.random.default_rng(0)
    for variant, seeds in (("dense", 3), ("prune@0.9", 3)):
        for seed in range(seeds):
            store.write_member(variant, seed, {"test": rng.dirichlet([1, 1], len(labels))},
                               recipe={})
    result = Audit.from_store(store, "test", protected=["Male", "Young"], target_name="Blond_Hair")
    table = result.overindex.set_index("group")
    male = attributes["Male"]
    pair = "Blond_Hair ∧ Male" if "Blond_Hair ∧ Male" in table.index else "Male ∧ Blond_Hair"
    assert table.loc[pair, "n_examples"] == np.count_nonzero(male & (labels == 1))
    # an attribute of the target's name that is not the target is refused, not overwritten
    wrong = dict(attributes, Blond_Hair=~attributes["Blond_Hair"])
    clean = CleanEvaluation(np.zeros((1, len(labels)), int), {"c": np.ones((1, len(labels)), int)},
                            labels)
    with pytest.raises(InvalidArgumentError, match=r"`target_name` 'Blond_Hair' is also an "
                                                   r"attribute.*differs from labels == 1 on 24"):
        Audit(clean, groups=Groups(wrong, protected=["Male"], target_name="Blond_Hair"))


@pytest.mark.parametrize("seed", ["x", -1, 1.5, True, None])
def test_seed_that_is_not_a_non_negative_int_is_refused_at_construction(seed):
    labels = np.array([0, 1, 1, 0])
    dense, pruned = np.stack([labels] * 2), np.stack([1 - labels] * 2)
    message = rf"`seed` must be a non-negative integer.*got {re.escape(repr(seed))}\."
    with pytest.raises(InvalidArgumentError, match=message):
        pie_tf.audit(dense, {"prune@0.9": pruned}, labels, seed=seed)
    with pytest.raises(InvalidArgumentError, match=message):
        Audit(CleanEvaluation(dense, {"prune@0.9": pruned}, labels),
              options=AuditOptions(seed=seed))
    # a valid seed, numpy's included, builds an audit whose bootstrap runs
    result = pie_tf.audit(dense, {"prune@0.9": pruned}, labels, seed=np.int64(3),
                          attributes={"g": labels == 1}, n_bootstrap=5)
    assert result.overindex["n_bootstrap_valid"].notna().all()


def test_from_store_given_a_path_opens_only_an_existing_store(tmp_path):
    missing = tmp_path / "path" / "that" / "does" / "not" / "exist"
    with pytest.raises(StoreError, match=f"{missing}: does not exist \\(`store`\\)") as err:
        Audit.from_store(str(missing), "test")
    assert err.value.path == str(missing) and not missing.exists()  # no empty store created
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a store")
    with pytest.raises(StoreError, match=r"junk: is not a prediction store \(`store`\) \(no "
                                         r"STORE.json; it holds notes.txt\)"):
        Audit.from_store(str(junk), "test")
    assert not (junk / "STORE.json").exists()
    with pytest.raises(StoreError, match=r"notes.txt: is a file \(`store`\)"):
        Audit.from_store(junk / "notes.txt", "test")
    # a run's --out_dir, whose store is in store/: named, and the store's path given
    store = PredictionStore(str(tmp_path / "run" / "store"))
    labels = np.array([0, 1, 1, 0, 1])
    store.write_eval_set("test", np.arange(5), labels, n_classes=2)
    rng = np.random.default_rng(0)
    for variant in ("dense", "prune@0.9"):
        for seed in (0, 1):
            store.write_member(variant, seed, {"test": rng.dirichlet([1, 1], 5)}, recipe={})
    with pytest.raises(StoreError, match=f"run's output folder.*give {tmp_path / 'run' / 'store'}"):
        Audit.from_store(str(tmp_path / "run"), "test")
    with pytest.raises(InvalidArgumentError, match="`store` must be a pie_tf.store."
                                                   "PredictionStore or the path of one; got int"):
        Audit.from_store(42, "test")
    # the path of a store audits exactly as the store object does
    by_path = Audit.from_store(str(tmp_path / "run" / "store"), "test")
    pd.testing.assert_frame_equal(by_path.pie, Audit.from_store(store, "test").pie)
