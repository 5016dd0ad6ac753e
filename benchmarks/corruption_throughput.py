"""Images per second of pie_tf.corruptions vs imagecorruptions 1.1.2 on 224x224 RGB.

Both run in this process on the same skimage images (astronaut, chelsea, coffee, tiled to the
batch), in interleaved rounds: one warm (traced) ``corrupt`` call on a uint8 tensor batch (as
in a pipeline; each side gets its native input: tensors here, numpy arrays there), then the
reference on ``--ref_images`` images, ``--rounds`` times; each side's best round counts (best,
not median: the machine is shared and other jobs only ever slow a run down; interleaving
makes both sides see the same spells of contention). Reference: the patched copy the tests
use (glass_blur, gaussian_blur and fog crash unpatched on numpy 2 / scikit-image 0.26), one
image at a time. "tf.data": the same batches as pie_tf example dicts through
``corrupt_dataset`` (map with AUTOTUNE parallelism, then prefetch), ``--pipeline_batches``
batches in steady state (timed from the first batch out) -- where the ops are used in
practice, several batches in flight at once.

    python benchmarks/corruption_throughput.py                  # severity 3, all corruptions
    python benchmarks/corruption_throughput.py --only=shot_noise --all_severities=shot_noise
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
flags.DEFINE_integer("rounds", 5, "interleaved rounds (one pie_tf batch, then the reference's "
                     "images); each side's best round counts")
flags.DEFINE_integer("pipeline_batches", 64, "batches through corrupt_dataset, steady state")
flags.DEFINE_integer("ref_images", 4, "reference images per round (glass_blur: 1, 2 rounds)")
flags.DEFINE_integer("severity", 3, "severity for the full sweep")
flags.DEFINE_list("only", [], "measure only these corruptions (default: all)")
flags.DEFINE_list("all_severities", ["shot_noise", "glass_blur", "zoom_blur", "motion_blur",
                                    "gaussian_blur"],
                  "corruptions also measured at severities 1-5")


def interleaved_rates(images, base, name, severity):
    """(ours, reference) images/s: rounds alternate one pie_tf batch with the reference's
    images, so both sides see the same machine; the best round of each side counts (other
    jobs only ever slow a run down)."""
    corruptions.corrupt(images, name, severity).numpy()  # trace + compile
    n_ref = 1 if name == "glass_blur" else FLAGS.ref_images
    rounds = 2 if name == "glass_blur" else FLAGS.rounds
    if name != "glass_blur":
        run_reference(name, base[0], severity, 99)  # warm-up, as for ours
    ours, ref = [], []
    for rnd in range(rounds):
        start = time.perf_counter()
        corruptions.corrupt(images, name, severity, seed=rnd).numpy()
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        for k in range(n_ref):
            run_reference(name, base[k % len(base)], severity, 10 * rnd + k)
        ref.append(time.perf_counter() - start)
    return len(images) / min(ours), n_ref / min(ref)


def pipeline_rate(images, name, severity):
    """Images/s through ``corrupt_dataset`` in steady state: from the first batch out to the
    last (pipeline start-up, about 0.1-0.5 s, excluded)."""
    examples = {"image": images, "id": np.arange(len(images), dtype=np.int64),
                "label": np.zeros(len(images), np.int64)}

    def run(batches):
        ds = tf.data.Dataset.from_tensors(examples).repeat(batches)
        ds = corruptions.corrupt_dataset(ds, name, severity).prefetch(tf.data.AUTOTUNE)
        first = None
        for example in ds:
            example["image"].numpy()
            first = first or time.perf_counter()
        return time.perf_counter() - first

    run(2)  # trace and compile (the compiled clusters are cached for the next iterator)
    return (FLAGS.pipeline_batches - 1) * len(images) / run(FLAGS.pipeline_batches)


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
        ours, ref = interleaved_rates(tf.constant(batch), base, name, severity)
        piped = pipeline_rate(batch, name, severity)
        print(f"| {name} | {severity} | {ours:,.0f} | {piped:,.0f} | {ref:,.1f} "
              f"| {ours / ref:,.1f}x | {piped / ref:,.1f}x |", flush=True)


if __name__ == "__main__":
    app.run(main)
