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
from absl import app, flags

from pie_tf.experiments_config import IMAGENET_PIE, define_flags, pipeline

define_flags(IMAGENET_PIE, default_out_dir="runs/imagenet_pie")
FLAGS = flags.FLAGS


def title(config, preset):
    return f"What compressed models forget: {config['data']['dataset']} ({preset} preset)"


if __name__ == "__main__":
    app.run(pipeline.study_main(IMAGENET_PIE, FLAGS, title=title))
