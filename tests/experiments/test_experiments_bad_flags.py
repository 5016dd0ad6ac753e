"""Every flag is checked before any data is read or member trained: a bad value is refused at
start, naming the flag and what is valid."""
import os

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
    (CELEBA_BIAS, ["--sparsities=0.5,0.5"], "`sparsities` holds a sparsity twice"),
    (CELEBA_BIAS, ["--shard=1-4"], "`--shard` must look like 'a/b'"),
    (CELEBA_BIAS, ["--model=resnet51"], "`--model` must be one of"),
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
