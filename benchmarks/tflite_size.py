"""TFLite size and accuracy of dense, pruned and quantized small ResNets on Fashion-MNIST.

    python benchmarks/tflite_size.py            # about 3 minutes on 2 idle CPU cores
    python benchmarks/tflite_size.py --train_examples=60000 --epochs=6 --prune_epochs=3 \
        --qat_examples=60000                     # closer to converged

For dense, 50%- and 90%-pruned models, each exported as float32 / dynamic / int8 TFLite (and the
pruned ones also through prune-preserving QAT, "PQAT int8"), prints Keras accuracy, TFLite accuracy,
gzip size, the ratio to the dense float32 gzip size and the Keras/TFLite label agreement, then
checks the goal: 90%-pruned int8 gzip <= 1/12 of dense float32 gzip with at most 1 point of
accuracy lost against the Keras model it was exported from. A last pair of rows shows what
QuantizeCallback (BatchNorm statistics and quantizer ranges frozen for the last QAT epoch) does.

Pruning: ``pie_tf.PruneCallback`` with tfmot's PolynomialDecay (Zhu & Gupta, cubic, as in Hooker
et al.) while fine-tuning the trained dense model; Hooker et al. prune while training from scratch.
Fashion-MNIST is read from Debian's IDX files (`dataset-fashion-mnist`).
"""
from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from absl import app, flags, logging  # noqa: E402

import pie_tf  # noqa: E402
from pie_tf import keras  # noqa: E402
from pie_tf.compress.quantize import prunable_kernel_sparsity  # noqa: E402
from pie_tf.data.fashion_mnist import fashion_mnist_arrays  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", "/usr/share/datasets/fashion-mnist", "Fashion-MNIST IDX files.")
flags.DEFINE_integer("train_examples", 20000, "Training examples used (of 60,000).")
flags.DEFINE_integer("qat_examples", 5000, "Training examples for the PQAT fine-tuning.")
flags.DEFINE_integer("test_examples", 10000, "Test examples evaluated (of 10,000).")
flags.DEFINE_integer("epochs", 2, "Dense training epochs.")
flags.DEFINE_integer("prune_epochs", 1, "Fine-tuning epochs while pruning.")
flags.DEFINE_integer("qat_epochs", 2, "PQAT fine-tuning epochs.")
flags.DEFINE_integer("batch_size", 128, "Training batch size.")
flags.DEFINE_integer("seed", 0, "Random seed.")


def load_fashion_mnist(data_dir):
    def part(split):
        images, labels = fashion_mnist_arrays(split, data_dir)
        return (images[..., None].astype(np.float32) / 255.0), labels.astype(np.int64)
    return part("train"), part("test")


def small_resnet(n_classes=10):
    """A CIFAR-style ResNet for 28x28x1: stride-2 stem, three residual stages (16/32/64).

    BatchNormalization momentum 0.9 instead of Keras' 0.99: with a few hundred training steps the
    moving statistics must catch up with the weights, or the inference-mode model (the one that
    is exported) lags far behind the training-mode one.
    """
    def conv_bn(x, filters, stride=1, relu=True):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False)(x)
        x = keras.layers.BatchNormalization(momentum=0.9)(x)
        return keras.layers.ReLU()(x) if relu else x

    def block(x, filters, stride):
        h = conv_bn(x, filters, stride)
        h = conv_bn(h, filters, relu=False)
        if stride != 1 or x.shape[-1] != filters:
            x = keras.layers.Conv2D(filters, 1, strides=stride, use_bias=False)(x)
            x = keras.layers.BatchNormalization(momentum=0.9)(x)
        return keras.layers.ReLU()(keras.layers.Add()([x, h]))

    inputs = keras.Input((28, 28, 1))
    x = conv_bn(inputs, 16, stride=2)
    x = block(x, 16, 1)
    x = block(x, 32, 2)
    x = block(x, 64, 2)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(n_classes)(x), name="fmnist_resnet")


def compile_model(model, learning_rate):
    model.compile(keras.optimizers.Adam(learning_rate),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"])
    return model


def prune(dense, sparsity, x, y):
    """Gradual magnitude pruning with ``pie_tf.PruneCallback`` (tfmot's PolynomialDecay masks)
    while fine-tuning a copy of ``dense``."""
    model = compile_model(pie_tf.clone_dense(dense), 1e-3)
    steps = FLAGS.prune_epochs * int(np.ceil(len(x) / FLAGS.batch_size))
    # 20 pruning updates ending at 80% of fine-tuning
    frequency = max(1, int(0.8 * steps) // 20)
    callback = pie_tf.PruneCallback(sparsity, schedule="polynomial_decay", begin=0,
                                    end=20 * frequency, frequency=frequency)
    model.fit(x, y, epochs=FLAGS.prune_epochs, batch_size=FLAGS.batch_size, verbose=0,
              callbacks=[callback])
    return model


def pqat(pruned, x, y, callback=None):
    qat = pie_tf.quantize(compile_model(pruned, 1e-4))
    x, y = x[:FLAGS.qat_examples], y[:FLAGS.qat_examples]
    qat.fit(x, y, epochs=FLAGS.qat_epochs, batch_size=FLAGS.batch_size, verbose=0,
            callbacks=[callback] if callback else [])
    return qat


def keras_accuracy(model, x, y):
    return float(np.mean(model.predict(x, batch_size=512, verbose=0).argmax(1) == y))


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)
    keras.utils.set_random_seed(FLAGS.seed)
    start = time.time()
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist(FLAGS.data_dir)
    x_train, y_train = x_train[:FLAGS.train_examples], y_train[:FLAGS.train_examples]
    x_test, y_test = x_test[:FLAGS.test_examples], y_test[:FLAGS.test_examples]
    calibration = x_train[:100]  # Hooker et al.: the first 100 training examples

    dense = compile_model(small_resnet(), 2e-3)
    dense.fit(x_train, y_train, epochs=FLAGS.epochs, batch_size=FLAGS.batch_size, verbose=0)
    print(f"dense trained ({time.time() - start:.0f}s); "
          f"{dense.count_params():,} parameters", flush=True)
    models = {"dense": dense}
    for sparsity in (0.5, 0.9):
        models[f"pruned {sparsity:.0%}"] = prune(dense, sparsity, x_train, y_train)
        print(f"pruned {sparsity:.0%} ({time.time() - start:.0f}s)", flush=True)

    rows = []

    def evaluate(name, keras_model, mode, tflite):
        comparison = pie_tf.compare_deployment(keras_model, tflite, x_test, labels=y_test,
                                               batch_size=500, latency_threads=(1,),
                                               latency_runs=20)
        rows.append({"model": name, "tflite": mode,
                     "sparsity": round(prunable_kernel_sparsity(keras_model), 3),
                     "keras_acc": comparison.keras_accuracy,
                     "tflite_acc": comparison.tflite_accuracy,
                     "gzip_bytes": tflite.gzip_bytes, "bytes": tflite.size_bytes,
                     "agreement": comparison.label_agreement,
                     "prob_loyalty": comparison.probability_loyalty,
                     "latency_ms": comparison.latency["median_ms"].iloc[0]})
        print(f"  {name:>14} {mode:<22} ({time.time() - start:.0f}s)", flush=True)

    for name, model in models.items():
        for mode in ("float32", "dynamic", "int8"):
            evaluate(name, model, mode, pie_tf.export_tflite(model, mode, calibration))
    for name in ("pruned 50%", "pruned 90%"):
        keras.utils.set_random_seed(FLAGS.seed)  # the same shuffles with and without the callback
        qat = pqat(models[name], x_train, y_train)
        evaluate(f"{name} PQAT", qat, f"int8 ({qat.quantization_scheme})",
                 pie_tf.export_tflite(qat, "int8"))
    keras.utils.set_random_seed(FLAGS.seed)
    frozen = pqat(models["pruned 90%"], x_train, y_train,
                  pie_tf.QuantizeCallback(freeze_bn_after=FLAGS.qat_epochs - 1,
                                          freeze_ranges_after=max(1, FLAGS.qat_epochs - 1)))
    evaluate("pruned 90% PQAT", frozen, "int8 + QuantizeCallback",
             pie_tf.export_tflite(frozen, "int8"))

    table = pd.DataFrame(rows)
    dense_row = (table.model == "dense") & (table.tflite == "float32")
    dense_gzip = table.loc[dense_row, "gzip_bytes"].iloc[0]
    table.insert(table.columns.get_loc("gzip_bytes") + 1, "ratio",
                 (table["gzip_bytes"] / dense_gzip).round(4))
    table["acc_loss_pts"] = 100 * (table["keras_acc"] - table["tflite_acc"])
    with pd.option_context("display.width", 200, "display.max_columns", 20,
                           "display.float_format", "{:.4f}".format):
        print(table.to_string(index=False))

    goal = table[(table.model == "pruned 90%") & (table.tflite == "int8")].iloc[0]
    print(f"\ngoal: 90%-pruned int8 gzip {goal.gzip_bytes:,} B = "
          f"1/{dense_gzip / goal.gzip_bytes:.1f}"
          f" of dense float32 gzip {dense_gzip:,} B (goal >= 1/12): "
          f"{'met' if goal.gzip_bytes * 12 <= dense_gzip else 'NOT met'}; accuracy loss vs Keras "
          f"{goal.acc_loss_pts:.2f} pt (goal <= 1): "
          f"{'met' if goal.acc_loss_pts <= 1 else 'NOT met'}")
    print(f"total {time.time() - start:.0f}s")


if __name__ == "__main__":
    app.run(main)
