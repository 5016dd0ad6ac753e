"""Accelerator options of the recipe (XLA, mixed precision) on the CPU: members train, prune,
quantize and export, and their stored predictions are finite probabilities."""
import numpy as np
import pytest
import tf_keras

from pie_tf import _precision
from pie_tf._keras import keras, keras3, tf
from pie_tf.compress.sparsity import sparsity_report
from pie_tf.population import Recipe
from pie_tf.store import PredictionStore
from tests.population import _tiny

VARIANTS = ["dense", "prune_ft@0.75", "qat_int8", "prune_ft@0.75+tflite_int8"]


@pytest.fixture(scope="module")
def float32_dense(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("float32"))
    _tiny.population(root).run()
    return PredictionStore(root).read("dense", "test", fields=("probs",)).probs[0]


@pytest.mark.slow
@pytest.mark.parametrize("options, tolerance", [
    (dict(jit_compile=True), 1e-3),
    (dict(mixed_precision="mixed_bfloat16"), 0.1),
    (dict(mixed_precision="mixed_float16", jit_compile=True), 0.02)],
    ids=["xla", "bfloat16", "float16+xla"])
def test_members_train_prune_quantize_and_export(tmp_path, options, tolerance, float32_dense):
    recipe = Recipe(**{**_tiny.RECIPE.to_dict(), **options})
    population = _tiny.population(str(tmp_path / "store"), recipe=recipe, variants=VARIANTS,
                                  deterministic=not recipe.jit_compile)
    assert [r.status for r in population.run()] == ["written"] * len(VARIANTS)
    store = PredictionStore(str(tmp_path / "store"))
    for variant in VARIANTS:
        probs = store.read(variant, "test", fields=("probs",)).probs[0].astype(np.float32)
        assert np.isfinite(probs).all(), variant
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-2)
    assert store.member_info("dense", 0)["recipe"]["mixed_precision"] == \
        recipe.mixed_precision
    # the same seed trains the same member, up to the option's rounding
    dense = store.read("dense", "test", fields=("probs",)).probs[0].astype(np.float32)
    difference = np.abs(dense - float32_dense.astype(np.float32)).max()
    print(options, "max |p - p_float32| =", difference)
    assert 0 < difference < tolerance if options.get("mixed_precision") else difference < tolerance


def test_float32_copy_keeps_weights_and_zeros(each_keras):
    keras = each_keras
    with _precision.policy_scope(keras, "mixed_float16"):
        model = _tiny.build_model(keras)
    assert _precision.computes_in(model, "float16")
    kernel = model.layers[1].kernel
    kernel.assign(tf.where(tf.abs(kernel) < 0.2, 0.0, kernel))
    copy = _precision.float32_copy(keras, model)
    assert not _precision.uses_mixed_precision(copy)
    assert keras.mixed_precision.global_policy().name == "float32"
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    report = sparsity_report(model), sparsity_report(copy)
    np.testing.assert_array_equal(report[0]["zeros"], report[1]["zeros"])
    x = _tiny.arrays(8)[0]
    np.testing.assert_allclose(copy(x).numpy(), model(x).numpy().astype(np.float32), atol=2e-2)
    assert _precision.float32_copy(keras, copy) is copy


@pytest.fixture
def no_op_determinism():
    """Op determinism is process-wide and an earlier test may have switched it on; Keras 3
    compiles no XLA step while it is on."""
    from tensorflow.python.framework import config
    was = config.is_op_determinism_enabled()
    config.disable_op_determinism()
    yield
    if was:
        config.enable_op_determinism()


def test_compile_options_reach_the_model(each_keras, no_op_determinism):
    import functools

    from pie_tf.compress.quantize import quantize
    from pie_tf.population import _train
    recipe = Recipe(jit_compile=True, mixed_precision="mixed_float16")
    model = _train.build_model(functools.partial(_tiny.build_model, keras=each_keras), recipe)
    assert isinstance(model, each_keras.Model) and _precision.computes_in(model, "float16")
    _train.compile_model(model, recipe, learning_rate=0.1, total_steps=4)
    assert model.jit_compile and type(model.optimizer).__name__.startswith("LossScaleOptimizer")
    assert isinstance(model.optimizer, each_keras.optimizers.Optimizer)   # the model's own Keras
    if each_keras.__name__ != "tf_keras":
        return                                          # QAT: tf_keras only (tfmot)
    qat = quantize(_precision.float32_copy(keras, model))
    _train.compile_model(qat, recipe, learning_rate=0.1, total_steps=4)
    assert not qat.jit_compile and not _precision.uses_mixed_precision(qat)
    assert not type(qat.optimizer).__name__.startswith("LossScaleOptimizer")


def _max_pool_model():
    inputs = tf_keras.Input((8, 8, 1))
    x = tf_keras.layers.Conv2D(4, 3, padding="same")(inputs)
    x = tf_keras.layers.MaxPooling2D(2, name="pool")(x)
    x = tf_keras.layers.GlobalAveragePooling2D()(x)
    return tf_keras.Model(inputs, tf_keras.layers.Dense(_tiny.NUM_CLASSES,
                                                        activation="softmax")(x))


def test_op_determinism_and_xla_are_refused_for_max_pooling(tmp_path):
    from pie_tf.errors import InvalidArgumentError
    from pie_tf.population import Population
    recipe = Recipe(**{**_tiny.RECIPE.to_dict(), "jit_compile": True})
    population = Population(_max_pool_model, _tiny.dataset(64),
                            {"test": _tiny.dataset(40, offset=1000)},
                            store=str(tmp_path / "store"), recipe=recipe, verbose=0)
    with pytest.raises(InvalidArgumentError,
                       match="`deterministic=True` with.*MaxPooling.*'pool'"):
        population.run()
    assert PredictionStore(str(tmp_path / "store")).members() == []


def test_op_determinism_and_xla_are_refused_for_keras3(tmp_path):
    import functools

    from pie_tf.errors import InvalidArgumentError
    from pie_tf.population import Population
    recipe = Recipe(**{**_tiny.RECIPE.to_dict(), "jit_compile": True})
    population = Population(functools.partial(_tiny.build_model, keras=keras3()), _tiny.dataset(64),
                            {"test": _tiny.dataset(40, offset=1000)},
                            store=str(tmp_path / "store"), recipe=recipe, verbose=0)
    with pytest.raises(InvalidArgumentError, match="`deterministic=True` with.*Keras 3"):
        population.run()
    assert PredictionStore(str(tmp_path / "store")).members() == []


@pytest.mark.slow
def test_xla_members_without_max_pooling_are_deterministic(tmp_path):
    recipe = Recipe(**{**_tiny.RECIPE.to_dict(), "jit_compile": True})
    variants = ["dense", "prune_ft@0.75"]
    probs = []
    for run in ("a", "b"):
        root = str(tmp_path / run)
        assert [r.status for r in _tiny.population(root, recipe=recipe,
                                                   variants=variants).run()] == ["written"] * 2
        store = PredictionStore(root)
        assert store.member_info("dense", 0)["recipe"]["jit_compile"]
        probs.append([store.read(v, "test", fields=("probs",)).probs[0] for v in variants])
    for first, second in zip(*probs):
        np.testing.assert_array_equal(first, second)


def test_policy_resolution_and_validation():
    assert _precision.resolve_policy("auto", tf.distribute.get_strategy()) == "float32"
    assert _precision.resolve_policy("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="`mixed_precision`.*'fp8'"):
        _precision.resolve_policy("fp8")
    with pytest.raises(ValueError, match="`mixed_precision`.*'auto'"):
        Recipe(mixed_precision="auto")
    with pytest.raises(TypeError, match="`jit_compile`"):
        Recipe(jit_compile="yes")
