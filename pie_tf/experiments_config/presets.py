"""Declarative presets of the two studies.

A preset is a nested dict of plain values (like a big_vision config), one section per stage of
the study:

``data``
    The dataset and how much of it (``dataset``, ``data_dir``, ``image_size``,
    ``train_examples``; CelebA: ``target``, ``protected``).
``model``
    The architecture (``model``) and that architecture's own options only (``resnet_depth`` and
    ``resnet_width`` belong to ``small_resnet``; a ResNet-50 preset carries neither).
``population``
    Members, the training recipe and the variants (sparsities, pruning, QAT, TFLite).
``evaluations``
    The evaluation sets, each an entry ``name: {"type": ..., options}`` whose ``type`` picks its
    evaluator in :mod:`pie_tf.experiments_config.evaluations` (``clean``, ``corrupted``,
    ``imagenet_a``), as big_vision's evaluators are picked.
``audit``, ``report``
    Options of the audit and of the report.

plus ``seed`` at the top (member k trains with seed + k; the bootstrap and the corruptions are
seeded with it too). The experiment scripts read a preset and compose the library; they add no
logic of their own.

Every leaf key is also a command-line flag of its script, under the same name
(``--members=5``, ``--sparsities=0.5,0.9``, ``--resnet_depth=14``), so any preset value can be
overridden; an evaluation with no options (``imagenet_a``) is switched on or off by a boolean
flag of its name. :func:`pie_tf.experiments_config.get` applies such overrides.

``paper`` is the published setup (Hooker et al. 2019, 2020), for a user with the data sets and
accelerators; ``quick`` is the offline default that runs here in minutes on stand-in data;
``tiny`` is for smoke tests (seconds).

Where the papers are silent the value is marked "ours".
"""
from __future__ import annotations

import copy

__all__ = ["CELEBA_BIAS", "IMAGENET_PIE", "SECTIONS"]

SECTIONS = ("data", "model", "population", "evaluations", "audit", "report")


def _derive(base, **changes):
    """A copy of preset ``base`` with ``changes`` merged in, section by section.

    A section given as a dict is merged key by key (nested dicts too); a value of None removes
    the key; ``model`` is replaced whole (another architecture has other options).
    """
    derived = copy.deepcopy(base)
    for key, value in changes.items():
        if key == "model" or not isinstance(value, dict):
            derived[key] = copy.deepcopy(value)
        else:
            derived[key] = _merge(derived.get(key, {}), value)
    return derived


def _merge(section, changes):
    merged = copy.deepcopy(section)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


# ----------------------------------------------------------------------------------------------
# Characterising Bias in Compressed Models (Hooker, Moorosi, Clark, Bengio, Denton 2020)
# ----------------------------------------------------------------------------------------------
_CELEBA_PAPER = dict(
    data=dict(
        dataset="celeb_a",            # tfds celeb_a (prepare it by hand: see docs/data.md)
        data_dir="",                  # tfds data dir ("" = tfds default)
        target="Blond_Hair",          # the paper's target attribute
        protected=["Male", "Young"],  # the paper's protected attributes (and intersections)
        image_size=224,               # ours: ResNet-18's ImageNet input size
        train_examples=0,             # 0 = the whole split (162,770 images)
    ),
    model=dict(model="resnet18"),     # the paper's architecture
    population=dict(
        members=30,                   # the paper's population size per variant
        keras=2,                      # the Keras members are built with: 2 (tf_keras) or 3
                                      # (Keras 3; no QAT/mitigated variants, they need tfmot)
        epochs=10,                    # ours (the paper does not state its schedule in the text)
        batch_size=256,               # ours
        learning_rate=0.1,            # ours: SGD momentum 0.9, cosine decay
        learning_rate_batch=256,      # both learning rates are for this batch size; another
                                      # --batch_size scales them linearly (Goyal et al. 2017)
        sparsities=[0.3, 0.5, 0.7, 0.9, 0.95, 0.99],  # the paper's pruning levels
        prune_mode="during_training",  # the paper prunes during training (Zhu & Gupta schedule)
        prune_end=0.8,                # ours: the sparsity ramp ends at 80% of the (pruning) run
        mitigations=[],               # ours: kd, rw, gw add prune_<m>@S beside prune_ft@S
        distill_temperature=4.0,      # ours (kd): softening of teacher and student
        distill_weight=0.5,           # ours (kd): share of the soft term
        performance_min_weight=0.3,   # Meyer & Wong's CelebA value (rw)
        performance_gamma=1.0,        # Meyer & Wong's CelebA value (rw)
        group_weight_power=1.0,       # Kamiran & Calders' reweighing, untempered (gw)
        fine_tune_epochs=2,           # ours: fine-tuning of pruned (prune_mode=fine_tune) and QAT
        fine_tune_learning_rate=0.01,  # ours
        qat_epochs=0,                 # ours: QAT fine-tuning epochs (0 = fine_tune_epochs)
        qat=True,                     # quantization-aware training (int8) of each dense member
        post_training=["dynamic", "int8"],  # the paper's post-training quantization of dense
        calibration_examples=100,     # the paper calibrates int8 on the first 100 train images
        deploy_mode="int8",           # TFLite export of every compressed variant ("" = none)
        jit_compile=True,             # ours: XLA training steps (QAT members train without)
        mixed_precision="auto",       # ours: mixed_float16 on GPU, mixed_bfloat16 on TPU,
        #                               float32 otherwise
        deterministic=False,          # XLA has no deterministic MaxPool gradient: seeded only
    ),
    evaluations=dict(
        # CelebA's official test split (19,962 images); 0 examples = the whole split
        clean=dict(type="clean", eval_split="test", eval_examples=0),
    ),
    audit=dict(
        n_bootstrap=1000,             # over-index confidence intervals
        alpha=0.05,                   # significance level of the class tests (the paper's)
    ),
    report=dict(exemplars=24),        # images in each exemplar grid of the report
    seed=0,                           # base seed: member k trains with seed + k
)
# The quick presets of both studies: one small model and one CPU recipe, so that the two quick
# studies differ only in their data. Measured on a shared 2-core CPU (see README.md).
_QUICK_MODEL = dict(model="small_resnet", resnet_depth=8, resnet_width=8)  # 20k parameters
_QUICK_POPULATION = dict(
    epochs=3,
    batch_size=64,
    learning_rate=0.05,
    learning_rate_batch=64,
    # Pruned by fine-tuning each seed's dense member (the cheaper route here). One epoch of
    # fine-tuning left the 20k-parameter ResNet at the majority class at 90% sparsity; three
    # (the ramp ends half way, the rest recovers) keep it within a few points of dense, as the
    # paper's ResNet-18 is (measured: README.md).
    sparsities=[0.5, 0.8, 0.9],
    prune_mode="fine_tune",
    prune_end=0.5,
    fine_tune_epochs=3,
    fine_tune_learning_rate=0.05,
    qat_epochs=1,                     # QAT runs op by op: one epoch recovers int8 here
    post_training=["int8"],
    jit_compile=False,                # the quick figures were measured without XLA
    mixed_precision="float32",
    deterministic=True,               # op determinism: a rerun gives the same numbers
)
_CELEBA_QUICK = _derive(
    _CELEBA_PAPER,
    # offline stand-in with CelebA's group structure (not CelebA)
    data=dict(dataset="celeba_standin", image_size=32, train_examples=5000),
    model=_QUICK_MODEL,
    population=dict(members=5, **_QUICK_POPULATION),
    # 5,000 test images: the rare group Blond and Male has ~40 of them, not ~17
    evaluations=dict(clean=dict(eval_split="test", eval_examples=5000)),
    audit=dict(n_bootstrap=500),
)
_CELEBA_TINY = _derive(
    _CELEBA_QUICK,
    data=dict(train_examples=192),
    model=_CELEBA_QUICK["model"],
    population=dict(
        members=2,                    # the fewest for which the class t-tests are defined
        epochs=1,
        batch_size=64,
        sparsities=[0.9],
        fine_tune_epochs=1,
        qat=False,                    # tiny: one compressed variant and its TFLite export only
        post_training=[],
    ),
    evaluations=dict(clean=dict(eval_examples=128)),
    audit=dict(n_bootstrap=50),
    report=dict(exemplars=6),
)
CELEBA_BIAS = {"paper": _CELEBA_PAPER, "quick": _CELEBA_QUICK, "tiny": _CELEBA_TINY}

# ----------------------------------------------------------------------------------------------
# What Do Compressed Deep Neural Networks Forget? (Hooker, Courville, Clark, Dauphin, Frome 2019)
# ----------------------------------------------------------------------------------------------
_IMAGENET_C = ["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur",
               "motion_blur", "zoom_blur", "snow", "frost", "fog", "brightness", "contrast",
               "elastic_transform", "pixelate", "jpeg_compression"]
_IMAGENET_PAPER = dict(
    data=dict(
        dataset="imagenet2012",       # tfds imagenet2012 (manual download: see docs/data.md)
        data_dir="",
        image_size=224,               # the standard ResNet crops (pie_tf.data.resnet_train/eval)
        train_examples=0,
    ),
    model=dict(model="resnet50"),     # the paper's architecture
    population=dict(
        members=30,                   # the paper's population size per sparsity
        keras=2,                      # the Keras members are built with: 2 (tf_keras) or 3
                                      # (Keras 3; no QAT/mitigated variants, they need tfmot)
        epochs=90,                    # ours: the standard ResNet-50 schedule
        batch_size=1024,              # ours
        learning_rate=0.4,            # ours: SGD momentum 0.9, cosine decay (0.1 per 256)
        learning_rate_batch=1024,     # linear scaling for another --batch_size (Goyal et al.)
        sparsities=[0.1, 0.3, 0.5, 0.7, 0.9],  # the paper's pruning levels
        prune_mode="during_training",  # the paper prunes during training
        prune_end=0.8,                # ours
        mitigations=[],               # ours: kd, rw add prune_<m>@S beside prune_ft@S
        distill_temperature=4.0,      # ours (kd)
        distill_weight=0.5,           # ours (kd)
        performance_min_weight=0.3,   # Meyer & Wong's CelebA value (rw)
        performance_gamma=1.0,        # Meyer & Wong's CelebA value (rw)
        fine_tune_epochs=5,
        fine_tune_learning_rate=0.01,
        qat_epochs=0,                 # ours: QAT fine-tuning epochs (0 = fine_tune_epochs)
        qat=False,                    # the PIE paper's populations are pruned ones
        post_training=[],             # the paper's quantization study (float16/dynamic/int8)
        calibration_examples=100,
        deploy_mode="int8",
        jit_compile=True,             # ours: XLA training steps
        mixed_precision="auto",       # ours: mixed_float16 on GPU, mixed_bfloat16 on TPU,
        #                               float32 otherwise
        deterministic=False,          # XLA has no deterministic MaxPool gradient: seeded only
    ),
    evaluations=dict(
        clean=dict(type="clean", eval_split="validation",  # the 50,000 validation images
                   eval_examples=0),
        corrupted=dict(
            type="corrupted",
            corruption_source="tfds",  # imagenet2012_corrupted from tfds (the published ImageNet-C)
            corruptions=_IMAGENET_C,   # the 15 ImageNet-C corruptions
            severities=[1, 2, 3, 4, 5],
            corruption_examples=0,     # 0 = the whole evaluation set, corrupted
            cache_corrupted=False,     # keep corrupted sets in memory (small sets only)
            deploy_corrupted=False,    # ours: TFLite exports predict on the clean set and
                                       # ImageNet-A only (the deployment audit's sets)
        ),
        imagenet_a=dict(type="imagenet_a"),  # ImageNet-A, logits restricted to its 200 classes
    ),
    audit=dict(n_bootstrap=1000, alpha=0.05),  # no attributes: no over-index intervals drawn
    report=dict(exemplars=24),
    seed=0,
)
_IMAGENET_QUICK = _derive(
    _IMAGENET_PAPER,
    data=dict(
        dataset="fashion_mnist",      # offline: Debian's Fashion-MNIST files
        image_size=32,                # ours: 28 -> 32, the size CIFAR-10-C's parameters are for
        train_examples=8000,
    ),
    model=_QUICK_MODEL,
    population=dict(members=4, **_QUICK_POPULATION),
    evaluations=dict(
        clean=dict(eval_split="test", eval_examples=2000),
        corrupted=dict(
            corruption_source="pie_tf",  # pie_tf.corruptions on the clean evaluation set
            corruptions=["gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur",
                         "motion_blur", "zoom_blur", "snow", "fog", "brightness", "contrast",
                         "elastic_transform", "pixelate", "jpeg_compression"],
            severities=[1, 3, 5],
            corruption_examples=500,  # ours: the first 500 test images, under each corruption
            cache_corrupted=True,     # corrupt once, not once per member
        ),
        imagenet_a=None,              # no ImageNet-A offline
    ),
)
_IMAGENET_TINY = _derive(
    _IMAGENET_QUICK,
    data=dict(train_examples=192),
    model=_IMAGENET_QUICK["model"],
    population=dict(
        members=2,
        epochs=1,
        sparsities=[0.9],
        fine_tune_epochs=1,
        post_training=[],
        deploy_mode="",               # tiny: TFLite deployment is exercised by celeba_bias's tiny
    ),
    evaluations=dict(
        clean=dict(eval_examples=128),
        corrupted=dict(corruptions=["gaussian_noise", "fog"], severities=[3],
                       corruption_examples=64),
    ),
    report=dict(exemplars=6),
)
IMAGENET_PIE = {"paper": _IMAGENET_PAPER, "quick": _IMAGENET_QUICK, "tiny": _IMAGENET_TINY}
