"""Wall time and CPU of one study run, and where the CPU goes.

Runs ``experiments/celeba_bias.py`` (or ``imagenet_pie.py``) in this process with the given flags,
timing the library calls that do the work: training from scratch, the pruning and QAT
fine-tunes, the TFLite conversions and the predictions of the evaluation sets. Prints one line
per phase (calls, process CPU seconds, wall seconds, share of the process's CPU) and the totals.
CPU is process time over all threads (the quick study on 2 idle cores: 530 CPU s in 438 s).

    python benchmarks/study_cost.py --out_dir=/tmp/quick              # the quick study
    python benchmarks/study_cost.py --study=imagenet_pie -- --members=2 --out_dir=/tmp/i

Start from an empty ``--out_dir`` (a resumed run trains nothing) on a machine with nothing else
running, or the wall time says more about the other jobs than about the study.
"""
from __future__ import annotations

import collections
import functools
import os
import runpy
import sys
import time

_PHASES = ("train_from_scratch", "fine_tune_pruned", "fine_tune_mitigated", "fine_tune_qat",
           "export", "predict_eval_set")
_STUDIES = ("celeba_bias", "imagenet_pie")


def _timed(module, name, totals):
    function = getattr(module, name)

    @functools.wraps(function)
    def timed(*args, **kwargs):
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            entry = totals[name]
            entry[0] += 1
            entry[1] += time.process_time() - cpu
            entry[2] += time.perf_counter() - wall

    setattr(module, name, timed)


def _report(totals, cpu0, wall0, stream):
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    stream.write("\nstudy_cost: phase                 calls    CPU s   wall s  share of CPU\n")
    for name in _PHASES:
        calls, c, w = totals.get(name, (0, 0.0, 0.0))
        if calls:
            stream.write(f"study_cost: {name:22s} {calls:6d} {c:8.1f} {w:8.1f}  {c / cpu:6.1%}\n")
    stream.write(f"study_cost: total (process)               {cpu:8.1f} {wall:8.1f}\n")
    stream.flush()


def main(argv):
    study = "celeba_bias"
    if argv and argv[0].startswith("--study="):
        study, argv = argv[0].split("=", 1)[1], argv[1:]
    if study not in _STUDIES:
        raise SystemExit(f"--study must be one of {_STUDIES}; got {study!r}.")
    if argv and argv[0] == "--":
        argv = argv[1:]
    wall0, cpu0 = time.perf_counter(), time.process_time()
    # TensorFlow is imported here, before the study sends its log aside: keep its banners short
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import pie_tf.population._train as train   # the calls the population makes

    totals = collections.defaultdict(lambda: [0, 0.0, 0.0])
    for name in _PHASES:
        _timed(train, name, totals)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "experiments",
                          f"{study}.py")
    sys.argv = [script] + list(argv)
    stderr = os.fdopen(os.dup(2), "w")   # the study sends fd 2 to its TensorFlow log
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise
    finally:
        _report(totals, cpu0, wall0, stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
