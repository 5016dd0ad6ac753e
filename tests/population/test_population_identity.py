"""Run identity: a stored member or evaluation set made with another configuration is never
reused silently; the run stops before any work, listing what differs, or retrains it when asked."""
import dataclasses
import os

import numpy as np
import pytest

from pie_tf.errors import ConfigMismatchError, InvalidArgumentError
from pie_tf.store import PredictionStore

from . import _tiny


@pytest.mark.slow
def test_changed_recipe_model_or_eval_set_stops_before_any_work(tmp_path):
    store = PredictionStore(str(tmp_path / "store"))
    first = _tiny.population(store).run()
    assert [r.status for r in first] == ["written"]
    written = store.read("dense", "test").labels.copy()
    manifest = os.path.join(store.root, "members", "dense", "seed_0", "MEMBER.json")
    before = os.path.getmtime(manifest)

    # the same configuration resumes: nothing differs, nothing is trained
    assert [r.status for r in _tiny.population(store).run()] == ["skipped"]

    other_recipe = dataclasses.replace(_tiny.RECIPE, epochs=2)
    expected = (r"(?s)member dense seed 0: recipe.epochs: stored 1, requested 2.*--out_dir"
                r".*--retrain_changed")
    with pytest.raises(ConfigMismatchError, match=expected) as err:
        _tiny.population(store, recipe=other_recipe).run()
    assert err.value.differences["member dense seed 0: recipe.epochs"] == (1, 2)

    fewer = _tiny.dataset(24, offset=1000)   # the evaluation set shrinks from 40 to 24 examples
    pop = _tiny.population(store)
    pop.eval_data = {"test": fewer}
    with pytest.raises(ConfigMismatchError, match=r"eval set 'test': examples: stored 40, "
                                                  r"requested 24"):
        pop.run()
    # a second seed's member of the same variant, not requested, would be audited too
    _tiny.population(store, seeds=[0, 1]).run()
    with pytest.raises(ConfigMismatchError, match=r"member dense seed 1: seed"):
        _tiny.population(store, seeds=[0]).run()
    assert os.path.getmtime(manifest) == before          # nothing was rewritten
    np.testing.assert_array_equal(store.read("dense", "test", seeds=[0]).labels, written)

    # the documented way out: retrain what changed
    results = _tiny.population(store, seeds=[0], recipe=other_recipe).run(on_mismatch="retrain")
    assert [r.status for r in results] == ["written"]
    assert store.seeds("dense") == [0]
    assert store.member_info("dense", 0)["recipe"]["epochs"] == 2
    with pytest.raises(InvalidArgumentError, match="`on_mismatch`"):
        _tiny.population(store).run(on_mismatch="ignore")


def test_lost_eval_set_manifest_is_written_again_by_re_running(tmp_path):
    store = PredictionStore(str(tmp_path / "store"))
    _tiny.population(store).run()
    labels = store.read("dense", "test").labels.copy()
    os.remove(os.path.join(store.root, "eval_sets", "test", "EVAL_SET.json"))
    assert not store.has_eval_set("test")
    assert [r.status for r in _tiny.population(PredictionStore(store.root)).run()] == ["skipped"]
    again = PredictionStore(store.root)
    np.testing.assert_array_equal(again.read("dense", "test").labels, labels)
    assert again.eval_set("test").num_examples == 40


def test_eval_set_left_uint8_while_training_is_float_is_refused(tmp_path):
    images, labels = _tiny.arrays(8, offset=2000)
    import pie_tf.data
    raw = pie_tf.data.from_arrays(np.clip(images * 30 + 100, 0, 255).astype(np.uint8)[..., 0],
                                  labels)
    from pie_tf.population import Population
    with pytest.raises(InvalidArgumentError, match=r"`eval_data\['raw'\]` has uint8 images but "
                                                   r"`train_data` float32"):
        Population(_tiny.build_model, _tiny.dataset(16), {"raw": raw},
                   store=str(tmp_path / "store"), recipe=_tiny.RECIPE, verbose=0)


def test_a_group_claimed_by_a_live_local_job_is_left_to_it(tmp_path):
    import json
    import socket
    import subprocess

    store = PredictionStore(str(tmp_path / "store"))
    other = subprocess.Popen(["sleep", "60"])          # stands in for a second job, alive
    try:
        claims = tmp_path / "store" / "claims"
        claims.mkdir()
        (claims / "dense@seed_0.json").write_text(
            json.dumps({"host": socket.gethostname(), "pid": other.pid}))
        results = _tiny.population(store, seeds=[0, 1]).run()
        assert [(r.seed, r.status) for r in results] == [(0, "claimed"), (1, "written")]
        assert not store.has_member("dense", 0)
        assert (claims / "dense@seed_0.json").exists()          # the other job's claim stays
        assert not (claims / "dense@seed_1.json").exists()      # ours is released
    finally:
        other.kill()
        other.wait()
    # the claiming job died: its claim is taken over
    results = _tiny.population(store, seeds=[0, 1]).run()
    assert [(r.seed, r.status) for r in results] == [(0, "written"), (1, "skipped")]
    assert not (claims / "dense@seed_0.json").exists()
