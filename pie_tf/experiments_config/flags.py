"""Command-line flags of the experiment scripts: one per preset value, plus how to run.

Every leaf key of a preset becomes a flag of the same name whose default is None ("keep the
preset's value"); lists are comma-separated (``--sparsities=0.5,0.9``); an evaluation without
options (``--imagenet_a``) is a boolean flag that adds or removes it. The run flags
(``--out_dir``, ``--strategy``, ``--shard``, ``--member_range``, ``--stage``, ``--tf_logs``) say
where and how, not what.
"""
from __future__ import annotations

from pie_tf.experiments_config.overrides import fields, get

__all__ = ["define_flags", "resolve", "make_strategy", "parse_pair", "STRATEGIES", "STAGES"]

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker", "tpu")
STAGES = ("all", "train", "report", "repair")


def define_flags(presets, *, default_preset="quick", default_out_dir, flag_values=None):
    """Define ``--preset``, one flag per preset key, and the run flags. Call once per script.

    ``flag_values`` defaults to absl's global ``flags.FLAGS``.
    """
    from absl import flags as absl_flags

    fv = absl_flags.FLAGS if flag_values is None else flag_values
    flags = _Definer(absl_flags, fv)

    flags.DEFINE_enum("preset", default_preset, sorted(presets),
                      "Preset to start from; every flag below that is given overrides one of its "
                      "values.")
    flags.DEFINE_string("out_dir", default_out_dir, "Output directory: store/ (predictions), "
                        "checkpoints, tables/, figures/ and report.html. Re-running with the same "
                        "directory resumes: stored members are not trained again.")
    flags.DEFINE_enum("strategy", "default", STRATEGIES, "tf.distribute strategy the population "
                      "trains under (multi_worker reads TF_CONFIG; tpu takes --tpu).")
    flags.DEFINE_string("tpu", "", "TPU name or address for --strategy=tpu.")
    flags.DEFINE_string("shard", "", "'i/n': train shard i of n of the population (groups of "
                        "members, see pie_tf.population.Population.plan). All shards write into "
                        "one --out_dir (local or gs://).")
    flags.DEFINE_string("member_range", "", "'start:stop': train these positions of the member "
                        "list instead of a shard.")
    flags.DEFINE_bool("retrain_changed", False, "When --out_dir holds members or evaluation "
                      "sets made with another configuration (different flags), delete and "
                      "retrain what changed instead of stopping with the list of differences.")
    flags.DEFINE_bool("tf_logs", False, "Show TensorFlow's own log lines (C++ and Python: "
                      "device set-up, SavedModel fingerprints, TFLite converter banners) on the "
                      "terminal. By default they go to <out_dir>/tensorflow.log and the terminal "
                      "shows pie_tf's progress and findings only.")
    flags.DEFINE_enum("stage", "all", STAGES, "train: only train this job's members; report: "
                      "only audit and report what the store holds; all: train, then audit and "
                      "report once every member is stored; repair: delete every damaged member "
                      "or evaluation set of the store, redo them (re-predicting from the stored "
                      "checkpoints where there are some), then audit and report.")
    for key, field in fields(presets).items():
        value = field.example
        where = ".".join(field.path)
        if field.switch:
            help_text = f"true/false: run the preset's {where} evaluation or not."
        else:
            shown = ",".join(map(str, value)) if isinstance(value, list) else value
            help_text = f"Override the preset's {where} ({field.preset}: {shown!r})."
        if isinstance(value, list):
            flags.DEFINE_list(key, None, help_text)
        else:
            flags.DEFINE_string(key, None, help_text)


class _Definer:
    """absl's DEFINE_* functions bound to one FlagValues."""

    def __init__(self, module, flag_values):
        self._module, self._flag_values = module, flag_values

    def __getattr__(self, name):
        import functools

        return functools.partial(getattr(self._module, name), flag_values=self._flag_values)


def resolve(presets, flag_values):
    """The preset named by ``--preset`` with every preset flag that was given applied."""
    overrides = {key: getattr(flag_values, key) for key in fields(presets)
                 if getattr(flag_values, key) is not None}
    return get(presets, flag_values.preset, **overrides)


def parse_pair(text, sep, argname):
    """``"a<sep>b"`` as two ints, or None for ``""``; a clear error otherwise."""
    if not text:
        return None
    parts = text.split(sep)
    try:
        first, second = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"`--{argname}` must look like 'a{sep}b' with integers; got "
                         f"{text!r}.") from None
    return first, second


def make_strategy(name, tpu=""):
    """The tf.distribute strategy called ``name`` (one of :data:`STRATEGIES`)."""
    import tensorflow as tf

    if name not in STRATEGIES:
        raise ValueError(f"`--strategy` must be one of {STRATEGIES}; got {name!r}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    except (ValueError, RuntimeError, tf.errors.OpError) as err:
        from pie_tf.errors import InvalidArgumentError
        where = f"--tpu={tpu!r}" if tpu else "no --tpu given and none found on this machine"
        raise InvalidArgumentError(
            f"`--strategy=tpu`: cannot reach a TPU ({where}: {type(err).__name__}: "
            f"{str(err).strip().splitlines()[0][:200] if str(err).strip() else 'no detail'}). "
            "Pass --tpu=NAME (or grpc://ADDRESS), or run on a TPU VM.") from None
