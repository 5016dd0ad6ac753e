"""Training throughput (images/s) of pie_tf's models: plain fit against fit + PruneCallback,
with and without XLA and mixed precision.

    python benchmarks/train_throughput.py                         # CPU: small_resnet, 32 px
    python benchmarks/train_throughput.py --model=resnet50 --image_size=224 --batch_size=128 \\
        --options=float32,xla,mixed,mixed+xla --prune             # an accelerator

The data are random images held in memory (``cache``), so the figure is the model's and the
optimizer's, not the input pipeline's (benchmarks/input_pipeline.py measures that one).
Options: ``float32`` (plain), ``xla`` (``jit_compile=True``), ``mixed`` (the accelerator's mixed
policy: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` elsewhere), combinations with ``+``.
With ``--prune``, every option is also timed with ``pie_tf.PruneCallback(0.9)`` updating its masks
at tfmot's default frequency (every 100 steps), the ratio printed beside it. Rounds alternate
between the configurations so that a machine's load drift hits all of them alike; the best
round counts.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

import numpy as np  # noqa: E402
import tensorflow_model_optimization as tfmot  # noqa: E402

import pie_tf  # noqa: E402
import tensorflow as tf  # noqa: E402

from pie_tf import keras  # noqa: E402
from pie_tf.models import resnet18, resnet50, small_resnet  # noqa: E402


OPTIONS = ("float32", "xla", "mixed", "mixed+xla")


def build(name, size, classes):
    if name == "resnet18":
        return resnet18((size, size, 3), classes)
    if name == "resnet50":
        return resnet50((size, size, 3), classes)
    return small_resnet((size, size, 3), classes, depth=8, width=8)


def policy(option):
    if "mixed" not in option:
        return "float32"
    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


def make(args, option, prune):
    keras.utils.set_random_seed(0)
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy(option))
    try:
        model = build(args.model, args.image_size, args.classes)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    optimizer = keras.optimizers.SGD(0.01, momentum=0.9)
    if policy(option) == "mixed_float16":
        optimizer = keras.mixed_precision.LossScaleOptimizer(optimizer)
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(),
                  jit_compile="xla" in option)
    # pruned at 0.9 from the first step, its masks updated every 100 steps (tfmot's default
    # frequency) through every fit: the same callback continues from the warm-up fit on
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.9, begin_step=1, frequency=100)
    callbacks = [pie_tf.PruneCallback(0.9, schedule=schedule)] if prune else []
    return model, callbacks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="small_resnet",
                        choices=["small_resnet", "resnet18", "resnet50"])
    parser.add_argument("--image_size", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--options", default="float32,xla")
    parser.add_argument("--prune", action="store_true")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    unknown = [o for o in args.options.split(",") if o not in OPTIONS]
    if unknown:
        parser.error(f"--options: unknown {unknown}; choose from {', '.join(OPTIONS)}.")

    rng = np.random.default_rng(0)
    n = args.batch_size * 4
    images = rng.random((n, args.image_size, args.image_size, 3), dtype=np.float32)
    labels = rng.integers(0, args.classes, n)
    data = tf.data.Dataset.from_tensor_slices((images, labels)).batch(
        args.batch_size, drop_remainder=True).cache().repeat().prefetch(tf.data.AUTOTUNE)

    configs = [(o, p) for o in args.options.split(",") for p in ([False, True] if args.prune
                                                                 else [False])]
    built = {c: make(args, *c) for c in configs}
    for (model, callbacks) in built.values():  # compile and warm up (XLA compiles here)
        model.fit(data, steps_per_epoch=3, epochs=1, verbose=0, callbacks=callbacks)
    best = {c: 0.0 for c in configs}
    for _ in range(args.rounds):
        for config in configs:
            model, callbacks = built[config]
            start = time.perf_counter()
            model.fit(data, steps_per_epoch=args.steps, epochs=1, verbose=0, callbacks=callbacks)
            rate = args.steps * args.batch_size / (time.perf_counter() - start)
            best[config] = max(best[config], rate)

    device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
    print(f"{args.model} at {args.image_size} px, batch {args.batch_size}, {device}, "
          f"best of {args.rounds} rounds of {args.steps} steps (images/s):")
    print(f"{'option':<12} {'policy':<15} {'plain':>9} {'pruned':>9} {'pruned/plain':>13}")
    rows = []
    base = best[(configs[0][0], False)]
    for option in args.options.split(","):
        plain = best[(option, False)]
        pruned = best.get((option, True))
        ratio = f"{plain / pruned:.3f}x" if pruned else ""
        print(f"{option:<12} {policy(option):<15} {plain:9.1f} "
              f"{pruned if pruned else float('nan'):9.1f} {ratio:>13}   "
              f"({plain / base:.2f}x of {configs[0][0]})")
        rows.append(dict(model=args.model, image_size=args.image_size, batch=args.batch_size,
                         device=device, option=option, policy=policy(option),
                         plain_images_s=plain, pruned_images_s=pruned))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
