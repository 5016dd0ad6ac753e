"""The console: TensorFlow's log kept off the terminal, one progress display, findings last."""
import io
import os
import re
import subprocess
import sys
import textwrap
import warnings

import pytest

from pie_tf import console
from pie_tf.errors import InvalidArgumentError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Lines TensorFlow, absl and the TFLite converter write from C++ and Python (seen in a run's log).
TF_NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cpu_feature_guard|cuInit|"
                      r"Reading SavedModel|fingerprint|Sharding callback|tf_tfl_flatbuffer|"
                      r"XNNPACK|Assets written|untraced functions|Estimated count", re.M)


def _fake_clock(*times):
    return iter(times).__next__


def test_progress_line_says_done_elapsed_and_remaining():
    out = io.StringIO()
    with console.Progress(4, "population", stream=out,
                          clock=_fake_clock(0.0, 60.0, 200.0, 200.0)) as progress:
        progress.update("dense seed 0")           # 1 of 4 in 60 s: 3 x 60 s left
        progress.update("prune_ft@0.9 seed 0")    # 2 of 4 in 200 s: 2 x 100 s left
        assert progress.remaining() == pytest.approx(200.0)
    assert out.getvalue().splitlines() == [
        "population: 1/4 members, elapsed 01:00, about 03:00 left (dense seed 0)",
        "population: 2/4 members, elapsed 03:20, about 03:20 left (prune_ft@0.9 seed 0)"]


def test_remaining_time_takes_each_kinds_own_mean():
    # a population's seed group: a slow training, then three quick exports of it
    out = io.StringIO()
    with console.Progress(8, "population", stream=out, kinds={"dense": 2, "dense+tflite": 6},
                          clock=_fake_clock(0.0, 60.0, 63.0, 66.0)) as progress:
        progress.update("dense seed 0", kind="dense")
        assert progress.remaining(60.0) == pytest.approx(7 * 60.0)  # exports not seen yet
        progress.update("dense+tflite seed 0", kind="dense+tflite")
        progress.update("dense+tflite seed 0", kind="dense+tflite")
        # one training (60 s) and four exports (3 s) left, not 5 x the mean of 22 s
        assert progress.remaining(66.0) == pytest.approx(60.0 + 4 * 3.0)
    assert out.getvalue().splitlines()[-1] == \
        "population: 3/8 members, elapsed 01:06, about 01:12 left (dense+tflite seed 0)"
    with pytest.raises(InvalidArgumentError, match="`kinds` must map kinds"):
        console.Progress(2, "population", kinds={"dense": 3})


def test_progress_on_a_terminal_is_one_bar_redrawn_in_place():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with console.Progress(3, "population", stream=out) as progress:
        progress.write("population: 3 members planned")
        for seed in range(3):
            progress.update(f"dense seed {seed}")
    text = out.getvalue()
    assert "population: 3 members planned\n" in text
    assert text.count("\n") == 2  # the message, and the bar's last frame when it closes
    last = text.split("\r")[-1]
    assert re.fullmatch(r"population: 3/3 members \|#+\| elapsed 00:\d\d, about 00:00 left "
                        r"\(dense seed 2\)\n", last)


def test_progress_disabled_or_bad_total():
    out = io.StringIO()
    with console.Progress(2, "population", stream=out, enabled=False) as progress:
        progress.update("x")
        progress.write("y")
    assert out.getvalue() == "" and progress.done == 1
    with pytest.raises(InvalidArgumentError, match="`total`.*-1"):
        console.Progress(-1, "population")


def test_quiet_moves_fd_writes_to_the_log_and_keeps_pie_tf_lines(tmp_path, capfd):
    log = tmp_path / "logs" / "tensorflow.log"
    with console.quiet_tensorflow(log_path=str(log)) as path:
        assert path == str(log) and console.is_quiet()
        os.write(2, b"E0000 00:00:1.0 1 cuda_platform.cc:52] a C++ line on fd 2\n")
        os.write(1, b"Saved artifact at '/tmp/x'. (a C++ line on fd 1)\n")
        print("a Python print of another library")
        console.echo("pie_tf: a result")
        console.echo("pie_tf: a progress line", err=True)
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn_explicit("pie_tf's own warning", UserWarning,
                                   os.path.join(os.path.dirname(console.__file__), "x.py"), 1)
            warnings.warn_explicit("another library's warning", UserWarning, "/elsewhere.py", 1)
        with console.quiet_tensorflow(log_path=str(tmp_path / "other.log")) as inner:
            assert inner == str(log)  # nested: the outer one's file
    assert not console.is_quiet() and not (tmp_path / "other.log").exists()
    captured = capfd.readouterr()
    assert captured.out == "pie_tf: a result\n"
    assert captured.err == "pie_tf: a progress line\nwarning: pie_tf's own warning\n"
    kept = log.read_text()
    for line in ("a C++ line on fd 2", "a C++ line on fd 1", "a Python print of another library"):
        assert line in kept  # another library's warning went where warnings go (here: pytest's)
    assert "pie_tf: a result" not in kept
    # after the block, the descriptors are the terminal's again
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "after\n"


def test_quiet_disabled_leaves_the_descriptors(capfd):
    with console.quiet_tensorflow(enabled=False) as path:
        assert path is None and not console.is_quiet()
        os.write(2, b"a C++ line\n")
    assert capfd.readouterr().err == "a C++ line\n"


def test_a_failing_block_prints_the_logs_tail_and_a_pie_tf_error_does_not(capfd):
    with pytest.raises(RuntimeError, match="boom"):
        with console.quiet_tensorflow(tail_lines=2):
            os.write(2, b"line 1\nline 2\nF0000 op_kernel.cc] the reason\n")
            raise RuntimeError("boom")
    err = capfd.readouterr().err
    assert "last 2 lines" in err and "line 2\nF0000 op_kernel.cc] the reason" in err
    assert "line 1" not in err
    with pytest.raises(InvalidArgumentError):
        with console.quiet_tensorflow():
            os.write(2, b"noise\n")
            raise InvalidArgumentError("`x` must be 1")
    assert capfd.readouterr().err == ""


_SUBPROCESS = textwrap.dedent("""
    import sys
    from pie_tf import console

    quiet = sys.argv[1] == "quiet"
    with console.quiet_tensorflow(quiet, log_path=sys.argv[2]):
        import tensorflow as tf  # its start-up lines (device set-up) come from C++

        module = tf.Module()
        module.f = tf.function(lambda x: 2.0 * x, input_signature=[tf.TensorSpec([1])])
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [module.f.get_concrete_function()], module)
        converter.convert()  # the converter's C++ log: "Reading SavedModel from ..."
        console.echo("pie_tf: converted")
    # a library call on its own: Population.run keeps TensorFlow's lines off the terminal
    from tests.population import _tiny
    population = _tiny.population(sys.argv[3], variants=["dense", "dense+tflite_float32"],
                                  verbose=1)
    population.run(tf_logs=not quiet)
    print("done", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["quiet", "tf_logs"])
def test_tensorflow_cpp_lines_leave_fd2_unless_asked_for(tmp_path, mode):
    log = tmp_path / "tensorflow.log"
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="0", CUDA_VISIBLE_DEVICES="")
    done = subprocess.run([sys.executable, "-c", _SUBPROCESS, mode, str(log),
                           str(tmp_path / "store")], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    if mode == "quiet":
        assert done.stdout.splitlines() == ["pie_tf: converted", "done"]
    # the population's one display: members done, elapsed, remaining
    assert re.search(r"^population: 2/2 members, elapsed \d\d:\d\d, about 00:00 left "
                     r"\(dense\+tflite_float32 seed 0 written in \d+ s\)$", done.stderr, re.M)
    if mode == "quiet":
        assert not TF_NOISE.search(done.stderr), done.stderr
        assert "Reading SavedModel" in log.read_text()
    else:  # --tf_logs: TensorFlow's C++ lines are on fd 2 again, from the script and the call
        assert done.stderr.count("Reading SavedModel from") >= 2 and not log.exists()


@pytest.mark.slow
def test_a_study_prints_pie_tf_lines_only_and_ends_with_findings_and_the_report(tmp_path):
    from tests.experiments._study_run import run_script

    out = tmp_path / "study"
    done = run_script("celeba_bias.py", out, env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert not TF_NOISE.search(done.stdout) and not TF_NOISE.search(done.stderr), \
        (done.stdout, done.stderr)
    err = done.stderr.splitlines()
    assert err[0] == "Bias of compressed models: Blond_Hair on celeba_standin (tiny preset)"
    assert any(re.fullmatch(r"population: 6/6 members, elapsed \d\d:\d\d, about 00:00 left "
                            r"\(.* seed 1 written in \d+ s\)", line) for line in err)
    assert f"TensorFlow's own log of this run: {out / 'tensorflow.log'}" in done.stderr
    assert TF_NOISE.search((out / "tensorflow.log").read_text())
    lines = done.stdout.strip().splitlines()
    assert lines[-2:] == [f"Report: {out / 'report.html'}", f"Tables: {out / 'tables'}"]
    assert "Findings" in lines and "prune_ft@0.9:" in lines
    assert "Caveat: the data are celeba_standin, a stand-in" in done.stdout
