"""Presets say what the papers did; every preset value is a flag; bad flags say what is valid."""
import pytest
from absl import flags

from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE, compose, get
from pie_tf.experiments_config.flags import define_flags, make_strategy, parse_pair, resolve

IMAGENET_C = {"gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
              "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
              "elastic_transform", "pixelate", "jpeg_compression"}


def test_paper_presets_are_the_papers_setups():
    celeba = CELEBA_BIAS["paper"]
    assert (celeba["dataset"], celeba["model"], celeba["target"]) == \
        ("celeb_a", "resnet18", "Blond_Hair")
    assert celeba["protected"] == ["Male", "Young"]
    assert celeba["sparsities"] == [0.3, 0.5, 0.7, 0.9, 0.95, 0.99]
    assert celeba["members"] == 30 and celeba["qat"] and celeba["calibration_examples"] == 100
    assert set(celeba["post_training"]) == {"dynamic", "int8"}
    assert celeba["prune_mode"] == "during_training"
    imagenet = IMAGENET_PIE["paper"]
    assert (imagenet["dataset"], imagenet["model"], imagenet["members"]) == \
        ("imagenet2012", "resnet50", 30)
    assert imagenet["sparsities"] == [0.1, 0.3, 0.5, 0.7, 0.9]
    assert set(imagenet["corruptions"]) == IMAGENET_C and imagenet["severities"] == [1, 2, 3, 4, 5]
    assert imagenet["imagenet_a"] and imagenet["corruption_source"] == "tfds"
    # the offline presets never reach for data that is not on this machine
    for presets in (CELEBA_BIAS, IMAGENET_PIE):
        assert presets["quick"]["dataset"] in ("celeba_standin", "fashion_mnist")
        assert presets["tiny"]["dataset"] == presets["quick"]["dataset"]
        assert set(presets["quick"]) == set(presets["paper"]) == set(presets["tiny"])


def test_every_preset_value_is_a_flag():
    fv = flags.FlagValues()
    define_flags(CELEBA_BIAS, default_out_dir="runs/x", flag_values=fv)
    fv(["prog", "--preset=tiny", "--members=7", "--sparsities=0.5,0.95", "--qat=true",
        "--learning_rate=0.2", "--post_training=", "--deploy_mode=dynamic", "--shard=1/4"])
    config = resolve(CELEBA_BIAS, fv)
    assert config["members"] == 7 and config["sparsities"] == [0.5, 0.95]
    assert config["qat"] is True and config["learning_rate"] == 0.2
    assert config["post_training"] == [] and config["deploy_mode"] == "dynamic"
    assert config["epochs"] == CELEBA_BIAS["tiny"]["epochs"]  # not given: the preset's
    assert set(CELEBA_BIAS["paper"]) <= set(fv)
    assert compose.population_stage(fv) == {"shard": (1, 4), "member_range": None}
    assert CELEBA_BIAS["tiny"]["members"] == 2  # the preset itself is untouched


def test_variants_of_a_study():
    config = get(CELEBA_BIAS, "quick", sparsities="0.5,0.9", qat=True, post_training="int8")
    everything, audited, deployments = compose.variants(config)
    assert audited == ["prune_ft@0.5", "prune_ft@0.9", "qat_int8", "dense+tflite_int8"]
    assert deployments == [("prune_ft@0.5", "prune_ft@0.5+tflite_int8"),
                           ("prune_ft@0.9", "prune_ft@0.9+tflite_int8"),
                           ("qat_int8", "qat_int8+tflite_int8")]
    assert everything == ["dense", *audited, *(d for _, d in deployments)]
    assert compose.sparsity_axis(audited) == {"dense": 0.0, "prune_ft@0.5": 0.5,
                                              "prune_ft@0.9": 0.9}
    assert compose.exemplar_variants(audited) == ["prune_ft@0.9", "dense+tflite_int8"]
    _, audited, deployments = compose.variants(get(CELEBA_BIAS, "paper", deploy_mode=""))
    assert audited[:2] == ["prune@0.3", "prune@0.5"] and deployments == []


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
        compose.variants(get(CELEBA_BIAS, "quick", prune_mode="sometimes"))
    with pytest.raises(ValueError, match="--shard"):
        parse_pair("1of4", "/", "shard")
    with pytest.raises(ValueError, match="--strategy"):
        make_strategy("gpu-cluster")
    with pytest.raises(ValueError, match="--model"):
        compose.model_fn(get(CELEBA_BIAS, "quick", model="vgg"), (32, 32, 1), 2)


def test_unprepared_dataset_ends_the_script_with_instructions(tmp_path):
    config = get(CELEBA_BIAS, "paper", data_dir=str(tmp_path))
    with pytest.raises(SystemExit, match="celeb_a is not prepared.*manual"):
        compose.load_split(config, "train", 0, target="Blond_Hair", protected=["Male", "Young"])


def test_strategy_flag_builds_the_strategy():
    # conftest gives TensorFlow two logical CPUs, so MirroredStrategy has two replicas
    assert make_strategy("mirrored").num_replicas_in_sync == 2
    assert make_strategy("one_device").num_replicas_in_sync == 1
    assert make_strategy("default").num_replicas_in_sync == 1
