"""Variants: how a member's model is obtained from training, written as short names.

Grammar: ``BASE`` or ``BASE+tflite_MODE``.

``dense``
    Trained from scratch, nothing removed.
``prune@S``
    Trained from scratch while ``pie_tf.PruneCallback(S)`` prunes it (Hooker et al.'s protocol).
``prune_ft@S``
    The same seed's dense member, fine-tuned while pruned to sparsity ``S``.
``prune_kd@S``, ``prune_rw@S``, ``prune_gw@S``
    Mitigated pruning (:mod:`pie_tf.compress.mitigation`): the same seed's dense member,
    fine-tuned while pruned to ``S`` as ``prune_ft@S`` is, but trained towards something else:
    ``kd`` distils the dense member's probabilities (Hinton et al. 2015), ``rw`` weights each
    training example by Meyer & Wong's performance weight from the dense member, ``gw`` by
    Kamiran & Calders' group weight over the training examples' attributes. Compare each with
    ``prune_ft@S`` (:data:`MITIGATIONS` names them).
``qat_int8``
    The same seed's dense member through ``pie_tf.quantize`` and quantization-aware fine-tuning
    (evaluated as the fake-quantized Keras model; add ``+tflite_int8`` for the integer model).
``BASE+tflite_MODE``
    A post-training TFLite export of ``BASE`` (``MODE`` in float32, float16, dynamic, int8; a
    QAT base exports only as int8), evaluated through ``TFLiteModel.predict``.

A variant's *root* is the model trained from scratch that it comes from: ``dense`` for dense,
``prune_ft``, the mitigated variants, ``qat_int8`` and their exports; ``prune@S`` for itself and its exports.
"""
from __future__ import annotations

import dataclasses
import re

from pie_tf.errors import InvalidArgumentError

__all__ = ["Variant", "standard_variants", "TFLITE_MODES", "MITIGATIONS"]

TFLITE_MODES = ("float32", "float16", "dynamic", "int8")
#: Mitigation name -> what its ``prune_<name>@S`` variant does during the pruning fine-tune.
MITIGATIONS = {
    "kd": "distillation from the same seed's dense member (Hinton et al. 2015)",
    "rw": "Meyer & Wong's performance weights from the same seed's dense member",
    "gw": "Kamiran & Calders' group weights over the training examples' attributes",
}
_FINETUNED = ("prune_ft",) + tuple(f"prune_{m}" for m in MITIGATIONS)
_PATTERN = re.compile(r"^(dense|qat_int8|prune@([0-9.]+)|(?:prune_ft|prune_kd|prune_rw|prune_gw)"
                      r"@([0-9.]+))(?:\+tflite_([a-z0-9]+))?$")


@dataclasses.dataclass(frozen=True)
class Variant:
    """A parsed variant name (see the module docstring for the grammar).

    Attributes
    ----------
    kind : {"dense", "prune", "prune_ft", "prune_kd", "prune_rw", "prune_gw", "qat_int8"}
    sparsity : float or None
    tflite : str or None
        Export mode, or None for the Keras model itself.
    """
    kind: str
    sparsity: float | None = None
    tflite: str | None = None

    @classmethod
    def parse(cls, name):
        """The :class:`Variant` named ``name`` (e.g. ``"prune@0.9+tflite_int8"``)."""
        if isinstance(name, Variant):
            return name
        match = _PATTERN.match(name) if isinstance(name, str) else None
        if match is None:
            raise ValueError(f"variant {name!r} is not one of 'dense', 'prune@S', 'prune_ft@S', "
                             "'prune_kd@S', 'prune_rw@S', 'prune_gw@S', "
                             "'qat_int8', optionally followed by '+tflite_MODE' with MODE in "
                             f"{TFLITE_MODES} (S a sparsity in (0, 1)).")
        base, s1, s2, tflite = match.groups()
        kind = base.split("@")[0]
        sparsity = None
        if s1 or s2:
            try:
                sparsity = float(s1 or s2)
            except ValueError:
                sparsity = -1.0
            if not 0 < sparsity < 1:
                raise ValueError(f"variant {name!r}: the sparsity must be a number in (0, 1).")
        if tflite is not None and tflite not in TFLITE_MODES:
            raise ValueError(f"variant {name!r}: TFLite mode must be one of {TFLITE_MODES}.")
        if kind == "qat_int8" and tflite not in (None, "int8"):
            raise ValueError(f"variant {name!r}: a quantization-aware model exports only as "
                             "'+tflite_int8'.")
        return cls(kind, sparsity, tflite)

    @property
    def name(self):
        base = self.kind if self.sparsity is None else f"{self.kind}@{self.sparsity:g}"
        return base if self.tflite is None else f"{base}+tflite_{self.tflite}"

    @property
    def base(self):
        """The Keras variant this one exports (itself when it is not an export)."""
        return dataclasses.replace(self, tflite=None)

    @property
    def root(self):
        """The variant trained from scratch that this one derives from."""
        return Variant("prune", self.sparsity) if self.kind == "prune" else Variant("dense")

    @property
    def parent(self):
        """The variant whose trained model this one starts from, or None (trained from scratch)."""
        if self.tflite is not None:
            return self.base
        if self.kind in _FINETUNED + ("qat_int8",):
            return Variant("dense")
        return None

    @property
    def mitigation(self):
        """The :data:`MITIGATIONS` key of a mitigated variant (``"kd"``, ...), else None."""
        name = self.kind[len("prune_"):] if self.kind.startswith("prune_") else None
        return name if name in MITIGATIONS else None

    @property
    def unmitigated(self):
        """The plain pruned variant a mitigated one is compared with (``prune_ft@S``), or None."""
        if self.mitigation is None:
            return None
        return dataclasses.replace(self, kind="prune_ft")

    def __str__(self):
        return self.name


def standard_variants(sparsities=(), *, pruning="during", qat=False, tflite=(),
                      tflite_of=("dense",), mitigations=()):
    """Variant names for a typical study.

    Parameters
    ----------
    sparsities : sequence of float in (0, 1)
    pruning : {"during", "finetune", "both"}
        Prune during training from scratch (``prune@S``), by fine-tuning the dense member
        (``prune_ft@S``), or both.
    qat : bool
        Add ``qat_int8``.
    tflite : sequence of str
        TFLite modes to export (from :data:`TFLITE_MODES`).
    tflite_of : sequence of str
        Which variants to export: names from the list built so far, or ``"all"``. A QAT base
        is exported as int8 only.
    mitigations : sequence of str
        Keys of :data:`MITIGATIONS`: ``prune_<key>@S`` for every sparsity, beside the plain
        pruned variants; ``prune_ft@S``, which they are compared with, is added where
        ``pruning`` does not already give it.

    Returns
    -------
    list of str
        ``dense`` first, then pruned, QAT and export variants, in that order.
    """
    if pruning not in ("during", "finetune", "both"):
        raise ValueError(f"`pruning` must be 'during', 'finetune' or 'both'; got {pruning!r}.")
    mitigations = [mitigations] if isinstance(mitigations, str) else list(mitigations)
    unknown = [m for m in mitigations if m not in MITIGATIONS]
    if unknown or len(set(mitigations)) != len(mitigations):
        raise ValueError(f"`mitigations` must be distinct keys of {sorted(MITIGATIONS)}; got "
                         f"{mitigations!r}.")
    sparsities = list(sparsities)
    canonical = [Variant("prune", float(s)).name for s in sparsities]
    if len(set(canonical)) != len(canonical):
        raise InvalidArgumentError(f"`sparsities` holds a sparsity twice ({sparsities!r}): each "
                                   "would name the same variant.")
    names = ["dense"]
    for s in sparsities:
        if pruning in ("during", "both"):
            names.append(Variant("prune", float(s)).name)
        if pruning in ("finetune", "both") or mitigations:
            names.append(Variant("prune_ft", float(s)).name)
        names.extend(Variant(f"prune_{m}", float(s)).name for m in mitigations)
    if qat:
        names.append("qat_int8")
    for name in names:  # validates the sparsities
        Variant.parse(name)
    bases = list(names) if tflite_of == "all" or tflite_of == ("all",) else list(tflite_of)
    unknown = [b for b in bases if b not in names]
    if unknown:
        raise ValueError(f"`tflite_of` names {unknown}, which are not among the variants {names}.")
    for mode in tflite:
        if mode not in TFLITE_MODES:
            raise ValueError(f"`tflite` modes must be in {TFLITE_MODES}; got {mode!r}.")
        for base in bases:
            if Variant.parse(base).kind != "qat_int8" or mode == "int8":
                names.append(f"{base}+tflite_{mode}")
    return names
