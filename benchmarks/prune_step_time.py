"""Step time of plain fit, tfmot's pruning wrapper and PruneCallback, on a small or a big ResNet.

    python benchmarks/prune_step_time.py [--model small_resnet|resnet50] [--keras 2|3]
        [--rounds 20] [--steps 30] [--batch 32] [--image_size 32] [--frequency 10]
        [--notfmot_wrapper] [--notfmot_sort]

``--keras 3`` builds every model with Keras 3 (``import keras``, TensorFlow backend) instead of
tf_keras: plain Keras 3 ``fit`` against Keras 3 ``fit`` with ``PruneCallback`` (tfmot's wrapper
takes tf_keras models only, so it is left out).

``--model small_resnet`` (default): pie_tf's CIFAR-style ResNet-8 (78,714 parameters) on 32 px
images. ``--model resnet50``: ``keras.applications.ResNet50(weights=None)`` (23.5 M prunable
kernel weights in 54 tensors) on 64 px images, batch 8 by default, so a run fits a few minutes
of a small CPU box; the masks' cost does not depend on the image size, the training step's does
(about 12x more at 224 px), so the overhead ratios printed are an upper bound for 224 px.

Up to four models of the same architecture, from the same initial weights, train on the same
(random, fixed) data with the same optimizer: plain, wrapped by tfmot (``prune_low_magnitude`` +
``UpdatePruningStep``; ``--notfmot_wrapper`` leaves it out), plain with ``PruneCallback``, and
plain with a ``PruneCallback`` whose masks use tfmot's whole-tensor sort for every tensor (what
the callback did before ``pie_tf.compress.masks``; ``--notfmot_sort`` leaves it out). All pruned
variants use the same tfmot schedule, ``ConstantSparsity(sparsity, begin_step=0,
end_step=-1, frequency)``: masks recomputed every ``frequency`` steps for as long as training
goes.

After one untimed warm-up epoch per model (tracing), each round runs one epoch of each model in
a rotating order. Every step is timed (``on_train_batch_begin`` to ``on_train_batch_end``, after
PruneCallback's own ``on_train_batch_end``), and PruneCallback's steps are split into mask-update
steps and the others. Alternating short epochs within one process means a change in machine load
hits all variants alike: per round, PruneCallback's mean step of each kind is divided by the
plain model's mean step, and the amortised ratio at update frequency F is
``((F - 1) * non_update + update) / F / plain`` (F = 1: an update every step; F = 100: tfmot's
default). Medians over rounds are printed. Finally PruneCallback's own per-step work (one call
of its compiled step, outside fit) is timed alone, on a step without and with a mask update.
"""
from __future__ import annotations

import time

import numpy as np
from absl import app, flags

import pie_tf
import tensorflow as tf
from pie_tf import models
from pie_tf._keras import Callback, keras3
from pie_tf._keras import keras as tf_keras
from pie_tf._tfmot import tfmot_sparsity
from pie_tf.compress import masks

FLAGS = flags.FLAGS
flags.DEFINE_enum("model", "small_resnet", ["small_resnet", "resnet50"], "Model to train.")
flags.DEFINE_enum("keras", "2", ["2", "3"], "Keras to build the models with: 2 (tf_keras) or 3.")
flags.DEFINE_integer("rounds", None, "Rounds of one timed epoch per variant (default 20 for "
                     "small_resnet, 4 for resnet50).")
flags.DEFINE_integer("steps", None, "Steps per epoch (default 30; resnet50: 10).")
flags.DEFINE_integer("batch", None, "Batch size (default 32; resnet50: 8).")
flags.DEFINE_integer("image_size", None, "Image height and width (default 32; resnet50: 64).")
flags.DEFINE_float("sparsity", 0.8, "Target sparsity of both pruned variants.")
flags.DEFINE_integer("frequency", None, "Mask update interval in steps in the timed run (both "
                     "variants; default 10, resnet50: 5).")
flags.DEFINE_bool("tfmot_wrapper", True, "Also time tfmot's prune_low_magnitude wrapper.")
flags.DEFINE_bool("tfmot_sort", True, "Also time PruneCallback with tfmot's whole-tensor sort "
                  "for every mask (pie_tf.compress.masks off: the callback before it).")

DEFAULTS = {"small_resnet": dict(rounds=20, steps=30, batch=32, image_size=32, frequency=10),
            "resnet50": dict(rounds=4, steps=10, batch=8, image_size=64, frequency=5)}
CLASSES = 10
TFMOT_DEFAULT_FREQUENCY = 100


def setting(name):
    value = getattr(FLAGS, name)
    return DEFAULTS[FLAGS.model][name] if value is None else value


def chosen_keras():
    return keras3() if FLAGS.keras == "3" else tf_keras


def build_model(seed):
    keras = chosen_keras()
    keras.utils.set_random_seed(seed)
    size = setting("image_size")
    if FLAGS.model == "resnet50":
        return keras.applications.ResNet50(weights=None, input_shape=(size, size, 3),
                                           classes=CLASSES, classifier_activation=None)
    # pie_tf's CIFAR-style ResNet-8: 3 stages x 1 basic block, 16/32/64 channels, logits.
    return models.small_resnet((size, size, 3), CLASSES, depth=8, width=16,
                               classifier_activation=None, keras=keras)


class StepTimer(Callback):
    """Seconds of every training step, and the pruning step count at each epoch's start."""

    def __init__(self, state=None):
        super().__init__()
        self.seconds, self.first_step, self._state = [], [], state

    def on_epoch_begin(self, epoch, logs=None):
        self.first_step.append(None if self._state is None else int(self._state.step.numpy()))
        self.seconds.append([])

    def on_train_batch_begin(self, batch, logs=None):
        self._start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds[-1].append(time.perf_counter() - self._start)


PRUNE_CALLBACK, TFMOT_SORT = "PruneCallback", "PruneCallback, tfmot sort"


def build_variant(name, schedule):
    model, callbacks = build_model(0), []
    if name == "tfmot wrapper":
        model = tfmot_sparsity.prune_low_magnitude(model, pruning_schedule=schedule)
        callbacks.append(tfmot_sparsity.UpdatePruningStep())
    elif name in (PRUNE_CALLBACK, TFMOT_SORT):
        callbacks.append(pie_tf.PruneCallback(FLAGS.sparsity, schedule=schedule))
    keras = chosen_keras()
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, callbacks


def warm_up(name, model, callbacks, dataset):
    """One untimed epoch (tracing). The tfmot-sort variant traces its masks with tfmot's whole-
    tensor sort for every tensor (what PruneCallback did before pie_tf.compress.masks)."""
    saved = masks.MIN_SIZE
    if name == TFMOT_SORT:
        masks.MIN_SIZE = np.inf
    try:
        timed_epoch(model, callbacks, dataset)
    finally:
        masks.MIN_SIZE = saved


def timed_epoch(model, callbacks, dataset):
    """Per-step seconds of one epoch of ``fit`` and the pruning step before it (or None)."""
    pruning = callbacks and isinstance(callbacks[0], pie_tf.PruneCallback)
    timer = StepTimer(callbacks[0]._state if pruning else None)
    model.fit(dataset, epochs=1, steps_per_epoch=setting("steps"), callbacks=callbacks + [timer],
              verbose=0, shuffle=False)
    return np.asarray(timer.seconds[0]), timer.first_step[0]


def is_update_step(first_step, frequency):
    """Whether each step of an epoch recomputed masks: the step ending at pruning step s
    prepares the masks of step s + 1, recomputed when (s + 1) % frequency == 0."""
    ends = first_step + 1 + np.arange(setting("steps"))
    return (ends + 1) % frequency == 0


def kernel_sparsity(name, model):
    if name == "tfmot wrapper":
        model = tfmot_sparsity.strip_pruning(model)
    kernels = [w.numpy() for w in model.weights if "kernel" in w.name]
    return sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels)


def callback_overhead_ms(callback, calls):
    """Wall time of PruneCallback's per-step work alone: one call of its compiled step.

    Machine load makes whole-step ratios noisy; this isolates what the callback adds per step,
    on a step without a mask update and on one with (all masks recomputed): the median of
    ``calls`` calls of each kind, after an untimed one.
    """
    state, sync = callback._state, callback._sync_fn
    frequency = callback.resolved_schedule.schedule.frequency
    advance = tf.constant(True)
    # A call advances the step to s + 1 and prepares the masks of s + 2: an update when
    # (s + 2) % frequency == 0, not for s = j * frequency (frequency >= 3).
    step = int(state.step.numpy()) // frequency * frequency + frequency
    medians = []
    for at in (step, step + frequency - 2):          # no mask update, then a mask update
        seconds = []
        for _ in range(calls + 1):
            state.step.assign(at)
            start = time.perf_counter()
            sync(advance).numpy()
            seconds.append(time.perf_counter() - start)
        medians.append(np.median(seconds[1:]) * 1e3)
    return tuple(medians)


def amortised(non_update, update, frequency):
    return ((frequency - 1) * non_update + update) / frequency


def main(argv):
    del argv
    steps, batch, size, frequency = (setting(k) for k in ("steps", "batch", "image_size",
                                                          "frequency"))
    rng = np.random.default_rng(0)
    n = steps * batch
    images = rng.normal(size=(n, size, size, 3)).astype("float32")
    labels = rng.integers(0, CLASSES, n)
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels)).batch(batch)
               .cache().repeat().prefetch(tf.data.AUTOTUNE))
    schedule = tfmot_sparsity.ConstantSparsity(FLAGS.sparsity, begin_step=0, end_step=-1,
                                               frequency=frequency)
    wrapper = FLAGS.tfmot_wrapper and FLAGS.keras == "2"      # tfmot wraps tf_keras models only
    variants = (["plain fit"] + ["tfmot wrapper"] * wrapper + [PRUNE_CALLBACK]
                + [TFMOT_SORT] * FLAGS.tfmot_sort)
    pruned = [v for v in variants if v in (PRUNE_CALLBACK, TFMOT_SORT)]
    built = {v: build_variant(v, schedule) for v in variants}
    for name, (model, callbacks) in built.items():
        warm_up(name, model, callbacks, dataset)
    times = {v: [] for v in variants}
    kinds = {(v, kind): [] for v in pruned for kind in ("non-update", "update")}
    for r in range(setting("rounds")):
        # Rotate the order, so no variant always runs first (or last) in a round.
        k = r % len(variants)
        for variant in variants[k:] + variants[:k]:
            seconds, first_step = timed_epoch(*built[variant], dataset)
            times[variant].append(seconds.mean())
            if variant in pruned:
                update = is_update_step(first_step, frequency)
                kinds[variant, "update"].append(seconds[update].mean())
                kinds[variant, "non-update"].append(seconds[~update].mean())
    plain = np.asarray(times["plain fit"])
    sparsity = {v: kernel_sparsity(v, built[v][0]) for v in variants}
    callback = built[PRUNE_CALLBACK][1][0]
    n_pruned = sum(int(tf.size(w)) for w in callback._weights)
    devices = [d.device_type for d in tf.config.list_logical_devices()]
    print(f"{FLAGS.model}, Keras {chosen_keras().__version__} "
          f"({build_model(0).count_params():,} parameters, {n_pruned:,} pruned in "
          f"{len(callback._weights)} tensors), {size} px, batch {batch}, {steps} "
          f"steps/epoch, {setting('rounds')} rounds of one epoch each, mask update every "
          f"{frequency} steps; devices: {devices}")
    for v in variants:
        print(f"  {v:26s} median {np.median(times[v]) * 1e3:8.1f} ms/step   "
              f"(min {min(times[v]) * 1e3:7.1f}, max {max(times[v]) * 1e3:7.1f})   "
              f"final kernel sparsity {sparsity[v]:.4f}")
    if wrapper:
        wrapper = np.asarray(times["tfmot wrapper"])
        print(f"  tfmot wrapper / plain fit at frequency {frequency}: "
              f"{np.median(wrapper / plain):.3f}x;  PruneCallback / tfmot wrapper: "
              f"{np.median(np.asarray(times[PRUNE_CALLBACK]) / wrapper):.3f}x")
    for v in pruned:
        non_update, update = (np.asarray(kinds[v, kind]) for kind in ("non-update", "update"))
        print(f"{v}:")
        for kind, values in (("non-update", non_update), ("update", update)):
            print(f"  {kind + ' steps:':18s} median {np.median(values) * 1e3:8.1f} ms/step = "
                  f"{np.median(values / plain):.3f}x plain (per-round ratio)")
        for f in sorted({1, frequency, TFMOT_DEFAULT_FREQUENCY}):
            ratio = amortised(non_update, update, f) / plain
            goal = "   (goal <= 1.10x)" if f == TFMOT_DEFAULT_FREQUENCY else ""
            print(f"  / plain fit, amortised at an update every {f:3d} steps: "
                  f"{np.median(ratio):.3f}x (quartiles {np.percentile(ratio, 25):.3f}.."
                  f"{np.percentile(ratio, 75):.3f}){goal}")
        plain_ms, update_ms = callback_overhead_ms(
            built[v][1][0], calls=200 if FLAGS.model == "small_resnet" else 5)
        step_ms = np.median(plain) * 1e3
        print(f"  own per-step work: {plain_ms:.2f} ms (no mask update), {update_ms:.2f} ms "
              f"(mask update step) = {plain_ms / step_ms:.2%} / {update_ms / step_ms:.2%} of a "
              "plain step")


if __name__ == "__main__":
    app.run(main)
