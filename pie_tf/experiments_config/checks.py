"""Every flag of a study checked before anything is loaded or trained.

A flag whose value the audit or the report would refuse after hours of training (``--alpha=2``,
``--protected=Nope``, ``--severities=3`` with AlexNet-normalised CE) is refused here, at start,
naming the flag, the value and what is valid. :func:`check_study` raises
:class:`pie_tf.errors.InvalidArgumentError`; the scripts print its message and exit non-zero.
"""
from __future__ import annotations

import os
import re
import tempfile

from pie_tf.errors import InvalidArgumentError

__all__ = ["check_study", "check_out_dir"]


def check_out_dir(out_dir):
    """``--out_dir`` exists or can be made, and a file can be written in it (local paths)."""
    if not out_dir:
        raise InvalidArgumentError("`--out_dir` is empty; give the folder the run writes to.")
    if "://" in out_dir:  # gs:// and the like: tf.io.gfile reports its own errors on write
        return
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise InvalidArgumentError(f"`--out_dir` {out_dir!r} is a file, not a folder.")
    try:
        os.makedirs(out_dir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".write-check-"):
            pass
    except OSError as err:
        raise InvalidArgumentError(f"`--out_dir` {out_dir!r} is not writable ({err.strerror}); "
                                   "give a folder this user can write to.") from None


def _check_members(config):
    members = config["population"]["members"]
    if isinstance(members, bool) or not isinstance(members, int) or members < 1:
        raise InvalidArgumentError(f"`--members` must be an integer >= 1 (members per "
                                   f"population); got {members!r}.")


# Counts of examples a study reads: (section, key, smallest valid value, what it counts)
_COUNTS = (("data", "train_examples", 0, "training examples read; 0 = the whole split"),
           ("population", "calibration_examples", 1, "training images that calibrate int8"),
           ("evaluations", "eval_examples", 0, "evaluation examples; 0 = the whole split"),
           ("evaluations", "corruption_examples", 0,
            "evaluation images corrupted; 0 = the whole evaluation set"))


def _check_counts(config):
    for section, key, smallest, meaning in _COUNTS:
        specs = ([spec for spec in config[section].values() if isinstance(spec, dict)]
                 if section == "evaluations" else [config[section]])
        for spec in specs:
            if key not in spec:
                continue
            value = spec[key]
            if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
                raise InvalidArgumentError(f"`--{key}` must be an integer >= {smallest} "
                                           f"({meaning}); got {value!r}.")


def _check_groups(config, info):
    """``--target`` and ``--protected`` name attributes the dataset has."""
    section = config["data"]
    if "target" in section and section["target"] not in info.class_names:
        raise InvalidArgumentError(
            f"`--target` {section['target']!r} is not the target of {section['dataset']} "
            f"(its classes: {list(info.class_names)}"
            + ("; the stand-in's target is fixed" if section["dataset"] == "celeba_standin"
               else "") + ").")
    protected = section.get("protected") or []
    unknown = [a for a in protected if a not in info.attribute_names]
    if unknown:
        raise InvalidArgumentError(f"`--protected`: {unknown} are not attributes of "
                                   f"{section['dataset']}; valid: {list(info.attribute_names)}.")


def _check_audit(config, info):
    """The audit's options, built now as the audit will build them."""
    from pie_tf.audit import AuditOptions

    audit = config["audit"]
    try:
        AuditOptions(alpha=audit["alpha"], n_bootstrap=audit["n_bootstrap"], seed=config["seed"])
    except ValueError as err:
        raise InvalidArgumentError(f"--alpha / --n_bootstrap: {err}") from None
    from pie_tf._imagenet_c import CORRUPTIONS, EXTRA_CORRUPTIONS, SEVERITIES
    for spec in config["evaluations"].values():
        if not spec or spec.get("type") != "corrupted":
            continue
        if spec["corruption_source"] not in ("tfds", "pie_tf"):
            raise InvalidArgumentError(f"`--corruption_source` must be 'tfds' (the published "
                                       f"ImageNet-C images) or 'pie_tf'; got "
                                       f"{spec['corruption_source']!r}.")
        unknown = [c for c in spec["corruptions"] if c not in CORRUPTIONS + EXTRA_CORRUPTIONS]
        if unknown:
            raise InvalidArgumentError(f"`--corruptions`: {unknown} are not ImageNet-C "
                                       "corruptions; valid: "
                                       f"{', '.join(CORRUPTIONS + EXTRA_CORRUPTIONS)}.")
        severities = list(spec["severities"])
        bad = [s for s in severities if s not in SEVERITIES]
        if bad or not severities or len(set(severities)) != len(severities):
            raise InvalidArgumentError(f"`--severities` must be distinct values of {SEVERITIES}; "
                                       f"got {severities!r}.")
        # The audit normalises 1000-class ImageNet by AlexNet's published errors, which are
        # means over all five severities (pie_tf.audit._robustness).
        if info.n_classes == 1000 and set(spec["corruptions"]) <= set(CORRUPTIONS) \
                and sorted(severities) != list(SEVERITIES):
            raise InvalidArgumentError(
                f"`--severities={','.join(map(str, severities))}`: the audit normalises ImageNet "
                "corruption error by AlexNet's published errors, which are means over all five "
                f"severities; give --severities={','.join(map(str, SEVERITIES))}.")


def check_study(presets, flag_values):
    """The resolved preset, after checking every flag that can be checked without data or
    training.

    Parameters
    ----------
    presets : dict of str -> dict
    flag_values : absl.flags.FlagValues

    Returns
    -------
    config : dict
        The preset with the flags applied.
    info : pie_tf.data.DatasetInfo
        Of the study's dataset (``pie_tf.data.info``: no I/O).

    Raises
    ------
    pie_tf.errors.InvalidArgumentError
        Naming the flag, its value and what is valid.
    """
    from pie_tf.experiments_config import arguments
    from pie_tf.experiments_config.flags import resolve

    try:
        config = resolve(presets, flag_values)
    except ValueError as err:  # unknown preset keys: named by the layer
        raise InvalidArgumentError(str(err)) from None
    try:
        info = arguments.data_info(config)
    except ValueError as err:  # unknown datasets, options: pie_tf.data names its arguments
        raise InvalidArgumentError(_as_flags(str(err), flag_values, {"name": "dataset"})) \
            from None
    check_out_dir(flag_values.out_dir)
    _check_members(config)
    _check_counts(config)
    _check_groups(config, info)
    _check_audit(config, info)
    try:
        arguments.population_stage(flag_values)
        arguments.variants(config)
        arguments.model_fn(config, (8, 8, 1), max(info.n_classes, 2))
        # the training recipe's own checks (batch size, epochs ...); "auto" precision is not
        # resolved here: listing devices would start TensorFlow's runtime before the strategy
        arguments.recipe({**config, "population": {**config["population"],
                                                   "mixed_precision": "float32"}})
    except ValueError as err:
        raise InvalidArgumentError(_as_flags(str(err), flag_values)) from None
    return config, info


def _as_flags(message, flag_values, renamed=None):
    """``message`` with each `argument` that is one of the study's flags written `--flag`."""
    renamed = renamed or {}

    def flag(match):
        name = renamed.get(match[1], match[1])
        return f"`--{name}`" if name in flag_values else match[0]
    return re.sub(r"`(\w+)`", flag, message)
