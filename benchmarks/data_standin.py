"""celeba_standin: generation time, and what a small CNN learns from it (run on demand).

    python benchmarks/data_standin.py [--train_size 4000] [--epochs 3]

Prints the time to build each split, then trains a small tf_keras CNN on the training split
(binary "Blond_Hair" target) and reports test accuracy overall and per (label, Male) group, and
a probe CNN's accuracy at reading the Male / Young marks from pixels. Nothing is asserted: the
figures go in docs/data.md and the report.
"""
import argparse
import time

import numpy as np
import pandas as pd

from pie_tf import keras
from pie_tf.data import standin


def small_cnn(input_shape, outputs=1):
    inputs = keras.Input(input_shape)
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    for filters in (16, 32):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(64, activation="relu")(x)
    model = keras.Model(inputs, keras.layers.Dense(outputs, activation="sigmoid")(x))
    model.compile(keras.optimizers.Adam(3e-3), "binary_crossentropy", metrics=["accuracy"])
    return model


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--train_size", type=int, default=4000)
    parser.add_argument("--test_size", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--probe_epochs", type=int, default=3)
    parser.add_argument("--positive_classes", default="3",
                        help="Fashion-MNIST classes that make the label 1, comma-separated")
    parser.add_argument("--skip_generation", action="store_true")
    args = parser.parse_args()

    positive = tuple(int(c) for c in args.positive_classes.split(","))
    for split in () if args.skip_generation else ("train", "validation", "test"):
        start = time.perf_counter()
        standin.standin_arrays(split, seed=0)
        print(f"generate default {split}: {time.perf_counter() - start:.2f} s")

    keras.utils.set_random_seed(0)
    train = standin.standin_arrays("train", seed=0, train_size=args.train_size,
                                   positive_classes=positive)
    test = standin.standin_arrays("test", seed=0, test_size=args.test_size,
                                  positive_classes=positive)
    model = small_cnn(train["image"].shape[1:])
    start = time.perf_counter()
    model.fit(train["image"], train["label"], epochs=args.epochs, batch_size=64, verbose=0)
    print(f"train {args.train_size} x {args.epochs} epochs: {time.perf_counter() - start:.1f} s")
    predicted = (model.predict(test["image"], verbose=0)[:, 0] > 0.5).astype(int)
    frame = pd.DataFrame({"label": test["label"], "Male": test["Male"],
                          "correct": predicted == test["label"]})
    print(f"positive classes {positive}; test accuracy {frame.correct.mean():.4f} (majority class "
          f"{1 - frame.label.mean():.4f})")
    print(frame.groupby(["label", "Male"]).correct.agg(["mean", "size"]).to_string())

    for attribute in ("Male", "Young") if args.probe_epochs else ():
        probe = small_cnn(train["image"].shape[1:])
        probe.fit(train["image"], train[attribute].astype(int), epochs=args.probe_epochs,
                  batch_size=64, verbose=0)
        accuracy = np.mean((probe.predict(test["image"], verbose=0)[:, 0] > 0.5) == test[attribute])
        print(f"probe CNN reads {attribute} from pixels: accuracy {accuracy:.4f} "
              f"(majority {max(test[attribute].mean(), 1 - test[attribute].mean()):.4f})")


if __name__ == "__main__":
    main()
