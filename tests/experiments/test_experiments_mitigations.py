"""--mitigations: the mitigated variants beside the plain pruned ones, and their comparison
tables from a study's audit."""
import pytest

from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE, arguments, get, pipeline
from tests.audit import _mitigation_case as _case


def test_mitigations_flag_adds_variants_at_every_sparsity():
    config = get(CELEBA_BIAS, "quick", mitigations="kd,rw,gw")
    all_variants, audited, deployments = arguments.variants(config)
    for s in ("0.5", "0.8"):
        for kind in ("prune_ft", "prune_kd", "prune_rw", "prune_gw"):
            assert f"{kind}@{s}" in audited
            assert (f"{kind}@{s}", f"{kind}@{s}+tflite_int8") in deployments
    assert all_variants[0] == "dense"
    # the paper presets prune during training; the mitigations still get their fine-tuned
    # baseline
    paper = arguments.variants(get(IMAGENET_PIE, "paper", mitigations=["kd"]))[1]
    assert {"prune@0.9", "prune_ft@0.9", "prune_kd@0.9"} <= set(paper)
    assert not any("_kd" in v for v in arguments.variants(get(CELEBA_BIAS, "quick"))[1])
    with pytest.raises(ValueError, match="mitigations"):
        arguments.variants(get(CELEBA_BIAS, "quick", mitigations="distill"))


def test_mitigation_tables_pair_each_mitigation_with_its_baseline():
    labels, male, dense = _case.dense_case(0)
    pruned = _case.forgetting(dense, labels, 40)
    audited = ["prune_ft@0.8", "prune_kd@0.8", "prune_kd@0.8+tflite_int8", "qat_int8"]
    audit = _case.audit(dense, {v: pruned for v in audited}, labels, male)
    config = {"audit": {"n_bootstrap": 50}, "seed": 0}
    tables = pipeline.mitigation_tables(audit.to_frames(), audited, config)
    assert list(tables["mitigation_summary"]["variant"]) == ["prune_kd@0.8"]
    assert set(tables["mitigation"]["baseline"]) == {"prune_ft@0.8"}
    # identical predictions: nothing cut, nothing lost
    row = tables["mitigation_summary"].iloc[0]
    assert row["cie_cut_pct"] == 0 and row["top1_change_points"] == 0
    assert row["verdict"].startswith("did not help")
    assert pipeline.mitigation_tables(audit.to_frames(), ["prune_ft@0.8"], config) == {}


def test_mitigation_settings_are_flags_that_reach_the_recipe():
    config = get(CELEBA_BIAS, "quick", group_weight_power="0.5", distill_temperature="2",
                 distill_weight="0.25")
    recipe = arguments.recipe(config)
    assert (recipe.group_weight_power, recipe.distill_temperature, recipe.distill_weight) == \
        (0.5, 2.0, 0.25)
    assert arguments.recipe(get(CELEBA_BIAS, "quick")).performance_min_weight == 0.3
    with pytest.raises(ValueError, match="group_weight_power"):
        arguments.recipe(get(CELEBA_BIAS, "quick", group_weight_power="2"))
