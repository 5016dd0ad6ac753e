"""Bad input to the population layer: garbage recipes and unreadable checkpoints name the
argument or the file and say how to recover."""
import glob
import os
import shutil

import pytest

from pie_tf.errors import CheckpointError, InvalidArgumentError
from pie_tf.population import Recipe
from pie_tf.store import PredictionStore

from . import _tiny


@pytest.mark.parametrize("text", ["", "{epochs: 1", "[1, 2]", "null"])
def test_recipe_from_json_garbage_names_text(text):
    with pytest.raises(InvalidArgumentError, match="`text`"):
        Recipe.from_json(text)
    with pytest.raises(TypeError, match="`text` must be a JSON string"):
        Recipe.from_json(None)
    assert Recipe.from_json(_tiny.RECIPE.to_json()) == _tiny.RECIPE


@pytest.mark.slow
def test_truncated_parent_checkpoint_names_the_folder_and_the_repair(tmp_path):
    store = PredictionStore(str(tmp_path / "store"))
    variants = ["dense", "prune_ft@0.5"]
    _tiny.population(store, variants=variants).run()
    # lose the derived member, and cut the parent's checkpoint short
    shutil.rmtree(os.path.join(store.root, "members", "prune_ft@0.5"))
    data, = glob.glob(os.path.join(store.root, "checkpoints", "dense", "seed_0", "*.data-*"))
    with open(data, "r+b") as f:
        f.truncate(os.path.getsize(data) // 2)
    with pytest.raises(CheckpointError, match="checkpoints/dense/seed_0: the checkpoint of "
                                              "parent 'dense'.*Delete this folder") as err:
        _tiny.population(store, variants=variants).run()
    # the documented repair works: delete the folder, run again
    shutil.rmtree(err.value.path)
    _tiny.population(store, variants=variants).run()
    assert store.has_member("prune_ft@0.5", 0)
