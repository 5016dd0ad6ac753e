"""What each paper preset costs, computed from the presets themselves (no data, no training).

    python benchmarks/paper_cost.py            # both studies' --preset=paper
    python benchmarks/paper_cost.py --flops    # also FLOPs per image, traced from the model

Per study: members x variants, the training images (epochs x split size per member trained
from scratch, fine-tune epochs for fine-tuned ones), the Keras and TFLite inferences (every
member on every evaluation set it predicts on: TFLite exports only on the sets their audit reads),
the TFLite conversions, and the prediction store on disk from the store's own storage rules
(labels int16; full float16 probabilities up to 256 classes, else top-5 labels and float16
probabilities; ImageNet-A's restricted labels). Split sizes are tfds's: CelebA 162,770 train /
19,962 test; ImageNet 1,281,167 train / 50,000 validation, ImageNet-C 50,000 per set,
ImageNet-A 7,500.
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE, arguments, get  # noqa: E402

SPLITS = {"celeb_a": {"train": 162_770, "test": 19_962},
          "imagenet2012": {"train": 1_281_167, "validation": 50_000}}
IMAGENET_A = 7_500


def flops_per_image(model_name, size, classes):
    """Forward FLOPs of one image (multiply and add counted apart), traced by tf.profiler."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2)

    from pie_tf import models
    model = getattr(models, model_name)((size, size, 3), classes)
    fn = tf.function(lambda x: model(x, training=False)).get_concrete_function(
        tf.TensorSpec([1, size, size, 3]))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    graph = convert_variables_to_constants_v2(fn).graph
    return tf.compat.v1.profiler.profile(graph=graph, options=options).total_float_ops


def store_bytes_per_example(n_classes, restricted=False):
    full = n_classes <= 256
    size = 2 + (2 * n_classes if full else 5 * 2 + 5 * 2)
    return size + (2 if restricted else 0)


def cost(name, presets, with_flops):
    config = get(presets, "paper")
    data, population = config["data"], config["population"]
    splits = SPLITS[data["dataset"]]
    clean_split = config["evaluations"]["clean"]["eval_split"]
    n_eval = splits[clean_split]
    n_classes = 2 if data["dataset"] == "celeb_a" else 1000
    members = population["members"]
    all_variants, audited, deployments = arguments.variants(config)
    exports = {export for _, export in deployments}
    corrupted = config["evaluations"].get("corrupted")
    n_corrupted = len(corrupted["corruptions"]) * len(corrupted["severities"]) if corrupted else 0
    has_a = "imagenet_a" in config["evaluations"]
    deploy_corrupted = bool(corrupted and corrupted.get("deploy_corrupted"))

    train_images = keras_inferences = tflite_inferences = conversions = store = 0
    per_member_sets = n_eval + n_corrupted * n_eval + (IMAGENET_A if has_a else 0)
    export_sets = n_eval + (IMAGENET_A if has_a else 0) + (
        n_corrupted * n_eval if deploy_corrupted else 0)
    for variant in all_variants:  # Variant objects: kind, sparsity, tflite, parent
        if variant.tflite is None:
            if variant.parent is None:  # trained from scratch
                train_images += population["epochs"] * splits["train"]
            else:
                train_images += population["fine_tune_epochs"] * splits["train"]
            keras_inferences += per_member_sets
            sets = per_member_sets
        else:
            conversions += 1
            sets = export_sets if variant in exports else per_member_sets
            tflite_inferences += sets
        subset = IMAGENET_A if has_a else 0
        store += (sets - subset) * store_bytes_per_example(n_classes) + \
            subset * store_bytes_per_example(n_classes, restricted=True)
    print(f"\n{name} --preset=paper: {data['dataset']}, {config['model']['model']} at "
          f"{data['image_size']} px, {members} members x {len(all_variants)} variants "
          f"= {members * len(all_variants)} members")
    print(f"  variants: {', '.join(all_variants)}")
    print(f"  training images:      {members * train_images / 1e9:8.2f} billion")
    print(f"  Keras inferences:     {members * keras_inferences / 1e6:8.1f} million "
          f"({1 + n_corrupted + has_a} evaluation sets per member)")
    print(f"  TFLite inferences:    {members * tflite_inferences / 1e6:8.1f} million (CPU runtime)")
    print(f"  TFLite conversions:   {members * conversions:8d}")
    print(f"  prediction store:     {members * store / 1e9:8.2f} GB")
    if with_flops:
        flops = flops_per_image(config["model"]["model"], data["image_size"], n_classes)
        # a training step is about three forward passes (forward, two backward products)
        total = members * (3 * train_images + keras_inferences) * flops
        print(f"  forward FLOPs/image:  {flops / 1e9:8.2f} G; training + Keras inference "
              f"{total / 1e18:.1f} EFLOP")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flops", action="store_true")
    args = parser.parse_args()
    cost("celeba_bias.py", CELEBA_BIAS, args.flops)
    cost("imagenet_pie.py", IMAGENET_PIE, args.flops)


if __name__ == "__main__":
    main()
