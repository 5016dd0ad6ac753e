"""Variants that predict on some evaluation sets only (TFLite exports: not the corrupted sets)."""
import numpy as np
import pytest

from pie_tf.errors import MissingEvaluationError
from pie_tf.store import PredictionStore
from tests.population import _tiny


def _population(root, **kwargs):
    from pie_tf.population import Population
    return Population(_tiny.build_model, _tiny.dataset(64),
                      {"test": _tiny.dataset(40, offset=1000), "other": _tiny.dataset(24, 2000)},
                      store=root, recipe=_tiny.RECIPE, seeds=[0], verbose=0, **kwargs)


def test_an_export_predicts_only_on_its_sets(tmp_path):
    root = str(tmp_path / "store")
    variants = ["dense", "dense+tflite_float32"]
    _population(root, variants=variants,
                variant_eval_sets={"dense+tflite_float32": ["test"]}).run()
    store = PredictionStore(root)
    assert store.read("dense", "other", ("labels",)).labels.shape == (1, 24)
    exported = store.read("dense+tflite_float32", "test", ("labels",)).labels
    np.testing.assert_array_equal(exported, store.read("dense", "test", ("labels",)).labels)
    with pytest.raises(MissingEvaluationError):
        store.read("dense+tflite_float32", "other", ("labels",))
    # both sets are in the store for the variants that do predict on them
    assert set(store.eval_sets()) == {"test", "other"}


@pytest.mark.parametrize("sets, match", [
    ({"prune@0.5": ["test"]}, "names variant 'prune@0.5'"),
    ({"dense": ["nope"]}, r"variant_eval_sets\['dense'\].*'nope'"),
    ({"dense": []}, r"variant_eval_sets\['dense'\]` must be a non-empty list")])
def test_bad_variant_eval_sets_name_the_argument(tmp_path, sets, match):
    with pytest.raises(ValueError, match=match):
        _population(str(tmp_path / "store"), variants=["dense"], variant_eval_sets=sets)
