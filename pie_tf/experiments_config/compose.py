"""The steps both studies share, each a direct composition of library calls.

data (pie_tf.data) -> population (pie_tf.population) -> store -> audit (pie_tf.audit) -> report
(pie_tf.report). Nothing here trains or computes a statistic: training is the population's, every
number is the audit's; this module only maps a preset onto their arguments and moves their
outputs to the next step.
"""
from __future__ import annotations

import functools
import os

import numpy as np
import pandas as pd

__all__ = ["load_split", "model_fn", "recipe", "variants", "run_population",
           "deployment_tables", "exemplar_images", "exemplar_variants", "sparsity_axis",
           "population_stage", "intro", "console_summary"]


def load_split(config, split, n_examples, *, name=None, resize=None, **options):
    """Raw (uint8) examples of ``split`` of a dataset, the first ``n_examples`` (0: all).

    Parameters
    ----------
    config : dict
        The preset (``dataset``, ``data_dir``, ``seed``, ``image_size``).
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
    name = name or config["dataset"]
    kwargs = dict(options)
    if config.get("data_dir"):
        kwargs["data_dir"] = os.path.expanduser(config["data_dir"])
    if name == "celeba_standin":
        kwargs.update(seed=config["seed"], image_size=config["image_size"])
        if n_examples:
            kwargs[f"{split}_size"] = n_examples
        return data.load(name, split, **kwargs)
    kwargs.update({"image_size": config["image_size"]} if resize is None else resize)
    return data.load(name, f"{split}[:{n_examples}]" if n_examples else split, **kwargs)


def model_fn(config, input_shape, num_classes):
    """A builder of the preset's model (``pie_tf.models``), as the population calls it."""
    import pie_tf.models

    name = config["model"]
    if name == "small_resnet":
        return functools.partial(pie_tf.models.small_resnet, tuple(input_shape), num_classes,
                                 depth=config["resnet_depth"], width=config["resnet_width"])
    if name in ("resnet18", "resnet50"):
        return functools.partial(getattr(pie_tf.models, name), tuple(input_shape), num_classes)
    raise ValueError(f"`--model` must be small_resnet, resnet18 or resnet50; got {name!r}.")


def recipe(config):
    """The population's training recipe from the preset."""
    from pie_tf.population import Recipe

    return Recipe(epochs=config["epochs"], batch_size=config["batch_size"], optimizer="sgd",
                  learning_rate=config["learning_rate"], lr_schedule="cosine",
                  finetune_epochs=config["fine_tune_epochs"],
                  finetune_learning_rate=config["fine_tune_learning_rate"],
                  prune_end=config["prune_end"],
                  calibration_examples=config["calibration_examples"])


_PRUNING = {"during_training": "during", "fine_tune": "finetune", "both": "both"}


def variants(config):
    """Variant names of the study.

    Returns
    -------
    all_variants : list of str
        Every variant the population trains (``pie_tf.population.standard_variants``) plus the
        TFLite export (``deploy_mode``) of every compressed Keras variant.
    audited : list of str
        Compressed variants audited against dense: pruned, QAT and post-training quantized
        dense models.
    deployments : list of (str, str)
        (Keras variant, its TFLite export) pairs audited for deployment-identified exemplars.
    """
    from pie_tf.population import standard_variants

    if config["prune_mode"] not in _PRUNING:
        raise ValueError(f"`--prune_mode` must be one of {sorted(_PRUNING)}; got "
                         f"{config['prune_mode']!r}.")
    audited_all = standard_variants(config["sparsities"], pruning=_PRUNING[config["prune_mode"]],
                                    qat=config["qat"], tflite=config["post_training"],
                                    tflite_of=("dense",))
    audited = [v for v in audited_all if v != "dense"]
    deployments = []
    if config["deploy_mode"]:
        keras_compressed = [v for v in audited if "+tflite_" not in v]
        deployments = [(v, f"{v}+tflite_{config['deploy_mode']}") for v in keras_compressed]
    return audited_all + [d for _, d in deployments], audited, deployments


def sparsity_axis(names):
    """x position of each population in the robustness figure: its sparsity (dense at 0).

    Quantized populations are not on this axis and are left out (their rows stay in the tables).
    """
    from pie_tf.population import Variant

    axis = {"dense": 0.0}
    for name in names:
        v = Variant.parse(name)
        if v.sparsity is not None and v.tflite is None:
            axis[name] = v.sparsity
    return axis


def population_stage(flag_values):
    """Keyword arguments of ``Population.run`` from ``--shard`` / ``--member_range``."""
    from pie_tf.experiments_config.flags import parse_pair

    shard = parse_pair(flag_values.shard, "/", "shard")
    member_range = parse_pair(flag_values.member_range, ":", "member_range")
    return {"shard": shard, "member_range": member_range}


def run_population(population, flag_values, log):
    """Train this job's members (unless ``--stage=report``); True when the store is complete."""
    if flag_values.stage != "report":
        results = population.run(**population_stage(flag_values))
        written = sum(r.status == "written" for r in results)
        log(f"population: {written} members trained now, "
            f"{sum(r.status == 'skipped' for r in results)} already stored")
    missing = [m for m in population.members() if not population.store.has_member(*m)]
    if missing:
        log(f"the store lacks {len(missing)} of {len(population.members())} members (e.g. "
            f"{missing[:3]}); the audit runs once every shard has finished.")
    return not missing


def audit_from_store(store, eval_set, **kwargs):
    """``Audit.from_store`` reading the stored probabilities as probabilities.

    The store holds softmax outputs, so they are declared as such: left to "auto", the audit
    would take the dequantized outputs of int8 TFLite models, which move in steps of 1/256 and
    sum to 1 - 1/256, for logits and apply a softmax to them, giving a wrong probability loyalty.
    If the audit refuses them as probabilities (rows not summing to one within its tolerance),
    the audit is built from the top-1 labels alone: probability loyalty is then reported as not
    computed (its status column says so) rather than computed on distorted distributions.
    """
    from absl import logging

    from pie_tf.audit import Audit

    try:
        return Audit.from_store(store, eval_set, scores_kind="probabilities", **kwargs)
    except ValueError as err:
        if "declared probabilities" not in str(err):
            raise
        logging.warning("probability loyalty not computed: %s", err)
        return Audit.from_store(store, eval_set, probabilities=False, **kwargs)


def deployment_tables(store, eval_set, deployments, audit_kwargs):
    """Each TFLite export audited against the Keras variant it came from.

    The export plays the compressed population and its Keras source the reference, so the
    audit's exemplars are the deployment-identified exemplars (examples whose modal label the
    conversion changed) and its loyalty is the export's loyalty to its source.

    Returns
    -------
    dict of str -> DataFrame, empty without deployments:
        ``deployment``: one row per export, the audit's summary with ``dense_`` / ``compressed_``
        renamed ``keras_`` / ``tflite_``; ``deployment_exemplars``: the audit's per-example rows
        that are exemplars; ``deployment_sizes``: the TFLite file size of every member, as the
        population recorded it.
    """
    summaries, exemplars, sizes = [], [], []
    for source, export in deployments:
        result = audit_from_store(store, eval_set, dense=source, variants=[export],
                                  corruption_sets=None, **audit_kwargs)
        summary = result.summary().rename(columns=lambda c: c.replace("dense_", "keras_")
                                          .replace("compressed_", "tflite_"))
        summary = summary.rename(columns={"n_pie": "n_deployment_exemplars",
                                          "pie_fraction": "deployment_exemplar_fraction"})
        summary.insert(1, "source", source)
        summaries.append(summary)
        table = result.pie[result.pie["pie"]].copy()
        table.insert(1, "source", source)
        exemplars.append(table)
        sizes.extend({"variant": export, "seed": seed,
                      "tflite_bytes": store.member_info(export, seed)["timing"].get("tflite_bytes")}
                     for seed in store.seeds(export))
    if not summaries:
        return {}
    return {"deployment": pd.concat(summaries, ignore_index=True),
            "deployment_exemplars": pd.concat(exemplars, ignore_index=True),
            "deployment_sizes": pd.DataFrame(sizes)}


def exemplar_images(dataset, ids):
    """Images of ``ids`` found in ``dataset`` (raw pie_tf examples), read in one pass.

    Returns
    -------
    dict id -> ndarray (H, W, C), ids as the store records them (str for string ids).
    """
    wanted = set(_plain(i) for i in ids)
    found = {}
    if not wanted:
        return found
    for batch in dataset.map(lambda ex: {"id": ex["id"], "image": ex["image"]}).batch(
            1024).as_numpy_iterator():
        for key, image in zip(batch["id"], batch["image"]):
            key = _plain(key)
            if key in wanted:
                found[key] = image
        if len(found) == len(wanted):
            break
    return found


def _plain(value):
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def exemplar_variants(audited):
    """Variants whose exemplars the report draws: the sparsest pruned one and the last other."""
    axis = sparsity_axis(audited)
    pruned = [v for v in audited if v in axis]
    chosen = [max(pruned, key=axis.get)] if pruned else []
    others = [v for v in audited if v not in axis]
    return chosen + others[-1:]


def intro(config, info, preset, audit):
    """The report's opening paragraphs: what was run, on what data."""
    members = {p: audit.predictions(p).shape[0] for p in audit.populations}
    return (f"Preset {preset!r}. Data: {info.name}: {info.description}\n\n"
            f"Model {config['model']}; {audit.n_examples} evaluation examples "
            f"({config['eval_split']} split). Members per population: "
            + ", ".join(f"{p} {n}" for p, n in members.items()) + ".\n\n"
            "Every number on this page is a table pie_tf.audit returned; the CSV files in "
            "tables/ hold them all.")


def console_summary(tables, report):
    """What the script prints at the end: the headline table and where the report is."""
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        lines = ["", "Summary (compressed variants against the dense population):",
                 tables["summary"].to_string(index=False, float_format="%.4f")]
        if "deployment" in tables:
            lines += ["", "TFLite exports against their Keras source:",
                      tables["deployment"][[c for c in ("variant", "source",
                                                        "n_deployment_exemplars",
                                                        "keras_accuracy_all",
                                                        "tflite_accuracy_all",
                                                        "label_loyalty_mean")
                                            if c in tables["deployment"].columns]]
                      .to_string(index=False, float_format="%.4f")]
    lines += ["", f"Report: {report.html}", f"Tables: {report.html.parent / 'tables'}"]
    return "\n".join(lines)


def audit_and_report(store, eval_set, evaluation, config, info, *, audited, deployments, out_dir,
                     title, preset, **audit_options):
    """Audit the store (dense against ``audited``, each export against its source) and report.

    Parameters
    ----------
    store : PredictionStore
    eval_set : str
        The stored evaluation set the audit is about.
    evaluation : tf.data.Dataset
        Its raw examples, read only for the images of the exemplars the report draws.
    config, info : the preset and the dataset's ``pie_tf.data.DatasetInfo``
    audited, deployments : from :func:`variants`
    out_dir, title, preset : where the report goes, its title, the preset's name
    **audit_options
        Study-specific arguments of ``Audit.from_store`` (``protected``, ``target_name``,
        ``corruption_sets``, ``imagenet_a_set``).

    Returns
    -------
    tables : dict str -> DataFrame (``Audit.to_frames()`` and :func:`deployment_tables`)
    report : pie_tf.report.Report
    """
    import pie_tf.report

    audit_kwargs = dict(alpha=config["alpha"], n_bootstrap=config["n_bootstrap"],
                        seed=config["seed"], class_names=list(info.class_names))
    audit = audit_from_store(store, eval_set, variants=audited, **audit_options, **audit_kwargs)
    tables = audit.to_frames()
    tables.update(deployment_tables(store, eval_set, deployments, audit_kwargs))
    shown = exemplar_variants(audited)
    pie = tables["pie"]
    ids = pie[pie["pie"] & pie["variant"].isin(shown)].groupby("variant", sort=False).head(
        config["exemplars"])["id"]
    report = pie_tf.report.write_report(
        tables, out_dir, title=title, intro=intro(config, info, preset, audit),
        images=exemplar_images(evaluation, ids), class_names=list(info.class_names),
        sparsity=sparsity_axis(audited), max_exemplars=config["exemplars"],
        exemplar_variants=shown)
    return tables, report
