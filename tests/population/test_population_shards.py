"""Shards and member ranges split one population into disjoint jobs that fill one store."""
import numpy as np

from pie_tf.store import PredictionStore
from tests.population import _tiny


def test_plans_partition_the_population(tmp_path):
    population = _tiny.population(str(tmp_path / "plan"), seeds=[0, 1, 2],
                                  variants=["dense", "prune@0.5", "prune_ft@0.5",
                                            "prune@0.5+tflite_int8"])
    everything = population.members()
    assert len(everything) == 12
    shards = [population.plan(shard=(i, 4)) for i in range(4)]
    assert sorted(m for s in shards for m in s) == sorted(everything)
    for shard in shards:  # a fine-tuned member is in the shard of its seed's dense member
        for variant, seed in shard:
            if variant == "prune_ft@0.5":
                assert ("dense", seed) in shard
            if variant == "prune@0.5+tflite_int8":
                assert ("prune@0.5", seed) in shard
    ranges = [population.plan(member_range=(a, min(a + 5, 12))) for a in range(0, 12, 5)]
    assert [m for r in ranges for m in r] == everything


def test_shards_fill_one_store(tmp_path):
    root = str(tmp_path / "store")
    first = _tiny.population(root, seeds=[5, 6, 7]).run(shard=(0, 2))
    assert [(r.variant, r.seed, r.status) for r in first] == [("dense", 5, "written"),
                                                               ("dense", 7, "written")]
    second = _tiny.population(root, seeds=[5, 6, 7]).run(member_range=(0, 2))
    assert [(r.seed, r.status) for r in second] == [(5, "skipped"), (6, "written")]
    store = PredictionStore(root)
    assert store.seeds("dense") == [5, 6, 7]
    probs = store.read("dense", "test", fields="probs").probs
    assert probs.shape == (3, 40, 3)
    assert not np.array_equal(probs[0], probs[1])  # different seeds, different members
