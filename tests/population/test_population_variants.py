"""Variant objects: each is its name, carries the parts the name stands for, and is passed on
as it is (nobody parses a Variant's name back)."""
import json
import pickle
import warnings

import pytest

from pie_tf.errors import InvalidArgumentError
from pie_tf.population import Recipe, Variant, standard_variants


def test_a_variant_is_its_canonical_name_with_its_parts():
    v = Variant("prune_ft", 0.8, "int8")
    assert v == "prune_ft@0.8+tflite_int8" and isinstance(v, str)
    assert (v.kind, v.sparsity, v.tflite) == ("prune_ft", 0.8, "int8")
    assert type(v.name) is str and v.name == "prune_ft@0.8+tflite_int8"
    assert Variant.parse("prune_ft@0.80+tflite_int8") == v
    assert hash(Variant.parse("prune@0.5")) == hash("prune@0.5")
    assert {"prune@0.5": 1}[Variant("prune", 0.5)] == 1
    assert Variant.parse(v) is v
    assert json.dumps({v: [v]}) == '{"prune_ft@0.8+tflite_int8": ["prune_ft@0.8+tflite_int8"]}'
    again = pickle.loads(pickle.dumps(v))
    assert again == v and (again.kind, again.sparsity, again.tflite) == ("prune_ft", 0.8, "int8")
    assert Variant("prune", 0.5).exported("dynamic") == "prune@0.5+tflite_dynamic"
    assert f"{Variant('qat_int8')}" == "qat_int8" and repr(Variant("dense")) == "'dense'"
    # the sparsity is what the name says, so equal names mean equal variants
    assert Variant("prune", 0.1234567).sparsity == 0.123457


@pytest.mark.parametrize("args, match", [
    (("prune",), "needs a sparsity"),
    (("dense", 0.5), "takes no sparsity"),
    (("prune", 1.0), r"in \(0, 1\)"),
    (("prune", True), r"in \(0, 1\)"),
    (("prune_xx", 0.5), "kind 'prune_xx'"),
    (("dense", None, "int4"), "TFLite mode"),
    (("qat_int8", None, "float16"), "only as"),
])
def test_bad_variants_are_refused_by_type(args, match):
    with pytest.raises(InvalidArgumentError, match=match):
        Variant(*args)


def test_standard_variants_returns_variants_and_spells_fine_tune_once():
    variants = standard_variants([0.5], pruning="fine_tune", tflite=["int8"])
    assert variants == ["dense", "prune_ft@0.5", "dense+tflite_int8"]
    assert all(isinstance(v, Variant) for v in variants)
    assert variants[1].sparsity == 0.5 and variants[2].tflite == "int8"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert standard_variants([0.5], pruning="finetune") == ["dense", "prune_ft@0.5"]
    assert any(issubclass(w.category, DeprecationWarning) for w in caught)
    with pytest.raises(InvalidArgumentError, match="fine_tune"):
        standard_variants([0.5], pruning="later")


def test_recipes_stored_with_the_older_fine_tune_spelling_still_load():
    old = {**Recipe().to_dict(), "fine_tune_epochs": 3}
    old["finetune_epochs"] = old.pop("fine_tune_epochs")
    old["finetune_learning_rate"] = old.pop("fine_tune_learning_rate")
    recipe = Recipe.from_dict(old)
    assert recipe.fine_tune_epochs == 3 and recipe == Recipe(fine_tune_epochs=3)
    assert Recipe.upgrade_fields({"finetune_epochs": 2, "epochs": 1}) == {
        "fine_tune_epochs": 2, "epochs": 1}
