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
``prune_ft``, the mitigated variants, ``qat_int8`` and their exports; ``prune@S`` for itself and
its exports.
"""
from __future__ import annotations

import numbers
import re
import warnings

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


_KINDS = ("dense", "prune", "qat_int8") + _FINETUNED


class Variant(str):
    """A variant: its name (the string itself) with the parts the name stands for.

    A ``Variant`` *is* its canonical name (``Variant("prune_ft", 0.8) == "prune_ft@0.8"``), so it
    goes wherever a variant name goes (store keys, JSON, table columns), while code that has one
    reads ``kind``, ``sparsity`` and ``tflite`` from it instead of parsing the name again.
    :meth:`parse` turns a name from outside (a store, a flag, a user) into one.

    Parameters
    ----------
    kind : {"dense", "prune", "prune_ft", "prune_kd", "prune_rw", "prune_gw", "qat_int8"}
    sparsity : float in (0, 1), for the pruned kinds; None otherwise
        The target sparsity the member is pruned to (``PruneCallback``'s ``target_sparsity``),
        kept as the name writes it (``f"{sparsity:g}"``).
    tflite : str or None
        Export mode (:data:`TFLITE_MODES`), or None for the Keras model itself.
    """

    def __new__(cls, kind, sparsity=None, tflite=None):
        pruned = kind == "prune" or kind in _FINETUNED
        if kind not in _KINDS:
            raise InvalidArgumentError(f"variant kind {kind!r} is not one of {_KINDS}.")
        if pruned != (sparsity is not None):
            raise InvalidArgumentError(
                f"variant kind {kind!r} " + ("needs a sparsity in (0, 1)." if pruned
                                             else f"takes no sparsity; got {sparsity!r}."))
        if sparsity is not None:
            if isinstance(sparsity, bool) or not isinstance(sparsity, numbers.Real) \
                    or not 0 < sparsity < 1:
                raise InvalidArgumentError(f"variant {kind}@{sparsity}: the sparsity must be a "
                                           "number in (0, 1).")
            sparsity = float(f"{float(sparsity):g}")  # what the name says, exactly
        if tflite is not None and tflite not in TFLITE_MODES:
            raise InvalidArgumentError(f"variant {kind!r}: TFLite mode must be one of "
                                       f"{TFLITE_MODES}; got {tflite!r}.")
        if kind == "qat_int8" and tflite not in (None, "int8"):
            raise InvalidArgumentError(f"variant {kind!r}: a quantization-aware model exports "
                                       "only as '+tflite_int8'.")
        base = kind if sparsity is None else f"{kind}@{sparsity:g}"
        self = super().__new__(cls, base if tflite is None else f"{base}+tflite_{tflite}")
        self.kind, self.sparsity, self.tflite = kind, sparsity, tflite
        return self

    def __reduce__(self):
        return (Variant, (self.kind, self.sparsity, self.tflite))

    @classmethod
    def parse(cls, name):
        """The :class:`Variant` named ``name`` (e.g. ``"prune@0.9+tflite_int8"``); a Variant is
        returned as it is."""
        if isinstance(name, Variant):
            return name
        match = _PATTERN.match(name) if isinstance(name, str) else None
        if match is None:
            raise InvalidArgumentError(
                f"variant {name!r} is not one of 'dense', 'prune@S', 'prune_ft@S', "
                "'prune_kd@S', 'prune_rw@S', 'prune_gw@S', 'qat_int8', optionally followed by "
                f"'+tflite_MODE' with MODE in {TFLITE_MODES} (S a sparsity in (0, 1)).")
        base, s1, s2, tflite = match.groups()
        sparsity = None
        if s1 or s2:
            try:
                sparsity = float(s1 or s2)
            except ValueError:
                sparsity = -1.0
            if not 0 < sparsity < 1:
                raise InvalidArgumentError(f"variant {name!r}: the sparsity must be a number in "
                                           "(0, 1).")
        if tflite is not None and tflite not in TFLITE_MODES:
            raise InvalidArgumentError(f"variant {name!r}: TFLite mode must be one of "
                                       f"{TFLITE_MODES}.")
        return cls(base.split("@")[0], sparsity, tflite)

    @property
    def name(self):
        """The canonical name, as a plain str."""
        return str.__str__(self)

    def exported(self, mode):
        """This Keras variant's TFLite export in ``mode`` (``prune@0.5`` ->
        ``prune@0.5+tflite_int8``)."""
        return Variant(self.kind, self.sparsity, mode)

    @property
    def base(self):
        """The Keras variant this one exports (itself when it is not an export)."""
        return Variant(self.kind, self.sparsity)

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
        return Variant("prune_ft", self.sparsity, self.tflite)


def standard_variants(sparsities=(), *, pruning="during", qat=False, tflite=(),
                      tflite_of=("dense",), mitigations=()):
    """The variants of a typical study.

    Parameters
    ----------
    sparsities : sequence of float in (0, 1)
        Target sparsities: each becomes the ``sparsity`` of its pruned variants.
    pruning : {"during", "fine_tune", "both"}
        Prune during training from scratch (``prune@S``), by fine-tuning the dense member
        (``prune_ft@S``), or both. (``"finetune"``, the older spelling, is still accepted.)
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
    list of Variant
        ``dense`` first, then pruned, QAT and export variants, in that order (each a str, its
        name).
    """
    if pruning == "finetune":
        warnings.warn("standard_variants(pruning='finetune') is spelled pruning='fine_tune' now.",
                      DeprecationWarning, stacklevel=2)
        pruning = "fine_tune"
    if pruning not in ("during", "fine_tune", "both"):
        raise InvalidArgumentError(f"`pruning` must be 'during', 'fine_tune' or 'both'; got "
                                   f"{pruning!r}.")
    mitigations = [mitigations] if isinstance(mitigations, str) else list(mitigations)
    unknown = [m for m in mitigations if m not in MITIGATIONS]
    if unknown or len(set(mitigations)) != len(mitigations):
        raise InvalidArgumentError(f"`mitigations` must be distinct keys of {sorted(MITIGATIONS)};"
                                   f" got {mitigations!r}.")
    sparsities = list(sparsities)
    pruned = [Variant("prune", sparsity) for sparsity in sparsities]  # validates each
    if len(set(pruned)) != len(pruned):
        raise InvalidArgumentError(f"`sparsities` holds a sparsity twice ({sparsities!r}): each "
                                   "would name the same variant.")
    variants = [Variant("dense")]
    for during in pruned:
        if pruning in ("during", "both"):
            variants.append(during)
        if pruning in ("fine_tune", "both") or mitigations:
            variants.append(Variant("prune_ft", during.sparsity))
        variants.extend(Variant(f"prune_{m}", during.sparsity) for m in mitigations)
    if qat:
        variants.append(Variant("qat_int8"))
    bases = list(variants) if tflite_of == "all" or tflite_of == ("all",) else list(tflite_of)
    unknown = [b for b in bases if b not in variants]
    if unknown:
        raise InvalidArgumentError(f"`tflite_of` names {unknown}, which are not among the "
                                   f"variants {variants}.")
    bases = [variants[variants.index(b)] for b in bases]
    for mode in tflite:
        if mode not in TFLITE_MODES:
            raise InvalidArgumentError(f"`tflite` modes must be in {TFLITE_MODES}; got {mode!r}.")
        variants.extend(base.exported(mode) for base in bases
                        if base.kind != "qat_int8" or mode == "int8")
    return variants
