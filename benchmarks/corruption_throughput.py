"""Images per second of pie_tf.corruptions vs imagecorruptions 1.1.2 on 224x224 RGB.

Both run in this process on the same skimage images (astronaut, chelsea, coffee, tiled to the
batch). Ours: warm (traced) ``corrupt`` calls on uint8 batches, best of ``--repeats`` timed
batches (best, not median: the machine is shared and other jobs only ever slow a run down).
"tf.data": the same batches as pie_tf example dicts through ``corrupt_dataset`` (map with
AUTOTUNE parallelism, then prefetch), ``--pipeline_batches`` batches timed from the start of a
fresh pipeline after a warm-up pass -- where the ops are used in practice, several batches in
flight at once. Reference: the patched
copy the tests use (glass_blur, gaussian_blur and fog crash unpatched on numpy 2 /
scikit-image 0.26), one image at a time, ``--ref_images`` images (best of two passes).

    python benchmarks/corruption_throughput.py                  # severity 3, all corruptions
    python benchmarks/corruption_throughput.py --all_severities=glass_blur,zoom_blur,motion_blur
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from pie_tf import corruptions  # noqa: E402
from tests.corruptions._reference import natural, run_reference  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch", 32, "images per batch for pie_tf")
flags.DEFINE_integer("repeats", 3, "timed pie_tf batches (best)")
flags.DEFINE_integer("pipeline_batches", 48, "timed batches through corrupt_dataset")
flags.DEFINE_integer("ref_images", 3, "images for the reference (glass_blur: 1)")
flags.DEFINE_integer("severity", 3, "severity for the full sweep")
flags.DEFINE_list("only", [], "measure only these corruptions (default: all)")
flags.DEFINE_list("all_severities", ["glass_blur", "zoom_blur", "motion_blur"],
                  "corruptions also measured at severities 1-5")


def ours_rate(images, name, severity):
    corruptions.corrupt(images, name, severity).numpy()  # trace + warm up
    times = []
    for rep in range(FLAGS.repeats):
        start = time.perf_counter()
        corruptions.corrupt(images, name, severity, seed=rep).numpy()
        times.append(time.perf_counter() - start)
    return len(images) / float(np.min(times))


def pipeline_rate(images, name, severity):
    examples = {"image": images, "id": np.arange(len(images), dtype=np.int64),
                "label": np.zeros(len(images), np.int64)}

    def run(batches):
        ds = tf.data.Dataset.from_tensors(examples).repeat(batches)
        ds = corruptions.corrupt_dataset(ds, name, severity).prefetch(tf.data.AUTOTUNE)
        for example in ds:
            example["image"].numpy()

    run(2)  # trace and compile (the compiled clusters are cached for the next iterator)
    start = time.perf_counter()  # a fresh pipeline, start-up included: a conservative rate
    run(FLAGS.pipeline_batches)
    return FLAGS.pipeline_batches * len(images) / (time.perf_counter() - start)


def reference_rate(images, name, severity):
    n = 1 if name == "glass_blur" else FLAGS.ref_images
    if name != "glass_blur":
        run_reference(name, images[0], severity, 99)  # warm-up, as for ours
    times = []
    for _ in range(1 if name == "glass_blur" else 2):
        start = time.perf_counter()
        for k in range(n):
            run_reference(name, images[k % len(images)], severity, k)
        times.append(time.perf_counter() - start)
    return n / min(times)


def main(argv):
    del argv
    base = natural(224)
    batch = np.concatenate([base] * (FLAGS.batch // len(base) + 1))[:FLAGS.batch]
    names = [n for n in corruptions.CORRUPTIONS + corruptions.EXTRA_CORRUPTIONS
             if n in corruptions.api._FUNCTIONS]
    names = [n for n in names if not FLAGS.only or n in FLAGS.only]
    runs = [(n, FLAGS.severity) for n in names]
    runs += [(n, s) for n in FLAGS.all_severities for s in range(1, 6) if s != FLAGS.severity]
    print(f"TF {tf.__version__}, {os.cpu_count()} CPUs, batch {FLAGS.batch} x 224x224x3 uint8, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| corruption | severity | pie_tf img/s | in tf.data img/s | imagecorruptions img/s "
          "| speed-up | in tf.data |")
    print("|---|---|---|---|---|---|---|")
    for name, severity in runs:
        ours = ours_rate(batch, name, severity)
        piped = pipeline_rate(batch, name, severity)
        ref = reference_rate(base, name, severity)
        print(f"| {name} | {severity} | {ours:,.0f} | {piped:,.0f} | {ref:,.1f} "
              f"| {ours / ref:,.1f}x | {piped / ref:,.1f}x |", flush=True)


if __name__ == "__main__":
    app.run(main)
