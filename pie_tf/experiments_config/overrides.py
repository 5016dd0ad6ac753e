"""Where each flag's value lives in a nested preset, and how overrides land there.

A preset's leaf keys are its flag names (see :mod:`pie_tf.experiments_config.presets`): the
flag ``--resnet_depth`` is ``config["model"]["resnet_depth"]``, ``--corruptions`` is
``config["evaluations"]["corrupted"]["corruptions"]``. An evaluation with no options besides its
``type`` (``imagenet_a``) is a *switch*: a boolean flag of its name adds or removes it.
"""
from __future__ import annotations

import copy
import dataclasses

__all__ = ["get", "fields", "flat", "Field"]


@dataclasses.dataclass(frozen=True)
class Field:
    """One flag of a study: where it lives and a value that shows its type.

    Attributes
    ----------
    path : tuple of str
        Keys from the top of the preset to the value (for a switch: to the evaluation).
    example : object
        The value of the first preset that has it (for a switch: that evaluation's entry).
    switch : bool
        True for an evaluation switched on or off as a whole.
    preset : str
        The name of that first preset.
    """
    path: tuple
    example: object
    switch: bool = False
    preset: str = ""


def fields(presets):
    """Every flag of ``presets`` (a study's presets, by name), in preset order.

    Returns
    -------
    dict of str -> Field

    Raises
    ------
    ValueError
        Two different places of the presets carry the same leaf key (one flag cannot set both).
    """
    found = {}
    for preset, config in presets.items():
        for name, field in _leaves(config):
            field = dataclasses.replace(field, preset=preset)
            if name in found and found[name].path != field.path:
                raise ValueError(f"preset key {name!r} is at both {'.'.join(found[name].path)} "
                                 f"and {'.'.join(field.path)}; a flag can set only one of them.")
            found.setdefault(name, field)
    return found


def _leaves(config):
    for key, value in config.items():
        if not isinstance(value, dict):
            yield key, Field((key,), value)
        elif key == "evaluations":
            for name, spec in value.items():
                options = {k: v for k, v in spec.items() if k != "type"}
                if not options:
                    yield name, Field((key, name), spec, switch=True)
                for option, option_value in options.items():
                    yield option, Field((key, name, option), option_value)
        else:
            for option, option_value in value.items():
                yield option, Field((key, option), option_value)


def flat(config, presets):
    """``config``'s values by flag name (a switch is True when its evaluation is present)."""
    values = {}
    for name, field in fields(presets).items():
        present, value = _lookup(config, field.path)
        if field.switch:
            values[name] = present
        elif present:
            values[name] = value
    return values


def _lookup(config, path):
    node = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def get(presets, name, **overrides):
    """A copy of preset ``name`` with ``overrides`` (flag name -> value) applied.

    Values may be strings or lists of strings, as flags give them; each is read as the type of
    the preset's value. Giving ``model`` another architecture drops the old one's options
    (``--model=resnet50`` on a ``small_resnet`` preset uses no ``resnet_depth``).

    Raises
    ------
    ValueError
        ``name`` is not a preset, an override names no flag of the study, a value cannot be read
        as its type, or it sets an option of an evaluation the preset does not run.
    """
    if name not in presets:
        raise ValueError(f"`preset` must be one of {sorted(presets)}; got {name!r}.")
    config = copy.deepcopy(presets[name])
    known = fields(presets)
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown preset key(s) {unknown}; valid: {sorted(known)}.")
    if "model" in overrides:
        model = _coerce("model", overrides["model"], known["model"].example)
        if model != config["model"]["model"]:
            config["model"] = {"model": model}
    for key, value in overrides.items():
        field = known[key]
        present, current = _lookup(config, field.path)
        if field.switch:
            evaluations = config.setdefault("evaluations", {})
            if _coerce(key, value, True):
                evaluations[key] = copy.deepcopy(field.example)
            else:
                evaluations.pop(key, None)
            continue
        *parents, leaf = field.path
        node = config
        for depth, part in enumerate(parents):
            if part not in node:
                if depth >= 1:  # inside evaluations: an evaluation this preset does not run
                    raise ValueError(f"`--{key}` sets an option of the {part!r} evaluation, "
                                     f"which preset {name!r} does not run.")
                node[part] = {}
            node = node[part]
        node[leaf] = _coerce(key, value, current if present else field.example)
    return config


def _coerce(key, value, like):
    """``value`` in the type of the preset's value ``like`` (flags arrive as strings/lists)."""
    try:
        if isinstance(like, bool):
            if isinstance(value, str):
                if value.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                return value.lower() in ("true", "1")
            return bool(value)
        if isinstance(like, list):
            items = value.split(",") if isinstance(value, str) else list(value)
            items = [v for v in items if v != ""]
            kind = type(like[0]) if like else str
            return [kind(v) for v in items]
        return type(like)(value)
    except (TypeError, ValueError):
        raise ValueError(f"`--{key}`: cannot read {value!r} as {type(like).__name__} "
                         f"(the preset's value is {like!r}).") from None
