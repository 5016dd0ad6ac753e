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
from absl import app, flags

from pie_tf.experiments_config import CELEBA_BIAS, define_flags, pipeline

define_flags(CELEBA_BIAS, default_out_dir="runs/celeba_bias")
FLAGS = flags.FLAGS


def title(config, preset):
    data = config["data"]
    return f"Bias of compressed models: {data['target']} on {data['dataset']} ({preset} preset)"


if __name__ == "__main__":
    app.run(pipeline.study_main(CELEBA_BIAS, FLAGS, title=title))
