"""The paper presets' store, filled with synthetic members, then audited from disk.

    python benchmarks/store_audit_scale.py                       # ImageNet shape, clean set only
    python benchmarks/store_audit_scale.py --members=30 --corrupted_sets=75 --dir=/big/disk

Shape of ``imagenet_pie.py --preset=paper``: 50,000 validation examples of 1,000 classes (stored
top-5, float16: the store's rule above 256 classes), a dense population and one per sparsity
(0.1, 0.3, 0.5, 0.7, 0.9), ``--members`` members each; ``--corrupted_sets`` ImageNet-C sets of the
same examples (the paper: 75). Members come from the same generator as benchmarks/audit_scale.py
(the dense family right 77% of the time; compression moves up to 10% of examples).

Printed: bytes on disk per member and set and in total, the time to write, and the audit's time
and peak memory (a fresh child process: ``Audit.from_store`` then every table the study writes),
so a user can size a disk and a machine for the audit.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout

import numpy as np  # noqa: E402

from benchmarks.audit_scale import SPARSITIES, synthetic_store  # noqa: E402


def probabilities(labels_row, n_classes, rng):
    """Softmax-like rows whose argmax is ``labels_row`` (what a member's model would output)."""
    logits = rng.standard_normal((len(labels_row), n_classes), dtype=np.float32)
    logits[np.arange(len(labels_row)), labels_row] += 6.0
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def fill(root, args):
    from pie_tf.store import PredictionStore
    store = PredictionStore(root)
    labels, dense, compressed = synthetic_store(args.examples, args.classes, args.members)
    ids = np.arange(args.examples)
    sets = ["validation"] + [f"corruption{k}@3" for k in range(args.corrupted_sets)]
    for k, name in enumerate(sets):
        info = {} if k == 0 else {"corruption": f"corruption{k}", "severity": 3}
        store.write_eval_set(name, ids, labels, n_classes=args.classes, info=info)
    rng = np.random.default_rng(1)
    populations = {"dense": dense, **compressed}
    start = time.perf_counter()
    for variant, members in populations.items():
        for seed, row in enumerate(members):
            probs = probabilities(row, args.classes, rng)
            store.write_member(variant, seed, {name: probs for name in sets}, recipe={})
    return time.perf_counter() - start, len(populations) * args.members


def audit(root, corrupted, queue):
    from pie_tf.audit import Audit
    from pie_tf.store import PredictionStore
    start = time.perf_counter()
    result = Audit.from_store(PredictionStore(root), "validation",
                              corruption_sets="auto" if corrupted else None)
    tables = result.to_frames()
    seconds = time.perf_counter() - start
    queue.put((seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               len(tables)))


def du(root):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(root)
               for f in files)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--corrupted_sets", type=int, default=0)
    parser.add_argument("--dir", default="", help="where the store is written (default: a "
                                                  "temporary folder, removed after)")
    args = parser.parse_args()
    root = os.path.join(args.dir or tempfile.mkdtemp(prefix="pie_tf_store_"), "store")
    try:
        write_s, n_members = fill(root, args)
        size = du(root)
        sets = 1 + args.corrupted_sets
        print(f"store: {n_members} members ({1 + len(SPARSITIES)} populations x {args.members}) "
              f"x {sets} evaluation sets of {args.examples:,} examples, {args.classes} classes")
        print(f"  on disk: {size / 1e9:.2f} GB ({size / n_members / sets / 1e6:.2f} MB per member "
              f"and set); written in {write_s:.0f} s")
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        child = context.Process(target=audit, args=(root, args.corrupted_sets > 0, queue))
        child.start()
        seconds, peak_mb, n_tables = queue.get()
        child.join()
        print(f"  audit from the store ({n_tables} tables): {seconds:.1f} s, peak memory "
              f"{peak_mb:,.0f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(os.path.dirname(root), ignore_errors=True)


if __name__ == "__main__":
    main()
