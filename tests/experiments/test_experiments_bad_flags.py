"""Every flag is checked before any data is read or member trained: a bad value is refused at
start, naming the flag and what is valid."""
import os
import subprocess
import sys

import pytest
from absl import flags

from pie_tf.errors import InvalidArgumentError
from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE
from pie_tf.experiments_config.checks import check_study
from pie_tf.experiments_config.flags import define_flags, make_strategy


def _flags(presets, tmp_path, *argv):
    fv = flags.FlagValues()
    define_flags(presets, default_out_dir=str(tmp_path / "run"), flag_values=fv)
    fv(["prog", "--preset=tiny", *argv])
    return fv


@pytest.mark.parametrize("presets, argv, match", [
    (CELEBA_BIAS, ["--protected=Nope"], r"`--protected`: \['Nope'\] are not attributes"),
    (CELEBA_BIAS, ["--target=Nope"], r"`--target` 'Nope' is not the target of celeba_standin"),
    (CELEBA_BIAS, ["--alpha=2"], r"`alpha` must be a number in \(0, 1\); got 2"),
    (CELEBA_BIAS, ["--n_bootstrap=-1"], "`n_bootstrap` must be a positive integer"),
    (CELEBA_BIAS, ["--members=0"], "`--members` must be an integer >= 1"),
    (CELEBA_BIAS, ["--sparsities=0.5,0.5"], "`--sparsities` holds a sparsity twice"),
    (CELEBA_BIAS, ["--shard=1-4"], "`--shard` must look like 'a/b'"),
    (CELEBA_BIAS, ["--model=resnet51"], "`--model` must be one of"),
    (CELEBA_BIAS, ["--shard=3/2"], r"`--shard` must be \(i, n\) with 0 <= i < n; got \(3, 2\)"),
    (CELEBA_BIAS, ["--member_range=5:2"],
     r"`--member_range` must be \(start, stop\) with 0 <= start <= stop; got \(5, 2\)"),
    (CELEBA_BIAS, ["--shard=0/2", "--member_range=0:3"],
     "give `--shard` or `--member_range`, not both"),
    (CELEBA_BIAS, ["--dataset=mnist"], "`--dataset`: unknown dataset 'mnist'; valid: "),
    (CELEBA_BIAS, ["--eval_examples=-1"], r"`--eval_examples` must be an integer >= 0 .*got -1"),
    (CELEBA_BIAS, ["--train_examples=-5"], r"`--train_examples` must be an integer >= 0"),
    (CELEBA_BIAS, ["--calibration_examples=0"], "`--calibration_examples` must be an integer >= 1"),
    (CELEBA_BIAS, ["--batch_size=0"], r"`--batch_size` must be a positive int; got 0"),
    (CELEBA_BIAS, ["--epochs=0"], r"`--epochs` must be a positive int; got 0"),
    (IMAGENET_PIE, ["--corruption_examples=-1"], r"`--corruption_examples` must be an integer"),
    (IMAGENET_PIE, ["--severities=3,9"], r"`--severities` must be distinct values of \(1, 2"),
    (IMAGENET_PIE, ["--corruption_source=nope"], "`--corruption_source` must be 'tfds'"),
    (IMAGENET_PIE, ["--corruptions=fogg"], r"`--corruptions`: \['fogg'\] are not ImageNet-C"),
    (IMAGENET_PIE, ["--preset=paper", "--severities=3"],
     "`--severities=3`: the audit normalises ImageNet corruption error by AlexNet"),
])
def test_bad_flag_is_refused_before_any_work(tmp_path, presets, argv, match):
    fv = _flags(presets, tmp_path, *argv)
    with pytest.raises(InvalidArgumentError, match=match):
        check_study(presets, fv)


def test_good_flags_pass_and_keep_their_values(tmp_path):
    for preset in ("paper", "quick", "tiny"):
        config, info = check_study(IMAGENET_PIE, _flags(IMAGENET_PIE, tmp_path,
                                                        f"--preset={preset}"))
    assert info.n_classes == 10 and config["audit"]["n_bootstrap"] >= 1
    config, info = check_study(CELEBA_BIAS, _flags(CELEBA_BIAS, tmp_path, "--members=3"))
    assert config["population"]["members"] == 3 and "Male" in info.attribute_names


def test_unwritable_or_file_out_dir_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(locked, 0o500)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: a file stands in
            locked = tmp_path / "a_file"
            locked.write_text("x")
        with pytest.raises(InvalidArgumentError, match="`--out_dir`"):
            check_study(CELEBA_BIAS, _flags(CELEBA_BIAS, tmp_path, f"--out_dir={locked}/run"))
    finally:
        os.chmod(tmp_path / "locked", 0o700)
    afile = tmp_path / "out.txt"
    afile.write_text("x")
    with pytest.raises(InvalidArgumentError, match="`--out_dir` .*out.txt' is a file"):
        check_study(CELEBA_BIAS, _flags(CELEBA_BIAS, tmp_path, f"--out_dir={afile}"))


def test_tpu_strategy_without_a_tpu_names_the_flag():
    with pytest.raises(InvalidArgumentError, match="`--strategy=tpu`: cannot reach a TPU"):
        make_strategy("tpu", "")


def test_script_with_an_unusable_out_dir_says_so_without_a_traceback(tmp_path):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run([sys.executable, "experiments/celeba_bias.py", "--preset=tiny",
                           f"--out_dir={afile}/run"], capture_output=True, text=True, cwd=root,
                          env=dict(os.environ, PYTHONPATH=root), timeout=300)
    assert done.returncode != 0
    assert f"error: `--out_dir` '{afile}/run' is not writable" in done.stderr
    assert "Traceback" not in done.stderr


def test_checking_the_paper_flags_does_not_start_tensorflows_runtime(tmp_path):
    # a multi-worker or TPU strategy can only be made before the runtime starts, and the flags
    # are checked before the strategy is made
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    code = (
        "import pathlib, sys\n"
        "from tensorflow.python.eager import context\n"
        "from pie_tf.experiments_config import CELEBA_BIAS, IMAGENET_PIE\n"
        "from pie_tf.experiments_config.checks import check_study\n"
        "from tests.experiments.test_experiments_bad_flags import _flags\n"
        "for presets in (CELEBA_BIAS, IMAGENET_PIE):\n"
        "    check_study(presets, _flags(presets, pathlib.Path(sys.argv[1]), '--preset=paper'))\n"
        "print('started:', context.context()._initialized)\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, cwd=root, env=dict(os.environ, PYTHONPATH=root), timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "started: False" in done.stdout
