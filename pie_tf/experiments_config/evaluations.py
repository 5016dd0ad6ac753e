"""Evaluators: the evaluation sets of a study, each chosen by its ``type`` in the preset.

A preset's ``evaluations`` section maps a name to ``{"type": ..., options}`` (as big_vision's
``config.evals``). Each type is one function of :data:`EVALUATORS` that turns its entry into
the datasets the population predicts on, the class subsets those predictions are restricted to,
and the arguments the audit needs to find them in the store. Adding an evaluation set is adding
a function here, not a branch in a script.

``clean``
    The evaluation split itself (``eval_split``, ``eval_examples``), stored under the split's
    name; the audit's main set. Every study has it, under the name ``clean``.
``corrupted``
    Every corruption at every severity, stored as ``"<corruption>@<severity>"``:
    ``corruption_source="tfds"`` reads the published ImageNet-C images
    (``imagenet2012_corrupted``), ``"pie_tf"`` applies ``pie_tf.corruptions`` to the first
    ``corruption_examples`` clean images (seeded per example id); ``cache_corrupted`` keeps each
    set in memory after the first member.
``imagenet_a``
    ImageNet-A's test split, the model's logits restricted to its 200 classes.
"""
from __future__ import annotations

import dataclasses

__all__ = ["Evaluations", "evaluate", "EVALUATORS"]


@dataclasses.dataclass
class Evaluations:
    """What the evaluators of a preset give the population and the audit.

    Attributes
    ----------
    clean : str
        The store name of the clean evaluation set (the audit's ``eval_set``).
    datasets : dict of str -> tf.data.Dataset
        Every evaluation set, preprocessed, by store name (``Population``'s ``eval_sets``).
    class_subsets : dict of str -> sequence of int
        Sets whose predictions are restricted to some classes (``Population``'s
        ``class_subsets``).
    audit_options : dict
        Keyword arguments of ``Audit.from_store`` that name the corrupted and subset sets.
    info : dict of str -> dict
        What each set is, stored with it (``Population``'s ``eval_info``): a corrupted set's
        ``corruption``, ``severity`` and ``source``, which ``Audit.from_store``'s
        ``corruption_sets="auto"`` finds them by.
    not_deployed : list of str
        Sets the TFLite exports of compressed variants do not predict on.
    """
    clean: str = ""
    datasets: dict = dataclasses.field(default_factory=dict)
    class_subsets: dict = dataclasses.field(default_factory=dict)
    audit_options: dict = dataclasses.field(default_factory=dict)
    not_deployed: list = dataclasses.field(default_factory=list)
    info: dict = dataclasses.field(default_factory=dict)

    def deployed_sets(self):
        """The sets the TFLite exports of compressed variants predict on."""
        return [name for name in self.datasets if name not in self.not_deployed]


def _clean(name, spec, config, data, out):
    import pie_tf.data

    out.clean = spec["eval_split"]
    out.datasets[out.clean] = pie_tf.data.preprocess(data.evaluation, data.eval_step)


def _corrupted(name, spec, config, data, out):
    import pie_tf.corruptions
    import pie_tf.data

    from pie_tf.experiments_config.arguments import load_split

    sets = {}
    split = config["evaluations"]["clean"]["eval_split"]
    for corruption in spec["corruptions"]:
        for severity in spec["severities"]:
            set_name = sets[(corruption, severity)] = f"{corruption}@{severity}"
            if spec["corruption_source"] == "tfds":  # the published ImageNet-C images
                corrupted = load_split(config, split, spec["corruption_examples"],
                                       resize=data.resize,
                                       name=f"imagenet2012_corrupted/{corruption}_{severity}")
            else:  # pie_tf.corruptions on the clean images, seeded per example id
                clean = data.evaluation.take(spec["corruption_examples"]) \
                    if spec["corruption_examples"] else data.evaluation
                corrupted = pie_tf.corruptions.corrupt_dataset(clean, corruption, severity,
                                                               seed=config["seed"])
            dataset = pie_tf.data.preprocess(corrupted, data.eval_step)
            out.datasets[set_name] = dataset.cache() if spec["cache_corrupted"] else dataset
            out.info[set_name] = {"corruption": corruption, "severity": int(severity),
                                  "source": spec["corruption_source"]}
            if not spec.get("deploy_corrupted", False):
                out.not_deployed.append(set_name)
    out.audit_options["corruption_sets"] = sets


def _imagenet_a(name, spec, config, data, out):
    import pie_tf.data

    from pie_tf.experiments_config.arguments import load_split

    examples = load_split(config, "test", 0, resize=data.resize, name="imagenet_a")
    out.datasets[name] = pie_tf.data.preprocess(examples, data.eval_step)
    out.class_subsets[name] = pie_tf.data.imagenet_a_class_indices(
        data_dir=config["data"]["data_dir"] or None)
    out.audit_options["imagenet_a_set"] = name


EVALUATORS = {"clean": _clean, "corrupted": _corrupted, "imagenet_a": _imagenet_a}
_SOURCES = ("tfds", "pie_tf")


def evaluate(config, data):
    """The evaluation sets of ``config["evaluations"]``, each built by its type's evaluator.

    Parameters
    ----------
    config : dict
        A nested preset.
    data : pie_tf.experiments_config.arguments.StudyData

    Raises
    ------
    ValueError
        An entry has no known ``type``, the ``clean`` evaluation is missing, or
        ``--corruption_source`` is not one of ``tfds``, ``pie_tf``.
    """
    specs = config["evaluations"]
    if specs.get("clean", {}).get("type") != "clean":
        raise ValueError("the preset's `evaluations` must hold `clean` of type 'clean' (the "
                         f"evaluation split); got {specs.get('clean')!r}.")
    out = Evaluations()
    for name, spec in specs.items():
        if spec.get("type") not in EVALUATORS:
            raise ValueError(f"evaluation {name!r}: `type` must be one of {sorted(EVALUATORS)}; "
                             f"got {spec.get('type')!r}.")
        if spec["type"] == "corrupted" and spec["corruption_source"] not in _SOURCES:
            raise ValueError(f"`--corruption_source` must be one of {_SOURCES}; got "
                             f"{spec['corruption_source']!r}.")
        EVALUATORS[spec["type"]](name, spec, config, data, out)
    return out
