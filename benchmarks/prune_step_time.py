"""Step time of plain fit, tfmot's pruning wrapper and PruneCallback, on one small ResNet.

    python benchmarks/prune_step_time.py [--rounds 20] [--steps 30] [--batch 32] [--frequency 10]

Three models of the same architecture, from the same initial weights, train on the same (random,
fixed) data with the same optimizer: plain, wrapped by tfmot (``prune_low_magnitude`` +
``UpdatePruningStep``), and plain with ``PruneCallback``. Both pruned variants use the same tfmot
schedule, ``ConstantSparsity(0.8, begin_step=0, end_step=-1, frequency=10)``: masks recomputed
every 10 steps for as long as training goes (10 is far more often than tfmot's default 100, which
only makes the pruned variants slower), so every timed step is a pruning step of its kind.

After one untimed warm-up epoch per model (tracing), each round runs one epoch of each model in
a rotating order; an epoch's time (``on_epoch_begin`` to ``on_epoch_end``, so fit's own set-up is
excluded) divided by its steps is that round's step time. Alternating short epochs within one
process means a change in machine load hits all three alike; a round's ratios compare its
variants with each other, and the median over rounds is reported with the medians of the raw step
times. Finally PruneCallback's own per-step work (one call of its compiled step) is timed alone.
"""
from __future__ import annotations

import time

import numpy as np
from absl import app, flags

import pie_tf
import tensorflow as tf
from pie_tf import keras, models
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity

FLAGS = flags.FLAGS
flags.DEFINE_integer("rounds", 20, "Rounds of one timed epoch per variant.")
flags.DEFINE_integer("steps", 30, "Steps per epoch.")
flags.DEFINE_integer("batch", 32, "Batch size.")
flags.DEFINE_float("sparsity", 0.8, "Target sparsity of both pruned variants.")
flags.DEFINE_integer("frequency", 10, "Mask update interval in steps (both variants).")


def small_resnet(seed):
    """pie_tf's CIFAR-style ResNet-8: 3 stages x 1 basic block, 16/32/64 channels, logits."""
    keras.utils.set_random_seed(seed)
    return models.small_resnet((32, 32, 3), 10, depth=8, width=16, classifier_activation=None)


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)


def build_variant(name, schedule):
    model, callbacks = small_resnet(0), []
    if name == "tfmot wrapper":
        model = tfmot_sparsity.prune_low_magnitude(model, pruning_schedule=schedule)
        callbacks.append(tfmot_sparsity.UpdatePruningStep())
    elif name == "PruneCallback":
        callbacks.append(pie_tf.PruneCallback(FLAGS.sparsity, schedule=schedule))
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, callbacks


def timed_epoch(model, callbacks, dataset):
    """Seconds per step of one epoch of ``fit`` (fit's set-up excluded)."""
    timer = EpochTimer()
    model.fit(dataset, epochs=1, steps_per_epoch=FLAGS.steps, callbacks=callbacks + [timer],
              verbose=0)
    return timer.seconds[0] / FLAGS.steps


def kernel_sparsity(name, model):
    if name == "tfmot wrapper":
        model = tfmot_sparsity.strip_pruning(model)
    kernels = [w.numpy() for w in model.weights if "kernel" in w.name]
    return sum(int(np.sum(k == 0)) for k in kernels) / sum(k.size for k in kernels)


def callback_overhead_ms(callback, calls=200):
    """Wall time of PruneCallback's per-step work alone: one call of its compiled step.

    Machine load makes whole-step ratios noisy; this isolates what the callback adds per step,
    on a step without a mask update and on one with (all masks recomputed by tfmot's top-k).
    """
    state, sync = callback._state, callback._sync_fn
    schedule = callback.resolved_schedule.schedule
    advance = tf.constant(True)
    for _ in range(10):
        sync(advance)
    step = int(state.step.numpy()) // schedule.frequency * schedule.frequency + 1
    state.step.assign(step)                            # next step is not an update step
    start = time.perf_counter()
    for _ in range(calls):
        sync(advance)
        state.step.assign(step)
    plain = (time.perf_counter() - start) / calls
    start = time.perf_counter()
    for _ in range(calls):
        state.step.assign(step + schedule.frequency - 3)   # the step prepared is an update step
        sync(advance)
    update = (time.perf_counter() - start) / calls
    return plain * 1e3, update * 1e3


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    n = FLAGS.steps * FLAGS.batch
    images = rng.normal(size=(n, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 10, n)
    dataset = (tf.data.Dataset.from_tensor_slices((images, labels)).batch(FLAGS.batch)
               .cache().repeat().prefetch(tf.data.AUTOTUNE))
    schedule = tfmot_sparsity.ConstantSparsity(FLAGS.sparsity, begin_step=0, end_step=-1,
                                               frequency=FLAGS.frequency)
    variants = ["plain fit", "tfmot wrapper", "PruneCallback"]
    built = {v: build_variant(v, schedule) for v in variants}
    for model, callbacks in built.values():
        timed_epoch(model, callbacks, dataset)                   # warm-up: tracing
    times = {v: [] for v in variants}
    ratios = {"PruneCallback / tfmot wrapper": [], "PruneCallback / plain fit": [],
              "tfmot wrapper / plain fit": []}
    for r in range(FLAGS.rounds):
        # Rotate the order, so no variant always runs first (or last) in a round.
        for variant in variants[r % 3:] + variants[:r % 3]:
            times[variant].append(timed_epoch(*built[variant], dataset))
        for key in ratios:
            a, b = key.split(" / ")
            ratios[key].append(times[a][-1] / times[b][-1])
    sparsity = {v: kernel_sparsity(v, built[v][0]) for v in variants}
    prune_callback = built["PruneCallback"][1][0]
    print(f"small ResNet (CIFAR-style, {small_resnet(0).count_params():,} parameters), batch "
          f"{FLAGS.batch}, {FLAGS.steps} steps/epoch, {FLAGS.rounds} rounds of one epoch each, "
          f"mask update every {FLAGS.frequency} steps; devices: "
          f"{[d.device_type for d in tf.config.list_logical_devices()]}")
    for v in variants:
        print(f"  {v:14s} median {np.median(times[v]) * 1e3:7.2f} ms/step   "
              f"(min {min(times[v]) * 1e3:6.2f}, max {max(times[v]) * 1e3:6.2f})   "
              f"final kernel sparsity {sparsity[v]:.4f}")
    goals = {"PruneCallback / tfmot wrapper": "   (goal <= 1.00x)",
             "PruneCallback / plain fit": "   (goal <= 1.10x)", "tfmot wrapper / plain fit": ""}
    for key, values in ratios.items():
        print(f"{key:30s} = {np.median(values):.3f}x median over rounds (quartiles "
              f"{np.percentile(values, 25):.3f}..{np.percentile(values, 75):.3f}){goals[key]}")
    plain_ms, update_ms = callback_overhead_ms(prune_callback)
    print(f"PruneCallback's own per-step work: {plain_ms:.3f} ms (no mask update), "
          f"{update_ms:.3f} ms (mask update step) = "
          f"{plain_ms / (np.median(times['plain fit']) * 1e3):.2%} / "
          f"{update_ms / (np.median(times['plain fit']) * 1e3):.2%} of a plain step")


if __name__ == "__main__":
    app.run(main)
