"""A tiny population, dense and compressed, trained into a store and read back."""
import dataclasses

import numpy as np
import pytest

from pie_tf._keras import tf
from pie_tf.population import MemberResult, Population, Recipe, Variant, standard_variants
from pie_tf.store import PredictionStore
from tests.population import _tiny


def test_dense_pruned_and_exported_members_end_to_end(tmp_path, each_keras):
    """For a model_fn building Keras 3 models and one building tf_keras models."""
    keras = each_keras
    root = str(tmp_path / "store")
    # dense+tflite_float32 is exported after prune_ft@0.5 has fine-tuned (and pruned) its copy:
    # it matches the dense member only if the dense model was cloned before pruning.
    variants = ["dense", "prune_ft@0.5", "dense+tflite_float32"]
    population = _tiny.population(root, keras, variants=variants,
                                  eval_info={"test": {"split": "test", "severity": 0}})
    assert population.members() == [("dense", 0), ("prune_ft@0.5", 0),
                                    ("dense+tflite_float32", 0)]
    results = population.run()
    assert [r.status for r in results] == ["written"] * 3

    store = PredictionStore(root)
    eval_set = store.eval_set("test")
    images, labels = _tiny.arrays(40, offset=1000)
    np.testing.assert_array_equal(eval_set.labels, labels)
    assert eval_set.ids[0] == "ex1000" and eval_set.n_classes == 3
    assert eval_set.info == {"split": "test", "severity": 0}
    np.testing.assert_array_equal(eval_set.attributes["group"], labels == 0)

    dense = store.read("dense", "test", fields=("labels", "probs"))
    assert dense.probs.shape == (1, 40, 3)
    np.testing.assert_array_equal(dense.labels[0], np.argmax(dense.probs[0], axis=1))
    # the stored dense predictions are those of the dense weights kept for resuming
    restored = _tiny.build_model(keras)
    if keras.__name__ == "tf_keras":
        restored.load_weights(f"{root}/checkpoints/dense/seed_0/weights").expect_partial()
    else:                                   # Keras 3 writes its own h5 format only
        restored.load_weights(f"{root}/checkpoints/dense/seed_0/weights.weights.h5")
    np.testing.assert_allclose(dense.probs[0], restored.predict(images, verbose=0), atol=1e-3)
    exported = store.read("dense+tflite_float32", "test", fields=("probs",))
    np.testing.assert_allclose(exported.probs[0], dense.probs[0], atol=2e-3)
    pruned = store.read("prune_ft@0.5", "test", fields=("probs",)).probs[0]
    assert np.abs(pruned.astype(np.float32) - dense.probs[0]).max() > 1e-3

    info = store.member_info("prune_ft@0.5", 0)
    assert Recipe.from_dict(info["recipe"]) == _tiny.RECIPE
    assert info["timing"]["train_s"] > 0 and "tensorflow" in info["versions"]
    assert store.member_info("dense+tflite_float32", 0)["timing"]["tflite_bytes"] > 0

    again = _tiny.population(root, keras, variants=variants,
                             eval_info={"test": {"split": "test", "severity": 0}}).run()
    assert again == [MemberResult(v, 0, "skipped", 0.0) for v in variants]

    # same seed, another store: the same predictions, bit for bit; and the restricted argmax
    # (ImageNet-A style) over classes 0 and 2 only
    other = str(tmp_path / "other")
    _tiny.population(other, keras, class_subsets={"test": [0, 2]}).run()
    repeat = PredictionStore(other).read("dense", "test", fields=("probs", "restricted_labels"))
    np.testing.assert_array_equal(repeat.probs, dense.probs)
    expected = [0 if p[0] >= p[2] else 2 for p in repeat.probs[0].astype(np.float32)]
    assert repeat.restricted_labels[0].tolist() == expected


def test_keras3_members_pruned_during_training_and_int8_and_what_stays_tf_keras(tmp_path):
    import keras

    from pie_tf.errors import InvalidArgumentError

    root = str(tmp_path / "store")
    variants = ["prune@0.5", "prune@0.5+tflite_int8"]
    results = _tiny.population(root, keras, variants=variants).run()
    assert [r.status for r in results] == ["written"] * 2
    store = PredictionStore(root)
    keras_probs = store.read("prune@0.5", "test", fields=("probs",)).probs[0]
    int8_probs = store.read("prune@0.5+tflite_int8", "test", fields=("probs",)).probs[0]
    assert np.mean(keras_probs.argmax(1) == int8_probs.argmax(1)) >= 0.9
    assert store.member_info("prune@0.5+tflite_int8", 0)["timing"]["tflite_bytes"] > 0
    with pytest.raises(InvalidArgumentError, match=r"Keras 3 models, and variants "
                                                   r"\['qat_int8', 'prune_kd@0.5'\] need tf_keras"):
        _tiny.population(str(tmp_path / "other"), keras,
                         variants=["dense", "qat_int8", "prune_kd@0.5"]).run()


def _applications_model(keras):
    """keras.applications.MobileNetV2 (alpha 0.35, weights=None) behind a resize of the tiny
    8x8x1 images to 32x32x3, as a backbone inside a functional model."""
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 1)(keras.layers.Resizing(32, 32)(inputs))
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35,
                                              include_top=False, weights=None)
    x = keras.layers.GlobalAveragePooling2D()(backbone(x))
    return keras.Model(inputs, keras.layers.Dense(_tiny.NUM_CLASSES, activation="softmax")(x))


@pytest.mark.slow
def test_keras_applications_members(tmp_path, each_keras):
    import functools

    root = str(tmp_path / "store")
    population = Population(functools.partial(_applications_model, each_keras),
                            _tiny.dataset(64), {"test": _tiny.dataset(40, offset=1000)},
                            store=root, recipe=_tiny.RECIPE, seeds=[0],
                            variants=["dense", "prune_ft@0.5"], verbose=0)
    assert [r.status for r in population.run()] == ["written"] * 2
    store = PredictionStore(root)
    dense = store.read("dense", "test", fields=("probs",)).probs[0].astype(np.float32)
    pruned = store.read("prune_ft@0.5", "test", fields=("probs",)).probs[0].astype(np.float32)
    np.testing.assert_allclose(pruned.sum(axis=1), 1.0, atol=2e-3)
    assert np.abs(pruned - dense).max() > 1e-4           # fine-tuned while pruned
    restored = _applications_model(each_keras)
    if each_keras.__name__ == "tf_keras":
        restored.load_weights(f"{root}/checkpoints/dense/seed_0/weights").expect_partial()
    else:
        restored.load_weights(f"{root}/checkpoints/dense/seed_0/weights.weights.h5")
    images, _ = _tiny.arrays(40, offset=1000)
    np.testing.assert_allclose(dense, restored.predict(images, verbose=0), atol=1e-3)


def test_variant_names_and_recipe_round_trip():
    assert Variant.parse("prune@0.90+tflite_int8").name == "prune@0.9+tflite_int8"
    assert Variant.parse("prune_ft@0.5").parent == Variant("dense")
    assert Variant.parse("prune@0.5+tflite_dynamic").root == Variant("prune", 0.5)
    assert standard_variants([0.5], pruning="both", qat=True, tflite=["int8", "float16"],
                             tflite_of="all") == [
        "dense", "prune@0.5", "prune_ft@0.5", "qat_int8", "dense+tflite_int8",
        "prune@0.5+tflite_int8", "prune_ft@0.5+tflite_int8", "qat_int8+tflite_int8",
        "dense+tflite_float16", "prune@0.5+tflite_float16", "prune_ft@0.5+tflite_float16"]
    recipe = Recipe(epochs=3, optimizer="adam", steps_per_epoch=7)
    assert Recipe.from_json(recipe.to_json()) == recipe


@pytest.mark.parametrize("call, match", [
    (lambda: Variant.parse("prune@1.5"), "in \\(0, 1\\)"),
    (lambda: Variant.parse("qat_int8+tflite_float16"), "only as '\\+tflite_int8'"),
    (lambda: Variant.parse("magnitude"), "not one of"),
    (lambda: Recipe(epochs=0), "`epochs` must be a positive int"),
    (lambda: Recipe(qat_epochs=0), "`qat_epochs` must be a positive int; got 0"),
    (lambda: Recipe(optimizer="rmsprop"), "`optimizer` must be one of"),
    (lambda: Recipe(prune_begin=0.9, prune_end=0.5), "prune_begin"),
    (lambda: Recipe.from_dict({"epochs": 1, "lr": 0.1}), "unknown Recipe fields \\['lr'\\]"),
])
def test_bad_variants_and_recipes_are_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_bad_population_arguments_are_named(tmp_path):
    store = str(tmp_path / "s")
    with pytest.raises(ValueError, match="`seeds` must be distinct"):
        _tiny.population(store, seeds=[1, 1])
    with pytest.raises(ValueError, match="without repeats"):
        _tiny.population(store, variants=["dense", "dense"])
    with pytest.raises(ValueError, match="`class_subsets` names \\['val'\\]"):
        _tiny.population(store, class_subsets={"val": [0, 1]})
    with pytest.raises(TypeError, match="`train_data` must yield pie_tf examples"):
        Population(_tiny.build_model, tf.data.Dataset.range(3), {"t": _tiny.dataset(4)},
                   store=store)
    with pytest.raises(TypeError, match="unbatched"):
        Population(_tiny.build_model, _tiny.dataset(8).batch(4), {"t": _tiny.dataset(4)},
                   store=store)
    with pytest.raises(ValueError, match="`shard` must be \\(i, n\\)"):
        _tiny.population(store).plan(shard=(2, 2))


def test_qat_fine_tunes_for_its_own_epochs(monkeypatch):
    """``Recipe.qat_epochs`` sets the QAT fine-tune's epochs and its schedule; pruning by
    fine-tuning keeps ``fine_tune_epochs``; None means ``fine_tune_epochs`` for both."""
    from pie_tf.population import _train

    fits, schedules = [], []
    real_fit, real_compile = _train.fit, _train.compile_model

    def recording_fit(model, batches, recipe, *, epochs, steps, callbacks=()):
        fits.append((epochs, schedules[-1]))
        return real_fit(model, batches, recipe, epochs=epochs, steps=steps, callbacks=callbacks)

    def recording_compile(model, recipe, *, total_steps, **options):
        schedules.append(total_steps)  # the cosine decay's length
        return real_compile(model, recipe, total_steps=total_steps, **options)

    monkeypatch.setattr(_train, "fit", recording_fit)
    monkeypatch.setattr(_train, "compile_model", recording_compile)
    data = _tiny.dataset(64)
    steps = 64 // 16
    recipe = dataclasses.replace(_tiny.RECIPE, fine_tune_epochs=3, qat_epochs=1)
    assert Recipe.from_json(recipe.to_json()) == recipe
    dense, _ = _train.train_from_scratch(_tiny.build_model, data, recipe, 0,
                                         tf.distribute.get_strategy())
    _train.fine_tune_pruned(dense, data, recipe, 0, 0.5)
    _train.fine_tune_qat(dense, data, recipe, 0)
    _train.fine_tune_qat(dense, data, dataclasses.replace(recipe, qat_epochs=None), 0)
    assert fits == [(1, steps), (3, 3 * steps), (1, steps), (3, 3 * steps)]
