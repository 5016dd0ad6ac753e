"""Bad input to the population layer: garbage recipes and unreadable checkpoints name the
argument or the file and say how to recover; a model that does not fit the data fails before
any training, naming both shapes."""
import glob
import os
import shutil

import numpy as np
import pytest

from pie_tf._keras import keras, tf
from pie_tf.errors import CheckpointError, InvalidArgumentError
from pie_tf.population import Population, Recipe
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


def _images(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return tf.data.Dataset.from_tensor_slices({
        "image": rng.normal(size=(n, *shape)).astype(np.float32),
        "label": rng.integers(0, _tiny.NUM_CLASSES, n),
        "id": np.array([f"ex{seed}_{i}" for i in range(n)])})


def _mnist_model():
    inputs = keras.Input((28, 28, 1))
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(_tiny.NUM_CLASSES, activation="softmax")(x))


def test_model_whose_input_does_not_fit_the_data_fails_before_training(tmp_path, monkeypatch):
    fit = []
    monkeypatch.setattr(keras.Model, "fit", lambda *args, **kwargs: fit.append(1))
    store = PredictionStore(str(tmp_path / "store"))
    population = Population(_mnist_model, _images(32, (32, 32, 3)),
                            {"test": _images(8, (28, 28, 1), seed=1)}, store=store,
                            recipe=_tiny.RECIPE, verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"`model_fn\(\)` builds a model whose input "
                                                   r"is \(28, 28, 1\) per example, but "
                                                   r"`train_data` has images of shape "
                                                   r"\(32, 32, 3\)"):
        population.run()
    # the evaluation sets are checked too, here one of another size than the model's
    population = Population(_mnist_model, _images(32, (28, 28, 1)),
                            {"test": _images(8, (32, 32, 1), seed=1)}, store=store,
                            recipe=_tiny.RECIPE, verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"\(28, 28, 1\) per example, but "
                                                   r"`eval_data\['test'\]` has images of "
                                                   r"shape \(32, 32, 1\)"):
        population.run()
    assert not fit and not store.members()  # nothing trained, nothing stored
    # an image shape the dataset's spec leaves open is read from its first example
    ragged = _images(8, (32, 32, 3)).map(
        lambda ex: dict(ex, image=tf.ensure_shape(tf.identity(ex["image"]), [None, None, 3])))
    population = Population(_mnist_model, _images(32, (28, 28, 1)), {"test": ragged},
                            store=PredictionStore(str(tmp_path / "other")), recipe=_tiny.RECIPE,
                            verbose=0)
    with pytest.raises(InvalidArgumentError, match=r"`eval_data\['test'\]` has images of shape "
                                                   r"\(32, 32, 3\)"):
        population.identity()
