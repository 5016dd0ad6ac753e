"""Audit at ImageNet scale: the vectorised Audit against a pandas groupby-mode implementation.

Synthetic store: 50,000 examples, 1000 classes, a dense population and one population per
sparsity (0.1, 0.3, 0.5, 0.7, 0.9), 30 members each, int16 labels. Every example has a "true"
prediction of the dense model family (right with probability 0.77, as ResNet-50's top-1);
each member reproduces it with probability 0.90 (dense) down to 0.75 (sparsity 0.9) and
otherwise picks one of three per-example confusable classes or, rarely, any class. Compression
also moves the family prediction of a growing share of examples (0.5% .. 10% at 0.9, where the
paper finds ~10% PIEs), so PIEs, ties and absent votes all occur.

Timed: the whole audit of the issue -- PIE/CIE (modes, per-example table, summary), class
impact (per-class recall, Welch t-tests, BH) and label loyalty for 5 variants -- from arrays to
DataFrames. The baseline does the same with the reference code's approach (pandas mode per
example through groupby, ties to the highest label; recall through groupby; one scipy t-test
per class) and both results are checked to agree.

Run:  OMP_NUM_THREADS=2 python benchmarks/audit_scale.py [--pandas-examples N]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # this checkout
import pie_tf  # noqa: E402

SPARSITIES = (0.1, 0.3, 0.5, 0.7, 0.9)
AGREEMENT = {0.0: 0.90, 0.1: 0.89, 0.3: 0.87, 0.5: 0.85, 0.7: 0.81, 0.9: 0.75}
MOVED = {0.1: 0.005, 0.3: 0.01, 0.5: 0.02, 0.7: 0.04, 0.9: 0.10}


def synthetic_store(n_examples, n_classes, n_members, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_examples).astype(np.int16)
    confusable = rng.integers(0, n_classes, (n_examples, 3)).astype(np.int16)
    family = np.where(rng.random(n_examples) < 0.77, labels, confusable[:, 0])

    def population(target, agreement):
        agree = rng.random((n_members, n_examples)) < agreement
        pick = confusable[np.arange(n_examples), rng.integers(0, 3, (n_members, n_examples))]
        wild = rng.random((n_members, n_examples)) < 0.1
        other = np.where(wild, rng.integers(0, n_classes, (n_members, n_examples)), pick)
        return np.where(agree, target, other).astype(np.int16)

    dense = population(family, AGREEMENT[0.0])
    # Compression moves hard examples (where the family is already wrong) five times as often
    # as easy ones, so dense accuracy on PIEs falls well below its overall accuracy, as in the
    # paper (about 40% against 77% at 90% sparsity).
    hard = family != labels
    weight = np.where(hard, 5.0, 1.0) / np.where(hard, 5.0, 1.0).mean()
    compressed = {}
    for s in SPARSITIES:
        moved = rng.random(n_examples) < MOVED[s] * weight
        target = np.where(moved, confusable[:, 1], family)
        compressed[f"prune@{s}"] = population(target, AGREEMENT[s])
    return labels, dense, compressed


def run_audit(labels, dense, compressed, n_classes):
    result = pie_tf.audit(dense, compressed, labels, n_classes=n_classes, tie_break="highest")
    tables = {name: getattr(result, name) for name in
              ("pie", "pie_summary", "class_impact", "class_impact_summary", "loyalty")}
    return result, tables


def pandas_mode(predictions):
    """The reference code's approach: pandas mode per example, highest label on ties."""
    n_members, n_examples = predictions.shape
    long = pd.DataFrame({"example": np.tile(np.arange(n_examples), n_members),
                         "label": predictions.ravel()})
    return long.groupby("example")["label"].agg(lambda s: s.mode().iloc[-1]).to_numpy()


def pandas_audit(labels, dense, compressed, n_classes):
    """PIE, class impact and label loyalty the way the reference code computes them."""
    modes = {"dense": pandas_mode(dense)}
    modes.update({k: pandas_mode(v) for k, v in compressed.items()})
    frame = pd.DataFrame({"label": labels})

    def recall(predictions):
        out = []
        for row in predictions:
            correct = pd.Series(row == labels).groupby(frame["label"]).mean()
            out.append(correct.reindex(range(n_classes)).to_numpy())
        return np.array(out), (predictions == labels).mean(axis=1).mean()

    dense_recall, dense_top1 = recall(dense)
    results = {}
    for name, preds in compressed.items():
        pie = modes["dense"] != modes[name]
        comp_recall, comp_top1 = recall(preds)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # near-constant classes
            p = np.array([stats.ttest_ind(dense_recall[:, c] - dense_top1,
                                          comp_recall[:, c] - comp_top1,
                                          equal_var=False).pvalue
                          for c in range(n_classes)])
        loyalty = (preds == modes["dense"]).mean(axis=1)
        results[name] = (pie, p, loyalty)
    return modes, results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=50_000)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--members", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pandas-examples", type=int, default=None,
                        help="time the pandas baseline on the first N examples and extrapolate "
                             "linearly (default: the full set)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    labels, dense, compressed = synthetic_store(args.examples, args.classes, args.members)
    print(f"synthetic store: {args.examples} examples x {args.classes} classes, "
          f"{args.members} dense + {len(compressed)} x {args.members} compressed members "
          f"(int16), built in {time.perf_counter() - t0:.1f} s")

    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        result, tables = run_audit(labels, dense, compressed, args.classes)
        times.append(time.perf_counter() - t0)
    ours = min(times)
    print(f"pie_tf Audit (PIE table + summary, class impact, loyalty; 5 variants): "
          f"best {ours:.2f} s, runs {', '.join(f'{t:.2f}' for t in times)} s")
    print(tables["pie_summary"][["variant", "n_cie", "cie_fraction", "dense_accuracy_cie",
                                 "dense_accuracy_all"]].to_string(index=False))
    print(tables["class_impact_summary"][["variant", "n_significant", "n_significant_fdr",
                                          "dense_top1", "compressed_top1"]]
          .to_string(index=False))

    n = args.pandas_examples or args.examples
    t0 = time.perf_counter()
    modes, baseline = pandas_audit(labels[:n], dense[:, :n],
                                   {k: v[:, :n] for k, v in compressed.items()}, args.classes)
    theirs = (time.perf_counter() - t0) * args.examples / n
    label = "measured" if n == args.examples else f"extrapolated from {n} examples"
    print(f"pandas groupby-mode baseline: {theirs:.1f} s ({label})")
    np.testing.assert_array_equal(modes["dense"], result.modes["dense"][:n])
    if n == args.examples:
        impact = tables["class_impact"]
        for name, (pie, p, loyalty) in baseline.items():
            np.testing.assert_array_equal(pie, result.pie_mask(name))
            mine = impact[impact["variant"] == name]["p_value"].to_numpy()
            np.testing.assert_allclose(mine, p, rtol=1e-8, equal_nan=True)
            by_member = result.loyalty_by_member
            np.testing.assert_allclose(
                by_member[by_member["population"] == name]["label_loyalty"], loyalty)
        print("baseline and Audit agree (modes, PIE masks, p-values, label loyalty)")
    print(f"speed-up: {theirs / ours:.0f}x")


if __name__ == "__main__":
    main()
