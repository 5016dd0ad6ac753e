"""Mitigated pruning variants (prune_kd / prune_rw / prune_gw) in a population and its store."""
import dataclasses

import numpy as np
import pytest

from pie_tf.population import Population, Variant, standard_variants
from pie_tf.store import PredictionStore
from tests.population import _tiny

MITIGATED = ["prune_kd@0.5", "prune_rw@0.5", "prune_gw@0.5"]


def test_mitigated_variant_names():
    kd = Variant.parse("prune_kd@0.80")
    assert (kd.name, kd.mitigation, kd.parent, kd.root) == (
        "prune_kd@0.8", "kd", Variant("dense"), Variant("dense"))
    assert kd.unmitigated == Variant("prune_ft", 0.8)
    assert Variant.parse("prune_rw@0.5+tflite_int8").base == Variant("prune_rw", 0.5)
    assert Variant.parse("prune_ft@0.5").mitigation is None
    assert Variant.parse("prune_ft@0.5").unmitigated is None
    # the plain fine-tuned variant is added beside the mitigated ones, even when pruning is
    # during training
    assert standard_variants([0.5, 0.8], pruning="during", mitigations=["kd", "rw"]) == [
        "dense", "prune@0.5", "prune_ft@0.5", "prune_kd@0.5", "prune_rw@0.5",
        "prune@0.8", "prune_ft@0.8", "prune_kd@0.8", "prune_rw@0.8"]
    assert standard_variants([0.5], pruning="fine_tune", mitigations="gw") == [
        "dense", "prune_ft@0.5", "prune_gw@0.5"]
    with pytest.raises(ValueError, match="mitigations"):
        standard_variants([0.5], mitigations=["distill"])
    with pytest.raises(ValueError, match="prune_kd@S"):
        Variant.parse("prune_xx@0.5")


def _run(root, recipe):
    population = _tiny.population(root, recipe=recipe,
                                  variants=["dense", "prune_ft@0.5"] + MITIGATED)
    assert [r.status for r in population.run()] == ["written"] * 5
    store = PredictionStore(root)
    return {v: store.read(v, "test", fields=("probs",)).probs[0].astype(np.float32)
            for v in ["prune_ft@0.5"] + MITIGATED}, store


@pytest.mark.slow
def test_mitigations_reach_training_and_reduce_to_plain_pruning_when_neutral(tmp_path):
    probs, store = _run(str(tmp_path / "default"), _tiny.RECIPE)
    assert set(MITIGATED) <= set(store.variants())
    for variant in MITIGATED:
        recipe = store.member_info(variant, 0)["recipe"]
        assert recipe["distill_temperature"] == 4.0 and recipe["performance_min_weight"] == 0.3
        # each mitigation trains the pruned copy towards something else than plain pruning
        assert np.abs(probs[variant] - probs["prune_ft@0.5"]).max() > 1e-3, variant
    # neutral settings: distillation with weight 0 is cross-entropy, performance weights with
    # min_weight 1 are all 1; the same seed and example order then give plain pruning back
    neutral = dataclasses.replace(_tiny.RECIPE, distill_weight=0.0, performance_min_weight=1.0)
    again, _ = _run(str(tmp_path / "neutral"), neutral)
    np.testing.assert_allclose(again["prune_kd@0.5"], again["prune_ft@0.5"], atol=2e-4)
    np.testing.assert_allclose(again["prune_rw@0.5"], again["prune_ft@0.5"], atol=2e-4)
    np.testing.assert_allclose(again["prune_ft@0.5"], probs["prune_ft@0.5"], atol=1e-6)


def test_group_weights_need_attributes(tmp_path):
    pairs = _tiny.dataset(32).map(lambda ex: (ex["image"], ex["label"]))
    with pytest.raises(ValueError, match="attributes"):
        Population(_tiny.build_model, pairs, {"test": pairs}, store=str(tmp_path),
                   variants=["dense", "prune_gw@0.5"], verbose=0)
    with pytest.raises(ValueError, match="distill_weight"):
        dataclasses.replace(_tiny.RECIPE, distill_weight=1.5)
