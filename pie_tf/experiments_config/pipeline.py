"""The pipeline both studies run: data -> population -> store -> audit -> report.

data (pie_tf.data) -> population (pie_tf.population) -> store -> audit (pie_tf.audit) -> report
(pie_tf.report), written once (:func:`run_study`). Nothing here trains or computes a statistic:
training is the population's, every number is the audit's; this module moves each step's outputs
to the next. The arguments of each call come from the preset through
:mod:`pie_tf.experiments_config.arguments`, the evaluation sets through
:mod:`pie_tf.experiments_config.evaluations`.
"""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

__all__ = ["run_study", "study_main", "tensorflow_log_path", "run_population", "audit_from_store",
           "deployment_tables", "size_table", "mitigation_tables", "exemplar_images",
           "exemplar_variants", "sparsity_axis", "intro", "console_summary", "audit_and_report"]


def run_study(presets, flag_values, *, title):
    """Train the population the flags' preset describes, audit it and write the report.

    Parameters
    ----------
    presets : dict of str -> dict
        The study's presets (``CELEBA_BIAS``, ``IMAGENET_PIE``).
    flag_values : absl.flags.FlagValues
        Parsed flags of :func:`pie_tf.experiments_config.define_flags`.
    title : callable
        ``title(config, preset)`` -> the report's title.

    Returns
    -------
    str or None
        The console summary, or None when this job trained members but the store is not yet
        complete (other shards are still running).
    """
    from absl import logging

    from pie_tf import console
    from pie_tf.experiments_config import arguments, evaluations
    from pie_tf.experiments_config.checks import check_study
    from pie_tf.experiments_config.flags import make_strategy
    from pie_tf.population import Population

    # every flag checked, and the strategy reached, before any data is read or model trained
    config, _ = check_study(presets, flag_values)
    logging.info("preset %s: %s", flag_values.preset, config)
    console.echo(f"{title(config, flag_values.preset)}\n  output: {flag_values.out_dir}", err=True)
    strategy = make_strategy(flag_values.strategy, flag_values.tpu)
    data = arguments.study_data(config)
    evaluated = evaluations.evaluate(config, data)
    all_variants, audited, deployments = arguments.variants(config)
    store = open_store(flag_values.out_dir, flag_values.stage)
    population = Population(
        arguments.model_fn(config, data.input_shape, data.info.n_classes), data.train,
        evaluated.datasets, store=store, recipe=arguments.recipe(config, strategy),
        class_subsets=evaluated.class_subsets, eval_info=evaluated.info,
        seeds=arguments.seeds(config),
        variants=all_variants, strategy=strategy,
        deterministic=config["population"]["deterministic"],
        variant_eval_sets={export: evaluated.deployed_sets() for _, export in deployments})
    if not run_population(population, flag_values, lambda line: console.echo(line, err=True)):
        return None
    console.echo("audit: the store against the dense population, then the report", err=True)
    # dense against every compressed variant on every evaluation set; each TFLite export
    # against its Keras source
    tables, report = audit_and_report(
        store, evaluated.clean, data.evaluation, config, data.info, audited=audited,
        deployments=deployments, out_dir=flag_values.out_dir, preset=flag_values.preset,
        title=title(config, flag_values.preset), **arguments.group_options(config),
        **evaluated.audit_options)
    from pie_tf.report import dataset_caveats

    return console_summary(tables, report, dataset_caveats(data.info))


def sparsity_axis(variants):
    """x position of each population in the robustness figure: its sparsity (dense at 0).

    ``variants``: :class:`pie_tf.population.Variant` objects (names are parsed). Quantized
    populations are not on this axis and are left out (their rows stay in the tables).
    """
    from pie_tf.population import Variant

    axis = {"dense": 0.0}
    for variant in map(Variant.parse, variants):
        if variant.sparsity is not None and variant.tflite is None:
            axis[variant.name] = variant.sparsity
    return axis


def study_main(presets, flag_values, *, title):
    """The ``main`` of an experiment script, for ``absl.app.run``: :func:`run_study`, then the
    console summary printed (nothing when this job's shard finished before the others).

    TensorFlow's own log lines go to ``<out_dir>/tensorflow.log`` for the run
    (:func:`pie_tf.console.quiet_tensorflow`) unless ``--tf_logs``: the terminal shows pie_tf's
    lines, the population's progress and, at the end, the findings and the report's path.
    """
    def main(argv):
        from pie_tf import console
        from pie_tf.errors import PieTfError

        del argv
        from pie_tf.experiments_config.checks import check_out_dir

        try:
            check_out_dir(flag_values.out_dir)   # before its TensorFlow log is opened in it
        except PieTfError as err:
            raise SystemExit(f"error: {err}") from None
        log_path = tensorflow_log_path(flag_values.out_dir)
        try:
            with console.quiet_tensorflow(not flag_values.tf_logs, log_path=log_path):
                summary = run_study(presets, flag_values, title=title)
        except PieTfError as err:  # a refused flag or a damaged store: the message, no traceback
            raise SystemExit(f"error: {err}") from None
        if not flag_values.tf_logs and log_path:
            console.echo(f"TensorFlow's own log of this run: {log_path} (--tf_logs prints it "
                         "here instead)", err=True)
        if summary is not None:
            print(summary, flush=True)
    return main


def tensorflow_log_path(out_dir):
    """``<out_dir>/tensorflow.log`` for a local ``out_dir``; None (a temporary file) for a
    remote one (``gs://``), which a file descriptor cannot point at."""
    return None if "://" in out_dir else os.path.join(out_dir, "tensorflow.log")


def run_population(population, flag_values, log):
    """Train this job's members (unless ``--stage=report``); True when the store is complete.

    Either way the store is first compared with the flags' configuration
    (``Population.reconcile``): results of another configuration stop the run
    (``ConfigMismatchError``) unless ``--retrain_changed``. While the store is incomplete, an
    earlier ``report.html`` in ``--out_dir`` is renamed ``report.stale.html``, so it never looks
    current. ``--stage=report`` on an incomplete store raises :class:`pie_tf.errors.StoreError`
    naming the missing members (the script exits non-zero).
    """
    from pie_tf.errors import StoreError
    from pie_tf.experiments_config.arguments import population_stage

    on_mismatch = "retrain" if flag_values.retrain_changed else "error"
    if flag_values.stage == "repair":
        for what, why in population.store.remove_damaged():
            log(f"repair: removed damaged {what} ({why}); it is redone now")
    if flag_values.stage != "report":
        missing = _missing_members(population)
        if missing:
            _mark_report_stale(flag_values.out_dir, log)
        results = population.run(**population_stage(flag_values), on_mismatch=on_mismatch,
                                 tf_logs=flag_values.tf_logs)
        written = sum(r.status == "written" for r in results)
        log(f"population: {written} members trained now, "
            f"{sum(r.status == 'skipped' for r in results)} already stored")
    else:
        population.reconcile(on_mismatch="error")
    missing = _missing_members(population)
    if missing and flag_values.stage == "report":
        _mark_report_stale(flag_values.out_dir, log)
        raise StoreError(population.store.root,
                         f"lacks {len(missing)} of {len(population.members())} members of this "
                         "configuration (e.g. "
                         f"{', '.join(f'{v} seed {s}' for v, s in missing[:5])})"
                         "; --stage=report audits a complete store only. Train them first "
                         "(--stage=train or --stage=all with the same flags).")
    if missing:
        log(f"the store lacks {len(missing)} of {len(population.members())} members (e.g. "
            f"{missing[:3]}); the audit runs once every shard has finished.")
    return not missing


def _missing_members(population):
    return [m for m in population.members() if not population.store.has_member(*m)]


def _mark_report_stale(out_dir, log):
    """An earlier report of an incomplete or changing store must not look current."""
    report = os.path.join(out_dir, "report.html")
    if os.path.exists(report):
        os.replace(report, os.path.join(out_dir, "report.stale.html"))
        log(f"{report} described an earlier state of the store: renamed report.stale.html.")


def open_store(out_dir, stage):
    """The study's prediction store in ``out_dir/store``; for ``--stage=report`` it must exist."""
    from pie_tf.errors import StoreError
    from pie_tf.store import PredictionStore

    root = os.path.join(out_dir, "store")
    if stage == "report" and not os.path.exists(os.path.join(root, "STORE.json")):
        _mark_report_stale(out_dir, lambda message: None)
        raise StoreError(root, "holds no prediction store (no STORE.json); --stage=report "
                               "audits a store a run has filled. Train first (--stage=train or "
                               "--stage=all), or give the --out_dir of that run.")
    return PredictionStore(root)


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
    from pie_tf.errors import NotProbabilitiesError

    try:
        return Audit.from_store(store, eval_set, scores_kind="probabilities", **kwargs)
    except NotProbabilitiesError as err:
        logging.warning("probability loyalty not computed: %s", err)
        return Audit.from_store(store, eval_set, probabilities=False, **kwargs)


def size_table(store, variants):
    """TFLite file size of every stored member of ``variants``, as the population recorded it.

    Columns ``variant, seed, tflite_bytes, tflite_gzip_bytes`` (the flatbuffer and its gzip-9
    length; NaN where a store written before the gzip figure was recorded lacks it).
    """
    rows = []
    for variant in dict.fromkeys(variants):
        for seed in store.seeds(variant):
            timing = store.member_info(variant, seed)["timing"]
            rows.append({"variant": variant, "seed": seed,
                         "tflite_bytes": timing.get("tflite_bytes", np.nan),
                         "tflite_gzip_bytes": timing.get("tflite_gzip_bytes", np.nan)})
    return pd.DataFrame(rows, columns=["variant", "seed", "tflite_bytes", "tflite_gzip_bytes"])


def deployment_tables(store, eval_set, deployments, audit_kwargs, imagenet_a_set=None, sized=()):
    """Each TFLite export audited against the Keras variant it came from.

    The export plays the compressed population and its Keras source the reference, so the
    audit's exemplars are the deployment-identified exemplars (examples whose modal label the
    conversion changed) and its loyalty is the export's loyalty to its source.

    Returns
    -------
    dict of str -> DataFrame, empty without deployments:
        ``deployment``: one row per export, the audit's summary with ``dense_`` / ``compressed_``
        renamed ``keras_`` / ``tflite_``; ``deployment_exemplars``: the audit's per-example rows
        that are exemplars; ``deployment_sizes``: :func:`size_table` of the exports and of
        ``sized`` (the audited TFLite variants, e.g. ``dense+tflite_int8``; the only table
        returned without deployments); ``deployment_calibration``: the calibration table of
        the Keras source and of the export (``population`` is the variant's name);
        ``deployment_paired_tests``: the exact McNemar tests of the export against its source,
        per group and class; ``deployment_imagenet_a`` (with ``imagenet_a_set``): ImageNet-A
        accuracy of the source and of the export.
    """
    summaries, exemplars, calibration, paired, subset = [], [], [], [], []
    for source, export in deployments:
        result = audit_from_store(store, eval_set, dense=source, variants=[export],
                                  corruption_sets=None, imagenet_a_set=imagenet_a_set,
                                  **audit_kwargs)
        if imagenet_a_set is not None:
            table = result.imagenet_a.replace({"population": {"dense": source}})
            table.insert(0, "variant", export)
            subset.append(table)
        summary = result.summary().rename(columns=lambda c: c.replace("dense_", "keras_")
                                          .replace("compressed_", "tflite_"))
        summary = summary.rename(columns={"n_cie": "n_deployment_exemplars",
                                          "cie_fraction": "deployment_exemplar_fraction"})
        summary.insert(1, "source", source)
        summaries.append(summary)
        table = result.pie[result.pie["cie"]].copy()
        table.insert(1, "source", source)
        exemplars.append(table)
        table = result.calibration.replace({"population": {"dense": source}})
        table.insert(0, "variant", export)
        calibration.append(table)
        table = result.paired_tests.copy()
        table.insert(1, "source", source)
        paired.append(table)
    sizes = size_table(store, [export for _, export in deployments] + list(sized))
    if not summaries:
        return {"deployment_sizes": sizes} if len(sizes) else {}
    return {"deployment": pd.concat(summaries, ignore_index=True),
            "deployment_exemplars": pd.concat(exemplars, ignore_index=True),
            "deployment_sizes": sizes,
            "deployment_calibration": pd.concat(calibration, ignore_index=True),
            "deployment_paired_tests": pd.concat(paired, ignore_index=True),
            **({"deployment_imagenet_a": pd.concat(subset, ignore_index=True)} if subset else {})}


def mitigation_tables(tables, audited, config):
    """Each mitigated variant against the plain pruned variant at its sparsity.

    Returns
    -------
    dict of str -> DataFrame, empty without mitigated variants: ``mitigation``
    (``pie_tf.audit.mitigation_comparison``) and ``mitigation_summary`` (its verdicts).
    """
    from pie_tf.audit import mitigation_comparison, mitigation_summary
    from pie_tf.population import Variant

    audited = [Variant.parse(v) for v in audited]  # names given by hand become Variants
    pairs = [(v.name, v.unmitigated.name) for v in audited
             if v.mitigation is not None and v.tflite is None and v.unmitigated in audited]
    if not pairs:
        return {}
    comparison = mitigation_comparison(tables, pairs, n_bootstrap=config["audit"]["n_bootstrap"],
                                       seed=config["seed"])
    return {"mitigation": comparison, "mitigation_summary": mitigation_summary(comparison)}


def exemplar_images(dataset, ids):
    """Images of ``ids`` found in ``dataset`` (raw pie_tf examples), read in one pass.

    Raw images may differ in size (ImageNet's JPEGs do), so they are never batched: the ids are
    matched in the pipeline and only the wanted examples come out, one at a time.

    Returns
    -------
    dict id -> ndarray (H, W, C), ids as the store records them (str for string ids).
    """
    import tensorflow as tf

    wanted = set(_plain(i) for i in ids)
    found = {}
    if not wanted:
        return found
    keys = tf.constant(sorted(wanted), dtype=dataset.element_spec["id"].dtype)
    matches = dataset.map(lambda ex: {"id": ex["id"], "image": ex["image"]},
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=True).filter(
        lambda ex: tf.reduce_any(tf.equal(ex["id"], keys)))
    for example in matches.as_numpy_iterator():
        found[_plain(example["id"])] = example["image"]
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
            f"Model {config['model']['model']}; {audit.n_examples} evaluation examples "
            f"({config['evaluations']['clean']['eval_split']} split). Members per population: "
            + ", ".join(f"{p} {n}" for p, n in members.items()) + ".\n\n"
            "Every number on this page is a table pie_tf.audit returned; the CSV files in "
            "tables/ hold them all.")


def console_summary(tables, report, caveats=()):
    """What the script prints at the end: the findings in words
    (:func:`pie_tf.report.findings_text`, with the study's ``caveats`` first) and where the
    report and its tables are."""
    import pie_tf.report

    return "\n".join(["", pie_tf.report.findings_text(tables, caveats=list(caveats)), "",
                      f"Report: {report.html}", f"Tables: {report.html.parent / 'tables'}"])


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
    audited, deployments : from :func:`pie_tf.experiments_config.arguments.variants`
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

    from pie_tf.experiments_config.arguments import audit_options as study_audit_options

    audit_kwargs = study_audit_options(config, info)
    audit = audit_from_store(store, eval_set, variants=audited, **audit_options, **audit_kwargs)
    tables = audit.to_frames()
    tables.update(deployment_tables(store, eval_set, deployments, audit_kwargs,
                                    audit_options.get("imagenet_a_set"),
                                    sized=[v for v in audited if "+tflite_" in v]))
    tables.update(mitigation_tables(tables, audited, config))
    shown = exemplar_variants(audited)
    # The images of the most changed exemplars (graded exemplar score), which the grids show.
    pie = pie_tf.report.sort_exemplars(tables["pie"], tables["exemplar_scores"])
    ids = pie[pie["cie"] & pie["variant"].isin(shown)].groupby("variant", sort=False).head(
        config["report"]["exemplars"])["id"]
    report = pie_tf.report.write_report(
        tables, out_dir, title=title, intro=intro(config, info, preset, audit),
        images=exemplar_images(evaluation, ids), class_names=list(info.class_names),
        sparsity=sparsity_axis(audited), max_exemplars=config["report"]["exemplars"],
        exemplar_variants=shown, caveats=pie_tf.report.dataset_caveats(info))
    return tables, report
