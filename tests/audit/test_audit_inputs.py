"""The Audit's input objects, the keyword path that builds them, and the audit namespace."""
import importlib

import numpy as np
import pandas as pd
import pytest

import pie_tf
from pie_tf.audit import (Audit, AuditOptions, CleanEvaluation, CorruptedEvaluations, Groups,
                          SubsetEvaluation)
from pie_tf.errors import InvalidArgumentError


def _arrays(seed=0, n=200, n_classes=2):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)

    def population(m, accuracy):
        return np.where(rng.random((m, n)) < accuracy, labels, rng.integers(0, n_classes, (m, n)))

    attributes = {"Male": rng.random(n) < 0.4, "Young": rng.random(n) < 0.7}
    return labels, attributes, population(3, 0.9), {"prune@0.9": population(4, 0.7)}, rng


def test_input_objects_and_keywords_build_the_same_audit():
    labels, attributes, dense, compressed, rng = _arrays()
    corr = {pop: {("fog", s): rng.integers(0, 2, (m, 200)) for s in (1, 2)}
            for pop, m in (("dense", 3), ("prune@0.9", 4))}
    a_labels = rng.integers(0, 2, 30)
    a_preds = {"dense": rng.integers(0, 2, (3, 30))}
    by_objects = Audit(
        CleanEvaluation(dense, compressed, labels, ids=np.arange(1000, 1200)),
        groups=Groups(attributes, target_name="Blond_Hair"),
        corrupted=CorruptedEvaluations(corr, labels),
        subset=SubsetEvaluation(a_labels, np.array([0, 1]), imagenet_a_predictions=a_preds),
        options=AuditOptions(tie_break="highest", n_bootstrap=30, seed=3))
    by_keywords = pie_tf.audit(
        dense, compressed, labels, ids=np.arange(1000, 1200), attributes=attributes,
        target_name="Blond_Hair", corruption_predictions=corr, corruption_labels=labels,
        imagenet_a_predictions=a_preds, imagenet_a_labels=a_labels,
        imagenet_a_classes=np.array([0, 1]), tie_break="highest", n_bootstrap=30, seed=3)
    objects, keywords = by_objects.to_frames(), by_keywords.to_frames()
    assert set(objects) == set(keywords)
    for name in objects:
        pd.testing.assert_frame_equal(objects[name], keywords[name], check_dtype=False)
    assert "Male ∧ Blond_Hair" in set(by_objects.overindex["group"])
    # the dense member accuracies on the subset, computed here directly
    np.testing.assert_allclose(by_objects.imagenet_a_by_member["accuracy"],
                               (a_preds["dense"] == a_labels).mean(axis=1))
    assert by_objects.options.tie_break == "highest" and by_objects.n_examples == 200


def test_an_input_object_is_checked_when_built():
    labels, attributes, dense, compressed, _ = _arrays(seed=1)
    with pytest.raises(ValueError, match="tie_break"):
        AuditOptions(tie_break="random")
    with pytest.raises(ValueError, match="alpha"):
        AuditOptions(alpha=1.5)
    with pytest.raises(ValueError, match="n_bootstrap"):
        AuditOptions(n_bootstrap=0)
    with pytest.raises(ValueError, match=r"attributes\['Male'\].*boolean"):
        Groups({"Male": np.full(10, 2)})
    with pytest.raises(TypeError, match="protected"):
        Groups(attributes, protected="Male")
    with pytest.raises(ValueError, match="corruption_labels"):
        CorruptedEvaluations({"dense": {("fog", 1): dense}})
    with pytest.raises(ValueError, match="both ImageNet-A scores and predictions"):
        SubsetEvaluation(labels[:5], np.array([0, 1]), imagenet_a_scores={"dense": 0},
                         imagenet_a_predictions={"dense": 0})
    with pytest.raises(ValueError, match=r"compressed_predictions\['prune@0.9'\]"):
        CleanEvaluation(dense, {"prune@0.9": compressed["prune@0.9"][:, :-1]}, labels)


def test_inputs_are_checked_against_each_other():
    labels, attributes, dense, compressed, _ = _arrays(seed=2)
    clean = CleanEvaluation(dense, compressed, labels)
    with pytest.raises(ValueError, match="`attributes` has 10 rows but there are 200"):
        Audit(clean, groups=Groups({"Male": np.ones(10, bool)}))
    with pytest.raises(ValueError, match="unknown populations"):
        Audit(clean, corrupted=CorruptedEvaluations({"int8": {("fog", 1): dense}}, labels))
    with pytest.raises(ValueError, match=r"corruption_predictions\['dense'\].*\[0, 2\)"):
        Audit(clean, corrupted=CorruptedEvaluations({"dense": {("fog", 1): dense + 2}}, labels))
    with pytest.raises(ValueError, match="mean_probability"):
        Audit(clean, options=AuditOptions(mode="mean_probability"))
    with pytest.raises(TypeError, match="CleanEvaluation"):
        Audit(dense)
    with pytest.raises(TypeError, match="`options` must be a pie_tf.audit.AuditOptions"):
        Audit(clean, options={"alpha": 0.1})


def test_keyword_path_refuses_what_it_cannot_place():
    labels, _, dense, compressed, _ = _arrays(seed=3)
    with pytest.raises(TypeError, match="unknown keywords.*'n_boostrap'"):
        pie_tf.audit(dense, compressed, labels, n_boostrap=10)
    with pytest.raises(InvalidArgumentError, match="corruption_reference.*without"):
        pie_tf.audit(dense, compressed, labels, corruption_reference="alexnet")
    with pytest.raises(TypeError, match="from the store"):
        Audit.from_store(object(), "test", attributes={"Male": labels > 0})


def test_the_namespace_keeps_functions_and_one_entry_point():
    for name in ("_pie", "_class_impact", "_attributes", "_loyalty", "_robustness", "_audit"):
        importlib.import_module(f"pie_tf.audit.{name}")
    module = importlib.import_module("pie_tf.audit")
    assert pie_tf.audit is module and pie_tf.Audit is Audit
    assert callable(pie_tf.audit.class_impact) and callable(pie_tf.audit.modal_labels)
    assert pie_tf.audit.audit.__doc__.startswith("Build an :class:`Audit` from arrays")
    for name in module.__all__:
        assert hasattr(module, name), name
    labels, _, dense, compressed, _ = _arrays(seed=4)
    assert isinstance(pie_tf.audit(dense, compressed, labels), Audit)


def test_from_store_leaves_out_a_variant_not_evaluated_on_a_corruption_set(tmp_path):
    from pie_tf.errors import MissingEvaluationError
    from pie_tf.store import PredictionStore

    labels, _, dense, compressed, _ = _arrays(seed=5, n=30)
    store = PredictionStore(str(tmp_path / "store"))
    store.write_eval_set("test", np.arange(30), labels, n_classes=2)
    store.write_eval_set("fog@1", np.arange(30), labels, n_classes=2,
                         info={"corruption": "fog", "severity": 1})

    def one_hot(row):
        return np.eye(2, dtype=np.float32)[row]

    for seed, row in enumerate(dense):
        store.write_member("dense", seed, {"test": one_hot(row), "fog@1": one_hot(1 - row)},
                           recipe={})
    for seed, row in enumerate(compressed["prune@0.9"]):  # not evaluated on fog@1
        store.write_member("prune@0.9", seed, {"test": one_hot(row)}, recipe={})
    with pytest.raises(MissingEvaluationError, match="not evaluated on 'fog@1'"):
        store.read("prune@0.9", "fog@1")
    with pytest.raises(KeyError):  # MissingEvaluationError is also the builtin a caller expects
        store.read("prune@0.9", "fog@1")
    result = Audit.from_store(store, "test", probabilities=False)
    errors = result.corruption_errors
    assert set(errors["population"]) == {"dense"}
    np.testing.assert_allclose(errors["error"], [np.mean((1 - row) != labels) for row in dense])


def test_a_subset_evaluation_is_checked_when_built():
    classes = np.array([0, 2, 4])
    labels = np.array([0, 2, 4, 2])
    with pytest.raises(ValueError, match="outside `imagenet_a_classes`"):
        SubsetEvaluation(np.array([0, 1, 4, 2]), classes, imagenet_a_predictions={"dense": labels})
    with pytest.raises(ValueError, match="distinct"):
        SubsetEvaluation(labels, np.array([0, 0, 2]), imagenet_a_predictions={"dense": labels})
    with pytest.raises(ValueError, match=r"imagenet_a_scores\['dense'\].*4 examples"):
        SubsetEvaluation(labels, classes, imagenet_a_scores={"dense": np.zeros((2, 3, 5))})
    subset = SubsetEvaluation(labels, classes, imagenet_a_scores={"dense": np.zeros((4, 5))},
                              imagenet_a_predictions={"p": np.stack([labels, labels])})
    clean = CleanEvaluation(np.array([0, 1, 3, 2]), {"p": np.array([0, 1, 3, 2])},
                            np.array([0, 1, 3, 2]))
    with pytest.raises(ValueError, match=r"imagenet_a_classes.*\[0, 4\)"):
        Audit(clean, subset=subset)
