"""Presets say what the papers did; every preset value is a flag; bad flags say what is valid."""
import numpy as np
import pytest
from absl import flags

from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE, arguments, flat, get, pipeline
from pie_tf.experiments_config.flags import define_flags, make_strategy, parse_pair, resolve

IMAGENET_C = {"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
              "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
              "elastic_transform", "pixelate", "jpeg_compression"}


def test_paper_presets_are_the_papers_setups():
    celeba = flat(CELEBA_BIAS["paper"], CELEBA_BIAS)
    assert (celeba["dataset"], celeba["model"], celeba["target"]) == \
        ("celeb_a", "resnet18", "Blond_Hair")
    assert celeba["protected"] == ["Male", "Young"]
    assert celeba["sparsities"] == [0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    assert celeba["members"] == 30 and celeba["qat"] and celeba["calibration_examples"] == 100
    assert set(celeba["post_training"]) == {"dynamic", "int8"}
    assert celeba["prune_mode"] == "during_training"
    imagenet = flat(IMAGENET_PIE["paper"], IMAGENET_PIE)
    assert (imagenet["dataset"], imagenet["model"], imagenet["members"]) == \
        ("imagenet2012", "resnet50", 30)
    assert imagenet["sparsities"] == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert set(imagenet["corruptions"]) == IMAGENET_C and imagenet["severities"] == [1, 2, 3, 4, 5]
    assert imagenet["imagenet_a"] and imagenet["corruption_source"] == "tfds"
    # the offline presets never reach for data that is not on this machine
    for presets in (CELEBA_BIAS, IMAGENET_PIE):
        assert presets["quick"]["data"]["dataset"] in ("celeba_standin", "fashion_mnist")
        assert presets["tiny"]["data"]["dataset"] == presets["quick"]["data"]["dataset"]
        assert set(presets["quick"]) == set(presets["paper"]) == set(presets["tiny"])
        # every section of the study, in every preset
        assert set(presets["paper"]) == {"data", "model", "population", "evaluations", "audit",
                                         "report", "seed"}


def test_every_preset_value_is_a_flag():
    fv = flags.FlagValues()
    define_flags(CELEBA_BIAS, default_out_dir="runs/x", flag_values=fv)
    fv(["prog", "--preset=tiny", "--members=7", "--sparsities=0.5,0.95", "--qat=true",
        "--learning_rate=0.2", "--post_training=", "--deploy_mode=dynamic", "--shard=1/4"])
    config = resolve(CELEBA_BIAS, fv)
    population = config["population"]
    assert population["members"] == 7 and population["sparsities"] == [0.5, 0.95]
    assert population["qat"] is True and population["learning_rate"] == 0.2
    assert population["post_training"] == [] and population["deploy_mode"] == "dynamic"
    # not given: the preset's
    assert population["epochs"] == CELEBA_BIAS["tiny"]["population"]["epochs"]
    assert set(flat(CELEBA_BIAS["paper"], CELEBA_BIAS)) <= set(fv)
    assert arguments.population_stage(fv) == {"shard": (1, 4), "member_range": None}
    # the preset itself is untouched
    assert CELEBA_BIAS["tiny"]["population"]["members"] == 2


def test_variants_of_a_study():
    config = get(CELEBA_BIAS, "quick", sparsities="0.5,0.9", qat=True, post_training="int8")
    everything, audited, deployments = arguments.variants(config)
    assert audited == ["prune_ft@0.5", "prune_ft@0.9", "qat_int8", "dense+tflite_int8"]
    assert deployments == [("prune_ft@0.5", "prune_ft@0.5+tflite_int8"),
                           ("prune_ft@0.9", "prune_ft@0.9+tflite_int8"),
                           ("qat_int8", "qat_int8+tflite_int8")]
    assert everything == ["dense", *audited, *(d for _, d in deployments)]
    assert pipeline.sparsity_axis(audited) == {"dense": 0.0, "prune_ft@0.5": 0.5,
                                              "prune_ft@0.9": 0.9}
    assert pipeline.exemplar_variants(audited) == ["prune_ft@0.9", "dense+tflite_int8"]
    _, audited, deployments = arguments.variants(get(CELEBA_BIAS, "paper", deploy_mode=""))
    assert audited[:2] == ["prune@0.3", "prune@0.5"] and deployments == []


def test_keras_3_flag_builds_keras3_members_without_tfmot_variants():
    import keras

    config = get(CELEBA_BIAS, "quick", keras="3", qat=True, mitigations="kd", sparsities="0.9")
    everything, audited, _ = arguments.variants(config)
    assert audited == ["prune_ft@0.9", "dense+tflite_int8"]      # no qat_int8, no prune_kd
    assert "qat_int8" in arguments.variants(get(CELEBA_BIAS, "quick", qat=True))[1]
    model = arguments.model_fn(config, (32, 32, 3), 2)()
    assert isinstance(model, keras.Model)
    assert not isinstance(arguments.model_fn(get(CELEBA_BIAS, "quick"), (32, 32, 3), 2)(),
                          keras.Model)
    with pytest.raises(ValueError, match="`--keras` must be 2"):
        arguments.model_fn(get(CELEBA_BIAS, "quick", keras="4"), (32, 32, 3), 2)


def test_bad_values_name_the_flag():
    with pytest.raises(ValueError, match="--members"):
        get(CELEBA_BIAS, "quick", members="many")
    with pytest.raises(ValueError, match="--qat"):
        get(CELEBA_BIAS, "quick", qat="maybe")
    with pytest.raises(ValueError, match="unknown preset key.*'nembers'"):
        get(CELEBA_BIAS, "quick", nembers=3)
    with pytest.raises(ValueError, match="preset.*paper"):
        get(IMAGENET_PIE, "huge")
    with pytest.raises(ValueError, match="--prune_mode"):
        arguments.variants(get(CELEBA_BIAS, "quick", prune_mode="sometimes"))
    with pytest.raises(ValueError, match="--shard"):
        parse_pair("1of4", "/", "shard")
    with pytest.raises(ValueError, match="--strategy"):
        make_strategy("gpu-cluster")
    with pytest.raises(ValueError, match="--model"):
        arguments.model_fn(get(CELEBA_BIAS, "quick", model="vgg"), (32, 32, 1), 2)


def test_unprepared_dataset_ends_the_script_with_instructions(tmp_path):
    config = get(CELEBA_BIAS, "paper", data_dir=str(tmp_path))
    with pytest.raises(SystemExit, match="celeb_a is not prepared.*manual"):
        arguments.load_split(config, "train", 0, target="Blond_Hair", protected=["Male", "Young"])


def test_strategy_flag_builds_the_strategy():
    # conftest gives TensorFlow two logical CPUs, so MirroredStrategy has two replicas
    assert make_strategy("mirrored").num_replicas_in_sync == 2
    assert make_strategy("one_device").num_replicas_in_sync == 1
    assert make_strategy("default").num_replicas_in_sync == 1


def test_a_preset_carries_only_its_models_options():
    assert IMAGENET_PIE["paper"]["model"] == {"model": "resnet50"}  # no resnet_depth
    assert IMAGENET_PIE["quick"]["model"] == {"model": "small_resnet", "resnet_depth": 8,
                                              "resnet_width": 8}
    # flags of another model's options exist (a preset of the study has them) ...
    fv = flags.FlagValues()
    define_flags(IMAGENET_PIE, default_out_dir="runs/x", flag_values=fv)
    fv(["prog", "--preset=paper", "--model=small_resnet", "--resnet_depth=14"])
    config = resolve(IMAGENET_PIE, fv)
    assert config["model"] == {"model": "small_resnet", "resnet_depth": 14}
    build = arguments.model_fn(config, (32, 32, 1), 10)
    assert build.func.__name__ == "small_resnet" and build.keywords == {"depth": 14}
    # ... but a model never takes another's: changing --model drops the old model's options,
    # and setting one the model lacks is an error naming the flag
    assert get(IMAGENET_PIE, "quick", model="resnet18")["model"] == {"model": "resnet18"}
    with pytest.raises(ValueError, match="--resnet_depth.*--model=resnet50"):
        arguments.model_fn(get(IMAGENET_PIE, "paper", resnet_depth="8"), (224, 224, 3), 1000)


def test_evaluations_are_entries_chosen_by_type():
    quick = get(IMAGENET_PIE, "quick", corruptions="fog,snow", imagenet_a="true")
    assert quick["evaluations"]["corrupted"]["corruptions"] == ["fog", "snow"]
    assert quick["evaluations"]["imagenet_a"] == {"type": "imagenet_a"}  # switched on
    assert "imagenet_a" not in get(IMAGENET_PIE, "paper", imagenet_a="0")["evaluations"]
    assert flat(IMAGENET_PIE["quick"], IMAGENET_PIE)["imagenet_a"] is False
    assert {spec["type"] for spec in IMAGENET_PIE["paper"]["evaluations"].values()} == {
        "clean", "corrupted", "imagenet_a"}
    assert set(CELEBA_BIAS["paper"]["evaluations"]) == {"clean"}
    with pytest.raises(ValueError, match="unknown preset key.*'corruptions'"):
        get(CELEBA_BIAS, "quick", corruptions="fog")  # CelebA has no corrupted evaluation


def test_evaluators_build_the_sets_the_audit_reads():
    from pie_tf.experiments_config import evaluations

    config = get(IMAGENET_PIE, "tiny", train_examples="16", eval_examples="16",
                 corruption_examples="8", corruptions="gaussian_noise,contrast",
                 cache_corrupted="false")
    data = arguments.study_data(config)
    built = evaluations.evaluate(config, data)
    assert built.clean == "test"
    assert sorted(built.datasets) == ["contrast@3", "gaussian_noise@3", "test"]
    assert built.audit_options == {"corruption_sets": {("gaussian_noise", 3): "gaussian_noise@3",
                                                       ("contrast", 3): "contrast@3"}}
    clean = list(built.datasets["test"].as_numpy_iterator())
    noisy = list(built.datasets["gaussian_noise@3"].as_numpy_iterator())
    assert len(clean) == 16 and len(noisy) == 8
    assert [ex["id"] for ex in noisy] == [ex["id"] for ex in clean[:8]]  # the same examples
    assert all(np.abs(c["image"] - f["image"]).mean() > 0.01 for c, f in zip(clean, noisy))
    config["evaluations"]["extra"] = {"type": "adversarial"}
    with pytest.raises(ValueError, match="evaluation 'extra'.*type.*clean"):
        evaluations.evaluate(config, data)
    with pytest.raises(ValueError, match="--corruption_source"):
        evaluations.evaluate(get(IMAGENET_PIE, "tiny", corruption_source="disk"), data)


def test_one_flag_sets_one_place():
    from pie_tf.experiments_config.overrides import fields

    clash = {"a": {"data": {"seed": 1}, "seed": 0}}
    with pytest.raises(ValueError, match="'seed' is at both"):
        fields(clash)


def test_paper_presets_turn_on_accelerator_options_resolved_for_the_device():
    from pie_tf._keras import tf
    strategy = tf.distribute.get_strategy()
    for presets in (CELEBA_BIAS, IMAGENET_PIE):
        paper = arguments.recipe(get(presets, "paper"), strategy)
        assert paper.jit_compile and not get(presets, "paper")["population"]["deterministic"]
        assert get(presets, "quick")["population"]["deterministic"]
        # "auto" is resolved before the recipe is made: on this CPU it is float32, and the store
        # records that, not "auto"
        assert paper.mixed_precision == "float32"
        quick = arguments.recipe(get(presets, "quick"), strategy)
        assert not quick.jit_compile and quick.mixed_precision == "float32"
        forced = arguments.recipe(get(presets, "paper", mixed_precision="mixed_bfloat16"),
                                  strategy)
        assert forced.mixed_precision == "mixed_bfloat16"
        with pytest.raises(ValueError, match="`mixed_precision`.*'fp8'"):
            arguments.recipe(get(presets, "paper", mixed_precision="fp8"), strategy)


def test_learning_rates_scale_linearly_with_the_batch_size():
    imagenet = arguments.recipe(get(IMAGENET_PIE, "paper"))
    assert (imagenet.batch_size, imagenet.learning_rate) == (1024, pytest.approx(0.4))
    small = arguments.recipe(get(IMAGENET_PIE, "paper", batch_size="8"))
    assert small.learning_rate == pytest.approx(0.4 * 8 / 1024)
    assert small.fine_tune_learning_rate == pytest.approx(0.01 * 8 / 1024)
    # a given rate is the rate at learning_rate_batch, so it scales too
    given = arguments.recipe(get(CELEBA_BIAS, "paper", batch_size="128", learning_rate="0.2"))
    assert given.learning_rate == pytest.approx(0.1)
    quick = arguments.recipe(get(CELEBA_BIAS, "quick"))
    assert quick.learning_rate == pytest.approx(0.05)  # its own batch: unchanged
    with pytest.raises(ValueError, match="`--learning_rate_batch`.*0"):
        arguments.recipe(get(CELEBA_BIAS, "paper", learning_rate_batch="0"))


def test_quick_presets_reach_the_papers_headline_sparsity_with_one_recipe():
    celeba, imagenet = CELEBA_BIAS["quick"], IMAGENET_PIE["quick"]
    # one model and one CPU recipe for both quick studies; only the population size differs
    assert celeba["model"] == imagenet["model"]
    recipe = ("epochs", "batch_size", "learning_rate", "learning_rate_batch", "sparsities",
              "prune_mode", "prune_end", "fine_tune_epochs", "fine_tune_learning_rate",
              "qat_epochs", "post_training", "jit_compile", "mixed_precision", "deterministic")
    assert {k: celeba["population"][k] for k in recipe} == \
        {k: imagenet["population"][k] for k in recipe}
    assert (celeba["population"]["members"], imagenet["population"]["members"]) == (5, 4)
    # PruneCallback(0.9), the papers' headline, is on the quick curve: three fine-tuning epochs
    # keep the 20k-parameter ResNet off the majority class there (one did not), QAT one epoch
    assert celeba["population"]["sparsities"] == [0.5, 0.8, 0.9]
    quick = arguments.recipe(get(CELEBA_BIAS, "quick"))
    assert (quick.fine_tune_epochs, quick.qat_epochs) == (3, 1)
    assert arguments.recipe(get(CELEBA_BIAS, "quick", qat_epochs="2")).qat_epochs == 2
    # the paper presets' QAT fine-tunes as long as pruning does (0 = fine_tune_epochs)
    assert arguments.recipe(get(CELEBA_BIAS, "paper")).qat_epochs is None
    # enough test images that the rare group (Blond and Male, 0.85%) has ~40, not ~17
    assert celeba["evaluations"]["clean"]["eval_examples"] == 5000
    # the tiny presets stay seconds-long
    for presets in (CELEBA_BIAS, IMAGENET_PIE):
        assert presets["tiny"]["population"]["fine_tune_epochs"] == 1


def test_exemplar_images_are_found_among_raw_images_of_different_sizes():
    # tfds imagenet2012 yields each JPEG at its own size: the report's lookup must not batch them
    import tensorflow as tf

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
              for h, w in ((44, 19), (47, 17), (5, 30), (12, 12))]
    ids = ["ILSVRC2012_val_00000001.JPEG", "b", "c", "d"]
    raw = tf.data.Dataset.from_generator(
        lambda: ({"id": i, "image": im, "label": 0} for i, im in zip(ids, images)),
        output_signature={"id": tf.TensorSpec((), tf.string),
                          "image": tf.TensorSpec((None, None, 3), tf.uint8),
                          "label": tf.TensorSpec((), tf.int64)})
    found = pipeline.exemplar_images(raw, [np.str_(ids[0]), "c"])
    assert sorted(found) == [ids[0], "c"]
    np.testing.assert_array_equal(found[ids[0]], images[0])
    np.testing.assert_array_equal(found["c"], images[2])
    assert pipeline.exemplar_images(raw, []) == {}
    numbered = tf.data.Dataset.from_tensor_slices({"id": np.arange(4),
                                                   "image": np.zeros((4, 2, 2, 1))})
    assert sorted(pipeline.exemplar_images(numbered, [np.int64(3), 1])) == [1, 3]
