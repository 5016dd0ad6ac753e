"""When and how much to prune: a :class:`PruneCallback`'s arguments turned into a tfmot schedule.

:func:`resolve_schedule` is a pure function of the callback's arguments and of the length of the
training they refer to; it builds no model and runs no step, so every rule about ``begin``,
``end`` and ``frequency`` can be checked (and tested) without ``fit``.
"""
from __future__ import annotations

import dataclasses
import logging
import numbers

import numpy as np

from pie_tf._keras import tf
from pie_tf._tfmot import tfmot_sparsity
from pie_tf.errors import InvalidArgumentError

__all__ = ["ResolvedSchedule", "resolve_schedule", "default_frequency", "SCHEDULE_NAMES"]

_LOG = logging.getLogger(__name__)

# tfmot's (and Zhu & Gupta's) mask-update interval; shortened for short schedules (see
# ``default_frequency``) so a short fit still gets several gradual steps.
TFMOT_FREQUENCY = 100
_MIN_UPDATES = 10

SCHEDULE_NAMES = ("polynomial_decay", "constant")

# What a user can change when the length of training is unknown (a tf.data pipeline whose
# cardinality TensorFlow cannot infer, and no `steps_per_epoch`).
_UNKNOWN_LENGTH_FIX = (
    "pass `steps_per_epoch=` to fit (with a dataset that `.repeat()`s, so it cannot run out), "
    "or give the dataset a length TensorFlow knows (e.g. "
    "`ds.apply(tf.data.experimental.assert_cardinality(n_batches))`), or give `end` as an int "
    "step count, e.g. PruneCallback(0.9, end=1000)")


@dataclasses.dataclass(frozen=True)
class ResolvedSchedule:
    """The schedule one :class:`PruneCallback` runs, in training steps.

    Attributes
    ----------
    schedule : tfmot.sparsity.keras.PruningSchedule
        Called with the pruning step (1 for the first step of the schedule's training).
    begin_step, end_step : int or None
        First and last mask update (``end_step`` is the step at which the target is reached);
        ``None`` for a user's schedule instance without those attributes.
    total_steps : int or None
        The length of the training the fractions refer to; ``None`` when unknown.
    """

    schedule: tfmot_sparsity.PruningSchedule
    begin_step: int | None
    end_step: int | None
    total_steps: int | None

    def sparsity_at(self, step):
        """The scheduled sparsity for pruning step ``step`` (>= 1), as a float."""
        return float(self.schedule(tf.constant(max(int(step), 1), tf.int64))[1])


def default_frequency(span):
    """tfmot's 100 steps, but at least ``_MIN_UPDATES`` updates over a short schedule."""
    return int(max(1, min(TFMOT_FREQUENCY, span // _MIN_UPDATES)))


def is_step_count(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_fraction_or_step(value, argname):
    """``value`` is an int step count >= 0 or a float fraction in [0, 1]; else a clear error."""
    if is_step_count(value):
        if value < 0:
            raise InvalidArgumentError(f"`{argname}` as a step count must be >= 0; got {value}.")
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if not 0.0 <= float(value) <= 1.0:
            raise InvalidArgumentError(
                f"`{argname}` as a fraction of training must be in [0, 1]; got {value}. Pass "
                "an int for a step count.")
    else:
        raise TypeError(f"`{argname}` must be a float fraction of training in [0, 1] or an int "
                        f"step count; got {value!r}.")


def resolve_schedule(target_sparsity, *, schedule=None, begin=None, end=None, frequency=None,
                     m_by_n=None, total_steps=None, training="this fit"):
    """Turn a :class:`PruneCallback`'s arguments into the tfmot schedule it runs.

    Parameters
    ----------
    target_sparsity : float in [0, 1)
    schedule : None, "polynomial_decay", "constant" or tfmot PruningSchedule
        As in :class:`PruneCallback`.
    begin, end : float, int or None
        As in :class:`PruneCallback`; ``None`` is the default (0.0 and 1.0) and lets the error
        for an unknown training length say that the user did not set them.
    frequency : int or None
        Steps between mask updates; ``None`` for :func:`default_frequency` of the span.
    m_by_n : tuple of int or None
        With m-by-n masks (computed once, at step 1) a given schedule is not checked.
    total_steps : int or None
        Length of the training that fractions refer to (``epochs * steps_per_epoch`` of a fit,
        less ``initial_epoch * steps_per_epoch`` for a new schedule started mid-way); ``None``
        when the fit does not say.
    training : str
        How the messages describe that training, e.g. ``"this fit (4 epochs x 16 steps)"``.

    Returns
    -------
    ResolvedSchedule

    Raises
    ------
    InvalidArgumentError
        A fraction with an unknown training length (the message says what to change), an end
        past the training, an end not after the begin, a frequency longer than the span, or a
        given schedule that does not reach ``target_sparsity`` within the training.
    """
    total = None if total_steps is None else int(total_steps)
    if isinstance(schedule, tfmot_sparsity.PruningSchedule):
        if m_by_n is None and total is not None:
            _check_given_schedule(schedule, target_sparsity, total, training)
        begin_step, end_step = (getattr(schedule, "begin_step", None),
                                getattr(schedule, "end_step", None))
        return ResolvedSchedule(schedule, begin_step, end_step, total)

    def to_step(value, default, argname):
        value = default if value is None else value
        if is_step_count(value):
            return int(value)
        if float(value) == 0.0:
            return 0
        if total is None:
            if argname == "end" and end is None:
                raise InvalidArgumentError(
                    "PruneCallback's schedule spans the whole fit by default (end=1.0), but "
                    f"{training} does not say how many steps it runs (a dataset of unknown "
                    f"length and no `steps_per_epoch`). To fix it, {_UNKNOWN_LENGTH_FIX}.")
            raise InvalidArgumentError(
                f"`{argname}`={value} is a fraction of training, but {training} does not say "
                f"how many steps it runs. To fix it, {_UNKNOWN_LENGTH_FIX}.")
        return int(round(float(value) * total))

    begin_step, end_step = to_step(begin, 0.0, "begin"), to_step(end, 1.0, "end")
    shown_end = 1.0 if end is None else end
    if total is not None and end_step > total:
        raise InvalidArgumentError(
            f"`end`={shown_end} lies past the training this callback is attached to "
            f"({training}: {total} steps); pass an end <= {total} (or a fraction <= 1.0).")
    if end_step <= begin_step:
        raise InvalidArgumentError(
            f"`end` ({shown_end} -> step {end_step}) must come after `begin` "
            f"({0.0 if begin is None else begin} -> step {begin_step})"
            + (f" in {training} ({total} steps)." if total is not None else "."))
    freq = frequency or default_frequency(end_step - begin_step)
    aligned_end = begin_step + (end_step - begin_step) // freq * freq
    if aligned_end <= begin_step:
        raise InvalidArgumentError(
            f"`frequency`={freq} is longer than the pruning span ({begin_step}..{end_step}); no "
            "mask update would happen.")
    if aligned_end != end_step and (is_step_count(end) or frequency):
        _LOG.warning("PruneCallback: end step %d moved to %d, the last mask update with "
                     "frequency %d, so the target sparsity is reached.", end_step,
                     aligned_end, freq)
    if schedule == "constant":
        built = tfmot_sparsity.ConstantSparsity(
            target_sparsity, begin_step=begin_step, end_step=aligned_end, frequency=freq)
    else:
        built = tfmot_sparsity.PolynomialDecay(
            initial_sparsity=0.0, final_sparsity=target_sparsity, begin_step=begin_step,
            end_step=aligned_end, power=3, frequency=freq)
    return ResolvedSchedule(built, begin_step, aligned_end, total)


def _check_given_schedule(schedule, target_sparsity, total, training):
    end = getattr(schedule, "end_step", None)
    if isinstance(end, numbers.Integral) and end > total:
        raise InvalidArgumentError(
            f"`schedule` ends at step {end}, past the training this callback is attached to "
            f"({training}: {total} steps); build it with end_step <= {total}.")
    # Evaluate the schedule over every step of training at once (schedules are elementwise
    # tf functions of the step) and check that its last update reaches the target.
    steps = tf.range(1, total + 1, dtype=tf.int64)
    should, sparsity = schedule(steps)
    should = np.broadcast_to(np.asarray(should), (total,))
    sparsity = np.broadcast_to(np.asarray(sparsity, dtype=np.float64), (total,))
    updates = np.flatnonzero(should)
    reached = None if updates.size == 0 else float(sparsity[updates[-1]])
    if reached is None or abs(reached - target_sparsity) > 1e-6:
        raise InvalidArgumentError(
            f"`schedule` ({type(schedule).__name__}) does not reach target_sparsity="
            f"{target_sparsity:g} at its last mask update within the {total} training steps "
            f"(it reaches {reached}); make its final sparsity the target and its last update "
            f"step <= the training length.")
