"""A study's preset turned into the arguments of the library calls it composes.

Each function reads one or two sections of a nested preset (see
:mod:`pie_tf.experiments_config.presets`) and returns what ``pie_tf.data``, ``pie_tf.models``
and ``pie_tf.population`` take. Nothing here trains, evaluates or computes a statistic; the
audit and report steps are :mod:`pie_tf.experiments_config.pipeline`'s.
"""
from __future__ import annotations

import dataclasses
import functools
import os

__all__ = ["load_split", "data_options", "data_info", "StudyData", "study_data", "model_fn",
           "keras_version",
           "recipe", "seeds", "variants", "audit_options", "group_options", "population_stage",
           "MODEL_OPTIONS"]

# Options of each architecture in the ``model`` section: flag name -> keyword of pie_tf.models.
MODEL_OPTIONS = {"small_resnet": {"resnet_depth": "depth", "resnet_width": "width"},
                 "resnet18": {}, "resnet50": {}}


def load_split(config, split, n_examples, *, name=None, resize=None, **options):
    """Raw (uint8) examples of ``split`` of a dataset, the first ``n_examples`` (0: all).

    Parameters
    ----------
    config : dict
        The preset (its ``data`` section and ``seed``).
    split : str
    n_examples : int
    name : str, optional
        Dataset to load instead of the preset's (e.g. ``"imagenet_a"``).
    resize : dict, optional
        Options of ``pie_tf.data.load`` that size the images; default ``image_size`` of the
        preset. ``{}`` loads them as stored (ImageNet is cropped by its preprocessing instead).
    **options
        Passed to ``pie_tf.data.load`` (e.g. ``target``, ``protected``).

    The stand-in is generated at the requested size (its proportions hold for any size); other
    datasets are sliced with tfds' split syntax (``"train[:6000]"``).

    Raises
    ------
    SystemExit
        The dataset is not prepared: the data layer's message (what to download, where to put
        it, which command prepares it) ends the script without a traceback.
    """
    import pie_tf.data

    try:
        return _load(pie_tf.data, config, split, n_examples, name, resize, options)
    except pie_tf.data.DatasetNotPreparedError as err:
        raise SystemExit(f"error: {err}") from None


def _load(data, config, split, n_examples, name, resize, options):
    section = config["data"]
    name = name or section["dataset"]
    kwargs = dict(options)
    if section.get("data_dir"):
        kwargs["data_dir"] = os.path.expanduser(section["data_dir"])
    if name == "celeba_standin":
        kwargs.update(seed=config["seed"], image_size=section["image_size"])
        if n_examples:
            kwargs[f"{split}_size"] = n_examples
        return data.load(name, split, **kwargs)
    kwargs.update({"image_size": section["image_size"]} if resize is None else resize)
    return data.load(name, f"{split}[:{n_examples}]" if n_examples else split, **kwargs)


def data_options(config):
    """Options of ``pie_tf.data.load`` / ``info`` that choose the label and the attributes.

    CelebA takes ``target`` and ``protected``; the stand-in has CelebA's target and attributes
    built in, and the other datasets have none.
    """
    section = config["data"]
    if section["dataset"] == "celeba_standin":
        return {}
    return {key: section[key] for key in ("target", "protected") if key in section}


def data_info(config):
    """``pie_tf.data.info`` of the preset's dataset (no I/O): classes, attributes, shape."""
    import pie_tf.data

    section = config["data"]
    return pie_tf.data.info(section["dataset"], image_size=section["image_size"],
                            **data_options(config))


@dataclasses.dataclass(frozen=True)
class StudyData:
    """The data of a study, read as its preset says.

    Attributes
    ----------
    info : pie_tf.data.DatasetInfo
    train : tf.data.Dataset
        Training examples, preprocessed for training (float images).
    evaluation : tf.data.Dataset
        Raw (uint8) examples of the clean evaluation split; evaluations derive their sets from
        it and the report draws the exemplars' images from it.
    eval_step : callable
        The preprocessing step of every evaluation set.
    resize : dict or None
        How ``load_split`` sizes images (``{}``: as stored, ImageNet's crops size them).
    input_shape : tuple of int
    """
    info: object
    train: object
    evaluation: object
    eval_step: object
    resize: dict | None
    input_shape: tuple


def study_data(config):
    """Training and clean evaluation data of the preset, with their preprocessing.

    ImageNet takes the standard ResNet crops (random for training, central for evaluation) at
    ``image_size``; every other dataset is resized when loaded and only converted to float.
    """
    import pie_tf.data

    section, options = config["data"], data_options(config)
    size = section["image_size"]
    info = data_info(config)
    if section["dataset"] == "imagenet2012":
        train_step, eval_step, resize = (pie_tf.data.resnet_train(size),
                                         pie_tf.data.resnet_eval(size), {})
    else:
        train_step = eval_step = pie_tf.data.to_float()
        resize = None
    clean = config["evaluations"]["clean"]
    train = load_split(config, "train", section["train_examples"], resize=resize, **options)
    evaluation = load_split(config, clean["eval_split"], clean["eval_examples"], resize=resize,
                            **options)
    channels = info.image_shape[-1] if info.image_shape else 3
    return StudyData(info=info,
                     train=pie_tf.data.preprocess(train, train_step, seed=config["seed"]),
                     evaluation=evaluation, eval_step=eval_step, resize=resize,
                     input_shape=(size, size, channels))


def model_fn(config, input_shape, n_classes):
    """A builder of the preset's model (``pie_tf.models``), as the population calls it.

    Raises
    ------
    ValueError
        ``--model`` is not an architecture of :data:`MODEL_OPTIONS`, or the ``model`` section
        holds an option of another architecture (``--resnet_depth`` with ``--model=resnet50``).
    """
    import pie_tf.models

    section = dict(config["model"])
    name = section.pop("model")
    if name not in MODEL_OPTIONS:
        raise ValueError(f"`--model` must be one of {sorted(MODEL_OPTIONS)}; got {name!r}.")
    foreign = sorted(set(section) - set(MODEL_OPTIONS[name]))
    if foreign:
        raise ValueError(f"`--{foreign[0]}` is not an option of --model={name} (its options: "
                         f"{sorted(MODEL_OPTIONS[name]) or 'none'}).")
    kwargs = {MODEL_OPTIONS[name][key]: value for key, value in section.items()}
    if keras_version(config) == 3:
        from pie_tf._keras import keras3
        kwargs["keras"] = keras3()
    return functools.partial(getattr(pie_tf.models, name), tuple(input_shape), n_classes,
                             **kwargs)


def keras_version(config):
    """``--keras``: 2 (tf_keras members, the default) or 3 (Keras 3 members)."""
    version = config["population"].get("keras", 2)
    if version not in (2, 3):
        raise ValueError(f"`--keras` must be 2 (tf_keras) or 3 (Keras 3); got {version!r}.")
    return version


# preset keys of the population section passed to the Recipe as they are
_MITIGATION_SETTINGS = ("distill_temperature", "distill_weight", "performance_min_weight",
                        "performance_gamma", "group_weight_power")


def recipe(config, strategy=None):
    """The population's training recipe from the preset.

    ``mixed_precision="auto"`` is resolved here, under ``strategy``, so the stored recipe says
    which policy the members were trained with (float32 on a CPU, mixed_float16 on a GPU,
    mixed_bfloat16 on a TPU).
    """
    from pie_tf._precision import resolve_policy
    from pie_tf.population import Recipe

    section = config["population"]
    # The preset's rates are for `learning_rate_batch` images a step; another batch size scales
    # them linearly (Goyal et al. 2017), so --batch_size=8 on the ImageNet preset (0.4 at 1024)
    # does not train at 0.4 and diverge (measured: NaN in the first pruned member).
    reference = section.get("learning_rate_batch", section["batch_size"])
    if isinstance(reference, bool) or not isinstance(reference, int) or reference < 1:
        from pie_tf.errors import InvalidArgumentError
        raise InvalidArgumentError(f"`--learning_rate_batch` must be a positive int (the batch "
                                   f"size the learning rates are for); got {reference!r}.")
    scale = section["batch_size"] / reference
    return Recipe(epochs=section["epochs"], batch_size=section["batch_size"], optimizer="sgd",
                  learning_rate=section["learning_rate"] * scale, lr_schedule="cosine",
                  fine_tune_epochs=section["fine_tune_epochs"],
                  fine_tune_learning_rate=section["fine_tune_learning_rate"] * scale,
                  qat_epochs=section.get("qat_epochs") or None,
                  prune_end=section["prune_end"],
                  calibration_examples=section["calibration_examples"],
                  **{key: section[key] for key in _MITIGATION_SETTINGS if key in section},
                  jit_compile=bool(section.get("jit_compile", False)),
                  mixed_precision=resolve_policy(section.get("mixed_precision", "float32"),
                                                 strategy))


def seeds(config):
    """The members' seeds: ``seed``, ``seed + 1``, ... (``members`` of them)."""
    return range(config["seed"], config["seed"] + config["population"]["members"])


_PRUNING = {"during_training": "during", "fine_tune": "fine_tune", "both": "both"}


def variants(config):
    """The study's variants (each a :class:`pie_tf.population.Variant`, a str: its name).

    Returns
    -------
    all_variants : list of Variant
        Every variant the population trains (``pie_tf.population.standard_variants``) plus the
        TFLite export (``deploy_mode``) of every compressed Keras variant.
    audited : list of Variant
        Compressed variants audited against dense: pruned, QAT and post-training quantized
        dense models.
    deployments : list of (Variant, Variant)
        (Keras variant, its TFLite export) pairs audited for deployment-identified exemplars.

    With ``--keras=3`` the QAT and mitigated variants are left out: tfmot's QAT and
    pie_tf.mitigation take tf_keras models only (post-training TFLite variants stay).
    """
    from pie_tf.population import standard_variants

    section = config["population"]
    if section["prune_mode"] not in _PRUNING:
        raise ValueError(f"`--prune_mode` must be one of {sorted(_PRUNING)}; got "
                         f"{section['prune_mode']!r}.")
    tf_keras = keras_version(config) == 2
    audited_all = standard_variants(section["sparsities"],
                                    pruning=_PRUNING[section["prune_mode"]],
                                    qat=section["qat"] and tf_keras,
                                    tflite=section["post_training"], tflite_of=("dense",),
                                    mitigations=section["mitigations"] if tf_keras else ())
    audited = audited_all[1:]  # every variant but dense, which standard_variants puts first
    deployments = []
    if section["deploy_mode"]:
        deployments = [(v, v.exported(section["deploy_mode"])) for v in audited
                       if v.tflite is None]
    return audited_all + [d for _, d in deployments], audited, deployments


def audit_options(config, info):
    """Keyword arguments of every ``Audit.from_store`` of the study (the ``audit`` section)."""
    return dict(alpha=config["audit"]["alpha"], n_bootstrap=config["audit"]["n_bootstrap"],
                seed=config["seed"], class_names=list(info.class_names))


def group_options(config):
    """Keyword arguments of ``Audit.from_store`` naming the target and protected attributes."""
    names = {"protected": "protected", "target": "target_name"}
    return {names[key]: config["data"][key] for key in names if key in config["data"]}


def population_stage(flag_values):
    """Keyword arguments of ``Population.run`` from ``--shard`` / ``--member_range``."""
    from pie_tf.experiments_config.flags import parse_pair
    from pie_tf.population.population import check_stage

    shard = parse_pair(flag_values.shard, "/", "shard")
    member_range = parse_pair(flag_values.member_range, ":", "member_range")
    check_stage(shard, member_range)   # Population.plan's own check, at start
    return {"shard": shard, "member_range": member_range}
