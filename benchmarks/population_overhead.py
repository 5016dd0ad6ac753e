"""Members per hour, and what the population harness costs over bare model.fit + model.predict.

For each seed the same work is done twice, interleaved so that machine load drifts affect both
alike: (a) bare Keras: seed, build, compile, ``fit`` on the same shuffled batches,
``model.predict`` on the evaluation set; (b) ``Population.run`` of one dense member into a store
(which also reads ids and labels, checks the order, reduces and checksums the predictions and
writes them atomically). Overhead = (harness - bare) / bare, over all seeds, in wall time and
in CPU time of this process (the steadier figure on a machine shared with other jobs).

    python benchmarks/population_overhead.py --members 3 --train_size 4000 --eval_size 2000
"""
from __future__ import annotations

import functools
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from pie_tf import keras
from pie_tf.data.fashion_mnist import fashion_mnist_arrays
from pie_tf.models import small_resnet
from pie_tf.population import (Population, Recipe, compile_model, steps_per_epoch,
                               train_batches)

FLAGS = flags.FLAGS
flags.DEFINE_integer("members", 3, "Dense members (seeds) timed each way.")
flags.DEFINE_integer("train_size", 4000, "Fashion-MNIST training images used.")
flags.DEFINE_integer("eval_size", 2000, "Fashion-MNIST test images predicted.")
flags.DEFINE_integer("epochs", 1, "Training epochs per member.")
flags.DEFINE_integer("depth", 8, "small_resnet depth (6n + 2).")
flags.DEFINE_integer("width", 8, "small_resnet width.")
flags.DEFINE_string("fashion_dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST IDX files.")


def _fashion(split, n):
    images, labels = fashion_mnist_arrays(split, FLAGS.fashion_dir)
    return images[:n, :, :, None].astype(np.float32) / 255.0, labels[:n].astype(np.int64)


def main(_):
    x_train, y_train = _fashion("train", FLAGS.train_size)
    x_eval, y_eval = _fashion("test", FLAGS.eval_size)
    train = tf.data.Dataset.from_tensor_slices({"image": x_train, "label": y_train})
    evaluation = tf.data.Dataset.from_tensor_slices({
        "image": x_eval, "label": y_eval, "id": np.array([f"t{i}" for i in range(len(y_eval))])})
    recipe = Recipe(epochs=FLAGS.epochs, batch_size=128, learning_rate=0.05, eval_batch_size=256)
    model_fn = functools.partial(small_resnet, (28, 28, 1), 10, depth=FLAGS.depth,
                                 width=FLAGS.width)
    root = tempfile.mkdtemp(prefix="pie_population_bench_")
    steps = steps_per_epoch(train, recipe)
    tf.config.experimental.enable_op_determinism()  # both sides run under it
    bare_s, harness_s, bare_cpu, harness_cpu = [], [], [], []
    try:
        for seed in range(FLAGS.members):
            start, cpu = time.perf_counter(), time.process_time()
            keras.utils.set_random_seed(seed)
            model = model_fn()
            compile_model(model, recipe, learning_rate=recipe.learning_rate,
                                 total_steps=recipe.epochs * steps)
            model.fit(train_batches(train, recipe, seed), epochs=recipe.epochs,
                      steps_per_epoch=steps, verbose=0)
            probs = model.predict(x_eval, batch_size=recipe.eval_batch_size, verbose=0)
            bare_s.append(time.perf_counter() - start)
            bare_cpu.append(time.process_time() - cpu)
            accuracy = float(np.mean(probs.argmax(1) == y_eval))

            start, cpu = time.perf_counter(), time.process_time()
            Population(model_fn, train, {"test": evaluation}, store=root, recipe=recipe,
                       seeds=[seed], variants=["dense"], verbose=0).run()
            harness_s.append(time.perf_counter() - start)
            harness_cpu.append(time.process_time() - cpu)
            print(f"seed {seed}: bare {bare_s[-1]:.2f} s wall / {bare_cpu[-1]:.2f} s CPU "
                  f"(accuracy {accuracy:.3f}); population {harness_s[-1]:.2f} s wall / "
                  f"{harness_cpu[-1]:.2f} s CPU", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    bare, harness = sum(bare_s), sum(harness_s)
    print(f"\nsmall_resnet depth {FLAGS.depth} width {FLAGS.width}, {FLAGS.train_size} train x "
          f"{FLAGS.epochs} epoch(s), {FLAGS.eval_size} predicted, {FLAGS.members} members each way")
    print(f"bare fit+predict : {3600 * FLAGS.members / bare:8.1f} members/hour")
    print(f"Population.run   : {3600 * FLAGS.members / harness:8.1f} members/hour")
    print(f"harness overhead : {100 * (harness - bare) / bare:+.1f}% wall, "
          f"{100 * (sum(harness_cpu) - sum(bare_cpu)) / sum(bare_cpu):+.1f}% CPU time "
          f"(median per member "
          f"{100 * np.median(np.array(harness_cpu) / np.array(bare_cpu) - 1):+.1f}% CPU)")


if __name__ == "__main__":
    app.run(main)
