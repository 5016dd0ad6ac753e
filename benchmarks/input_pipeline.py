"""Input pipeline throughput at 224 px (images/s on this CPU), alone, without a model.

    python benchmarks/input_pipeline.py                 # CelebA- and ImageNet-shaped JPEGs
    python benchmarks/input_pipeline.py --examples=2000 --batch_size=256

Compare with a training step's images/s (benchmarks/train_throughput.py) to see whether the
pipeline or the model bounds a step. The images are real JPEGs encoded here (Fashion-MNIST
garments upscaled and tinted, so they compress like photographs rather than noise): CelebA's
aligned crops are 218 x 178; ImageNet's are of varying size (here 300-500 px a side, the bulk of
the validation set). Each pipeline is what the studies run: tfds decodes the JPEG, then
``pie_tf.data.preprocess`` applies the preset's steps (CelebA: resize to 224 and float;
ImageNet: ``resnet_train`` random-resized crop + flip + normalise, ``resnet_eval`` resize 256 +
centre crop + normalise), then batching and prefetch, as ``population`` batches training data.
Reading TFRecords from disk is not included (tfds' own reader; on local SSD it is not the
bound). Rates are steady state: the first two batches are not timed.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

import numpy as np  # noqa: E402

import pie_tf.data  # noqa: E402
from pie_tf.data.fashion_mnist import fashion_mnist_arrays  # noqa: E402
import tensorflow as tf  # noqa: E402


def jpegs(n, sizes, seed=0):
    """``n`` JPEG byte strings of photograph-like content, at (h, w) drawn from ``sizes``."""
    garments, _ = fashion_mnist_arrays("test")
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        h, w = sizes(rng)
        tint = rng.uniform(0.3, 1.0, 3).astype(np.float32)
        base = tf.image.resize(garments[i % len(garments)][..., None].astype(np.float32),
                               (h, w), method="bicubic")
        image = tf.clip_by_value(base * tint + rng.uniform(0, 60), 0, 255)
        out.append(tf.io.encode_jpeg(tf.cast(image, tf.uint8), quality=90).numpy())
    return out


def examples(encoded):
    ds = tf.data.Dataset.from_tensor_slices((encoded, np.arange(len(encoded))))
    return ds.map(lambda b, i: {"image": tf.io.decode_jpeg(b, channels=3),
                                "label": tf.constant(0, tf.int64),
                                "id": tf.strings.as_string(i)},
                  num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def rate(ds, batch_size):
    """Images/s through ``ds`` batched (images of varying size go one at a time)."""
    fixed = ds.element_spec["image"].shape.is_fully_defined()
    batches = (ds.batch(batch_size) if fixed else ds).prefetch(tf.data.AUTOTUNE)
    it = iter(batches)
    for _ in range(2 if fixed else 2 * batch_size):
        next(it)
    start, seen = time.perf_counter(), 0
    for batch in it:
        seen += int(batch["image"].shape[0]) if fixed else 1
    return seen / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=1024)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds over all pipelines; the best of each counts")
    args = parser.parse_args()
    n, b = args.examples, args.batch_size
    celeba = jpegs(n, lambda rng: (218, 178))
    imagenet = jpegs(n, lambda rng: tuple(int(v) for v in rng.integers(300, 501, 2)), seed=1)
    to_224 = pie_tf.data.resize(224)
    pipelines = [
        ("CelebA 218x178: decode only", examples(celeba), ()),
        ("CelebA: decode, resize 224, float", examples(celeba), (to_224, pie_tf.data.to_float())),
        ("ImageNet: decode only", examples(imagenet), ()),
        ("ImageNet: decode, resnet_train", examples(imagenet), (pie_tf.data.resnet_train(224),)),
        ("ImageNet: decode, resnet_eval", examples(imagenet), (pie_tf.data.resnet_eval(224),)),
    ]
    print(f"{n} images, batch {b}, {os.cpu_count()} CPU cores, tf.data AUTOTUNE:")
    for name, ds, steps in pipelines:
        if steps:
            ds = pie_tf.data.preprocess(ds, *steps)
        print(f"  {name:<40} {rate(ds, b):8.0f} images/s")


if __name__ == "__main__":
    main()
