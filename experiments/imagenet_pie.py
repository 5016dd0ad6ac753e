"""What Do Compressed Deep Neural Networks Forget? (Hooker et al. 2019), end to end.

    python experiments/imagenet_pie.py                       # quick preset: offline, Fashion-MNIST
    python experiments/imagenet_pie.py --preset=paper --data_dir=~/tensorflow_datasets
    python experiments/imagenet_pie.py --preset=paper --shard=0/30 --stage=train --strategy=tpu
    python experiments/imagenet_pie.py --corruptions=fog,snow --severities=1,5   # any preset value

Populations of dense and pruned ResNets (ImageNet ResNet-50 at sparsities 0.1-0.9 in the paper;
offline: a small ResNet on Debian's Fashion-MNIST) are trained into a prediction store and
evaluated on the clean evaluation set, on every ImageNet-C corruption and severity (offline:
pie_tf.corruptions applied to the test images) and on ImageNet-A. The audit finds the Pruning
Identified Exemplars (PIE), the classes whose recall pruning changed significantly (Welch t-tests),
corruption error and mCE against sparsity; the TFLite export of every compressed variant is audited
against its Keras source. Output in ``--out_dir`` (report.html, tables/, figures/, store/);
re-running with the same ``--out_dir`` resumes. Presets: pie_tf/experiments_config/presets.py.
"""
import os

from absl import app, flags, logging

from pie_tf.experiments_config import IMAGENET_PIE, compose, define_flags, make_strategy, resolve

define_flags(IMAGENET_PIE, default_out_dir="runs/imagenet_pie")
FLAGS = flags.FLAGS


def main(argv):
    del argv
    import pie_tf.corruptions
    import pie_tf.data
    from pie_tf.population import Population
    from pie_tf.store import PredictionStore

    config = resolve(IMAGENET_PIE, FLAGS)
    logging.info("preset %s: %s", FLAGS.preset, config)

    # data: ImageNet takes the standard ResNet crops; small images are only converted to float
    size, imagenet = config["image_size"], config["dataset"] == "imagenet2012"
    info = pie_tf.data.info(config["dataset"])
    channels = info.image_shape[-1] if info.image_shape else 3
    train_step = pie_tf.data.resnet_train(size) if imagenet else pie_tf.data.to_float()
    eval_step = pie_tf.data.resnet_eval(size) if imagenet else pie_tf.data.to_float()
    resize = {} if imagenet else {"image_size": size}
    train = compose.load_split(config, "train", config["train_examples"], resize=resize)
    evaluation = compose.load_split(config, config["eval_split"], config["eval_examples"],
                                    resize=resize)
    eval_sets = {config["eval_split"]: pie_tf.data.preprocess(evaluation, eval_step)}
    corruption_sets = {}
    for corruption in config["corruptions"]:
        for severity in config["severities"]:
            name = corruption_sets[(corruption, severity)] = f"{corruption}@{severity}"
            if config["corruption_source"] == "tfds":  # the published ImageNet-C images
                corrupted = compose.load_split(
                    config, config["eval_split"], config["corruption_examples"], resize=resize,
                    name=f"imagenet2012_corrupted/{corruption}_{severity}")
            else:  # pie_tf.corruptions on the clean images, seeded per example id
                clean = evaluation.take(config["corruption_examples"]) \
                    if config["corruption_examples"] else evaluation
                corrupted = pie_tf.corruptions.corrupt_dataset(clean, corruption, severity,
                                                               seed=config["seed"])
            eval_sets[name] = pie_tf.data.preprocess(corrupted, eval_step)
            if config["cache_corrupted"]:
                eval_sets[name] = eval_sets[name].cache()
    class_subsets = {}
    if config["imagenet_a"]:
        eval_sets["imagenet_a"] = pie_tf.data.preprocess(
            compose.load_split(config, "test", 0, resize=resize, name="imagenet_a"), eval_step)
        class_subsets["imagenet_a"] = pie_tf.data.imagenet_a_class_indices(
            data_dir=config["data_dir"] or None)

    # population -> store
    all_variants, audited, deployments = compose.variants(config)
    store = PredictionStore(os.path.join(FLAGS.out_dir, "store"))
    population = Population(
        compose.model_fn(config, (size, size, channels), info.num_classes),
        pie_tf.data.preprocess(train, train_step, seed=config["seed"]), eval_sets,
        store=store, recipe=compose.recipe(config), class_subsets=class_subsets,
        seeds=range(config["seed"], config["seed"] + config["members"]), variants=all_variants,
        strategy=make_strategy(FLAGS.strategy, FLAGS.tpu))
    if not compose.run_population(population, FLAGS, logging.warning):
        return

    # audit (dense against every compressed variant, clean, corrupted and on ImageNet-A; each
    # TFLite export against its source) and the report
    tables, report = compose.audit_and_report(
        store, config["eval_split"], evaluation, config, info, audited=audited,
        deployments=deployments, out_dir=FLAGS.out_dir, preset=FLAGS.preset,
        title=f"What compressed models forget: {config['dataset']} ({FLAGS.preset} preset)",
        corruption_sets=corruption_sets,
        imagenet_a_set="imagenet_a" if config["imagenet_a"] else None)
    print(compose.console_summary(tables, report))


if __name__ == "__main__":
    app.run(main)
