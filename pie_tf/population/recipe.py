"""The training recipe: everything about how a member is trained, as data that round-trips to JSON.

The store keeps each member's recipe next to its predictions, so a population's results say how
they were produced. The recipe is the same for every member of a population; seeds differ.
"""
from __future__ import annotations

import dataclasses
import json
import math
import numbers

from pie_tf.errors import InvalidArgumentError

__all__ = ["Recipe"]

_OPTIMIZERS = ("sgd", "adam", "adamw")
_SCHEDULES = ("constant", "cosine", "step")
_PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How members are trained (dense from scratch, pruned, fine-tuned, quantization-aware).

    Parameters
    ----------
    epochs : int
        Epochs of training from scratch (dense and pruned-during-training members).
    batch_size : int
        Global batch size (split over replicas under a ``tf.distribute`` strategy).
    optimizer : {"sgd", "adam", "adamw"}
        ``"sgd"`` uses ``momentum`` and ``nesterov``.
    learning_rate : float
        Peak learning rate of training from scratch.
    lr_schedule : {"constant", "cosine", "step"}
        ``"cosine"`` decays to 0 over the run; ``"step"`` divides by 10 at 50% and 75% of it.
    momentum : float
    nesterov : bool
    weight_decay : float
        Decoupled weight decay of the optimizer (0 disables it).
    steps_per_epoch : int, optional
        Defaults to ceil(examples / batch_size); needed when the training set's length is
        unknown (``cardinality`` -2).
    shuffle_buffer : int
        Shuffle buffer of the training set (seeded with the member's seed).
    from_logits : bool
        True when the model outputs logits; predictions are then passed through a softmax before
        they are stored. Default False (pie_tf.models end in a softmax).
    prune_begin, prune_end : float
        Fractions of the (pruning) run between which the sparsity ramps up (Zhu & Gupta schedule
        via ``pie_tf.PruneCallback``).
    fine_tune_epochs : int
        Epochs of fine-tuning from the same seed's dense member (pruning by fine-tuning, QAT).
    fine_tune_learning_rate : float
        Peak learning rate of fine-tuning (same schedule shape as ``lr_schedule``).
    qat_epochs : int, optional
        Epochs of quantization-aware fine-tuning; None (the default) uses ``fine_tune_epochs``.
        QAT runs op by op (no XLA) and costs several times a pruning epoch, while its members
        need less recovery than a 90%-sparse one does.
    calibration_examples : int
        Leading training examples that calibrate int8 TFLite exports (Hooker et al.: 100).
    eval_batch_size : int
        Batch size for predictions.
    verbose : int
        Passed to ``model.fit`` (0 silent, 1 progress bar, 2 a line per epoch).
    distill_temperature, distill_weight : float
        ``prune_kd`` members: temperature (> 0) and share of the soft term (in [0, 1]) of
        ``pie_tf.mitigation.DistillationLoss``. Defaults 4 and 0.5 (ours).
    performance_min_weight, performance_gamma : float
        ``prune_rw`` members: ``min_weight`` (in [0, 1]) and ``gamma`` (> 0) of
        ``pie_tf.mitigation.performance_weights``. Defaults 0.3 and 1, Meyer & Wong's CelebA
        values.
    group_weight_power : float
        ``prune_gw`` members: ``power`` (in (0, 1]) of ``pie_tf.mitigation.group_weights``;
        default 1, Kamiran & Calders' reweighing untempered.
    jit_compile : bool
        Compile the training step with XLA (``model.compile(jit_compile=True)``). Pruning masks
        are updated outside the step, so PruneCallback is unaffected; QAT members train without
        XLA (tfmot's fake-quantizers), which is recorded in their timing, not here.
    mixed_precision : {"float32", "mixed_float16", "mixed_bfloat16"}
        Keras dtype policy the dense and pruned members are built and trained under (variables
        stay float32; ``"mixed_float16"`` adds loss scaling). QAT members and every TFLite export
        use a float32 copy of the same weights (``pie_tf._precision.float32_copy``): tfmot's
        quantizers and the TFLite converter need a float32 graph. The studies' ``auto`` is
        resolved to one of these before the recipe is made, so a store records what ran.
    """
    epochs: int = 1
    batch_size: int = 128
    optimizer: str = "sgd"
    learning_rate: float = 0.1
    lr_schedule: str = "cosine"
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    steps_per_epoch: int | None = None
    shuffle_buffer: int = 10_000
    from_logits: bool = False
    prune_begin: float = 0.0
    prune_end: float = 0.8
    fine_tune_epochs: int = 1
    fine_tune_learning_rate: float = 0.01
    qat_epochs: int | None = None
    calibration_examples: int = 100
    eval_batch_size: int = 256
    verbose: int = 0
    distill_temperature: float = 4.0
    distill_weight: float = 0.5
    performance_min_weight: float = 0.3
    performance_gamma: float = 1.0
    group_weight_power: float = 1.0
    jit_compile: bool = False
    mixed_precision: str = "float32"

    def __post_init__(self):
        for name in ("epochs", "batch_size", "shuffle_buffer", "fine_tune_epochs",
                     "calibration_examples", "eval_batch_size"):
            _positive_int(getattr(self, name), name)
        for name in ("steps_per_epoch", "qat_epochs"):
            if getattr(self, name) is not None:
                _positive_int(getattr(self, name), name)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"`optimizer` must be one of {_OPTIMIZERS}; got {self.optimizer!r}.")
        if self.lr_schedule not in _SCHEDULES:
            raise ValueError(f"`lr_schedule` must be one of {_SCHEDULES}; got "
                             f"{self.lr_schedule!r}.")
        for name in ("learning_rate", "fine_tune_learning_rate"):
            value = getattr(self, name)
            if not _real(value) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"`{name}` must be a positive float; got {value!r}.")
        for name in ("distill_temperature", "performance_gamma"):
            value = getattr(self, name)
            if not _real(value) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"`{name}` must be a positive float; got {value!r}.")
        for name in ("distill_weight", "performance_min_weight"):
            value = getattr(self, name)
            if not _real(value) or not 0 <= value <= 1:
                raise ValueError(f"`{name}` must be in [0, 1]; got {value!r}.")
        if not _real(self.group_weight_power) or not 0 < self.group_weight_power <= 1:
            raise ValueError(f"`group_weight_power` must be in (0, 1]; got "
                             f"{self.group_weight_power!r}.")
        for name in ("momentum", "weight_decay"):
            value = getattr(self, name)
            if not _real(value) or not 0 <= value < 1:
                raise ValueError(f"`{name}` must be in [0, 1); got {value!r}.")
        if not (_real(self.prune_begin) and _real(self.prune_end)
                and 0 <= self.prune_begin < self.prune_end <= 1):
            raise ValueError("`prune_begin` and `prune_end` must satisfy 0 <= begin < end <= 1; "
                             f"got {self.prune_begin!r}, {self.prune_end!r}.")
        if self.verbose not in (0, 1, 2):
            raise ValueError(f"`verbose` must be 0, 1 or 2; got {self.verbose!r}.")
        if self.mixed_precision not in _PRECISIONS:
            raise ValueError(f"`mixed_precision` must be one of {_PRECISIONS}; got "
                             f"{self.mixed_precision!r} (resolve 'auto' with "
                             "pie_tf._precision.resolve_policy first).")
        for name in ("nesterov", "from_logits", "jit_compile"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"`{name}` must be a bool; got {getattr(self, name)!r}.")

    def to_dict(self):
        """A plain dict of the fields (JSON-serialisable)."""
        return dataclasses.asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @staticmethod
    def upgrade_fields(values):
        """``values`` (a :meth:`to_dict` output) with fields stored under their older names
        (``finetune_epochs``, ``finetune_learning_rate``: stores written before the fine-tune
        fields were spelled ``fine_tune_*``) renamed."""
        return {_LEGACY_FIELDS.get(key, key): value for key, value in values.items()}

    @classmethod
    def from_dict(cls, values):
        """The recipe from :meth:`to_dict` output; unknown keys are an error naming them."""
        if not isinstance(values, dict):
            raise TypeError(f"`values` must be a dict; got {type(values).__name__}.")
        values = cls.upgrade_fields(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown Recipe fields {unknown}; valid: {sorted(known)}.")
        return cls(**values)

    @classmethod
    def from_json(cls, text):
        if not isinstance(text, (str, bytes, bytearray)):
            raise TypeError(f"`text` must be a JSON string (from Recipe.to_json); got "
                            f"{type(text).__name__}.")
        try:
            values = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise InvalidArgumentError(
                f"`text` is not valid JSON ({err}); expected what Recipe.to_json writes, e.g. "
                "{\"epochs\": 10, ...}.") from None
        if not isinstance(values, dict):
            raise InvalidArgumentError(f"`text` must hold a JSON object of Recipe fields; got a "
                                       f"JSON {type(values).__name__}.")
        return cls.from_dict(values)


_LEGACY_FIELDS = {"finetune_epochs": "fine_tune_epochs",
                  "finetune_learning_rate": "fine_tune_learning_rate"}


def _real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"`{name}` must be a positive int; got {value!r}.")
