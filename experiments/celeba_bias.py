"""Characterising Bias in Compressed Models (Hooker et al. 2020), end to end.

    python experiments/celeba_bias.py                       # quick preset: offline, minutes
    python experiments/celeba_bias.py --preset=paper --data_dir=~/tensorflow_datasets
    python experiments/celeba_bias.py --preset=paper --shard=3/8 --stage=train   # one of 8 jobs
    python experiments/celeba_bias.py --members=10 --sparsities=0.9,0.95       # any preset value

A dense population and compressed populations (pruned, quantization-aware, post-training int8) of
a ResNet are trained on CelebA's Blond_Hair (offline: ``celeba_standin``, a stand-in with CelebA's
group structure built from Fashion-MNIST, NOT CelebA) into a prediction store; the audit finds the
compression-identified exemplars (CIE), how protected groups (Male, Young and their intersections
with Blond_Hair) over-index among them, and per-group false positive / negative rates; the TFLite
export of every compressed variant is audited against its Keras source. Everything lands in
``--out_dir``: report.html (one self-contained page), tables/*.csv, figures/*.png, store/.
Re-running with the same ``--out_dir`` resumes. Presets: pie_tf/experiments_config/presets.py.
"""
import os

from absl import app, flags, logging

from pie_tf.experiments_config import CELEBA_BIAS, compose, define_flags, make_strategy, resolve

define_flags(CELEBA_BIAS, default_out_dir="runs/celeba_bias")
FLAGS = flags.FLAGS
EVAL_SET = "test"


def main(argv):
    del argv
    import pie_tf.data
    from pie_tf.population import Population
    from pie_tf.store import PredictionStore

    config = resolve(CELEBA_BIAS, FLAGS)
    logging.info("preset %s: %s", FLAGS.preset, config)

    # data: the label is the target attribute; protected attributes ride along with each example
    standin = config["dataset"] == "celeba_standin"
    options = {} if standin else {"target": config["target"], "protected": config["protected"]}
    info = pie_tf.data.info(config["dataset"], image_size=config["image_size"], **options)
    train = compose.load_split(config, "train", config["train_examples"], **options)
    evaluation = compose.load_split(config, config["eval_split"], config["eval_examples"],
                                    **options)
    as_float = pie_tf.data.to_float()

    # population -> store
    all_variants, audited, deployments = compose.variants(config)
    store = PredictionStore(os.path.join(FLAGS.out_dir, "store"))
    population = Population(
        compose.model_fn(config, info.image_shape, info.num_classes),
        pie_tf.data.preprocess(train, as_float),
        {EVAL_SET: pie_tf.data.preprocess(evaluation, as_float)},
        store=store, recipe=compose.recipe(config),
        seeds=range(config["seed"], config["seed"] + config["members"]), variants=all_variants,
        strategy=make_strategy(FLAGS.strategy, FLAGS.tpu))
    if not compose.run_population(population, FLAGS, logging.warning):
        return

    # audit (dense against every compressed variant; each TFLite export against its source)
    # and the report
    tables, report = compose.audit_and_report(
        store, EVAL_SET, evaluation, config, info, audited=audited, deployments=deployments,
        out_dir=FLAGS.out_dir, preset=FLAGS.preset,
        title=f"Bias of compressed models: {config['target']} on {config['dataset']} "
              f"({FLAGS.preset} preset)",
        protected=config["protected"], target_name=config["target"])
    print(compose.console_summary(tables, report))


if __name__ == "__main__":
    app.run(main)
