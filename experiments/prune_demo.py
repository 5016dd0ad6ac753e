"""Prune a small CNN on Fashion-MNIST with one callback; print dense vs pruned accuracy.

    python experiments/prune_demo.py [--sparsity 0.9] [--dense_epochs 2] [--prune_epochs 2]

Trains ``pie_tf.models.small_resnet`` (ResNet-8: BatchNorm + Add) densely, keeps a copy with
``pie_tf.clone_dense``, then continues training the model with ``pie_tf.PruneCallback`` (Zhu &
Gupta's polynomial schedule over the first ``--prune_end`` of the pruning epochs, then
fine-tuning at full sparsity) and prints both test accuracies and ``pie_tf.sparsity_report``.
Reads Debian's Fashion-MNIST IDX files (``dataset-fashion-mnist``); nothing is downloaded.
About three minutes on two CPU cores.
"""
from __future__ import annotations

from absl import app, flags

import pie_tf
from pie_tf import keras
from pie_tf.data.fashion_mnist import fashion_mnist_arrays

FLAGS = flags.FLAGS
flags.DEFINE_float("sparsity", 0.9, "Target sparsity of every pruned kernel.")
flags.DEFINE_integer("dense_epochs", 2, "Epochs of dense training.")
flags.DEFINE_integer("prune_epochs", 2, "Epochs of training with PruneCallback.")
flags.DEFINE_float("prune_end", 0.75, "Fraction of the pruning epochs at which the schedule "
                   "reaches the target (the rest fine-tunes the pruned model).")
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("train_examples", 30000, "How many training images to use (<= 60000).")
flags.DEFINE_string("data_dir", "/usr/share/datasets/fashion-mnist",
                    "Directory with the Fashion-MNIST IDX files (Debian's dataset-fashion-mnist).")
flags.DEFINE_string("tensorboard_dir", None,
                    "Optional TensorBoard directory for per-layer sparsity.")
flags.DEFINE_integer("seed", 0, "Random seed.")


def load(split):
    images, labels = fashion_mnist_arrays(split, FLAGS.data_dir)
    return (images[..., None].astype("float32") / 255.0), labels.astype("int64")


def compile_model(model):
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    return model


def main(argv):
    del argv
    keras.utils.set_random_seed(FLAGS.seed)
    x_train, y_train = load("train")
    x_test, y_test = load("test")
    x_train, y_train = x_train[:FLAGS.train_examples], y_train[:FLAGS.train_examples]

    model = compile_model(pie_tf.models.small_resnet(
        (28, 28, 1), 10, depth=8, width=16, classifier_activation=None))
    model.fit(x_train, y_train, batch_size=FLAGS.batch_size, epochs=FLAGS.dense_epochs,
              verbose=2)
    dense = compile_model(pie_tf.clone_dense(model))     # PruneCallback prunes `model` in place

    prune = pie_tf.PruneCallback(FLAGS.sparsity, end=FLAGS.prune_end,
                                 log_dir=FLAGS.tensorboard_dir)
    model.fit(x_train, y_train, batch_size=FLAGS.batch_size, epochs=FLAGS.prune_epochs,
              callbacks=[prune], verbose=2)

    _, dense_acc = dense.evaluate(x_test, y_test, batch_size=512, verbose=0)
    _, pruned_acc = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    report = pie_tf.sparsity_report(model)
    print(report[report["prunable"]].to_string(index=False))
    print(f"\ntest accuracy  dense {dense_acc:.4f}   pruned ({FLAGS.sparsity:.0%} of every "
          f"kernel) {pruned_acc:.4f}   overall kernel sparsity "
          f"{report.attrs['overall_sparsity']:.4f}")


if __name__ == "__main__":
    app.run(main)
