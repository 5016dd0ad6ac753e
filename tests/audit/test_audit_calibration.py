"""Expected calibration error and the reliability diagram's points, against plain loops."""
import numpy as np
import pytest

from pie_tf.audit import _calibration as calibration
from pie_tf.errors import InvalidArgumentError


def _loop_ece(probs, labels, n_bins):
    """Guo et al.'s ECE of one member, bins (lo, hi], by a loop over examples."""
    bins = [[] for _ in range(n_bins)]
    for p, y in zip(probs, labels):
        conf = max(p)
        pred = int(np.argmax(p))
        b = 0
        while b < n_bins - 1 and conf > (b + 1) / n_bins:
            b += 1
        bins[b].append((conf, pred == y))
    n = len(labels)
    ece = sum(len(items) / n * abs(np.mean([c for _, c in items]) - np.mean([f for f, _ in items]))
              for items in bins if items)
    conf = np.mean([max(p) for p in probs])
    acc = np.mean([int(np.argmax(p)) == y for p, y in zip(probs, labels)])
    return ece, conf - acc


def _probabilities(rng, n_members, n, n_classes, temperature):
    logits = rng.normal(size=(n_members, n, n_classes)) * temperature
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def test_ece_per_member_and_group_matches_a_loop():
    rng = np.random.default_rng(0)
    probs = _probabilities(rng, 3, 400, 3, 2.0)
    labels = rng.integers(0, 3, 400)
    male = rng.random(400) < 0.4
    by_member, summary = calibration.calibration(probs, labels, ["Male", "not Male"],
                                                 np.stack([male, ~male], 1), n_bins=7)
    for m in range(3):
        for group, mask in (("all", np.ones(400, bool)), ("Male", male), ("not Male", ~male)):
            row = by_member[(by_member["member"] == m) & (by_member["group"] == group)].iloc[0]
            ece, gap = _loop_ece(probs[m][mask], labels[mask], 7)
            assert row["ece"] == pytest.approx(ece)
            assert row["gap"] == pytest.approx(gap)
            assert row["n_bins"] == 7 and row["n_examples"] == mask.sum()
            assert abs(row["gap"]) <= row["ece"] + 1e-12
    all_row = summary.set_index("group").loc["all"]
    eces = by_member[by_member["group"] == "all"]["ece"]
    assert all_row["ece_mean"] == pytest.approx(eces.mean())
    assert all_row["ece_std"] == pytest.approx(eces.std(ddof=1))
    # Random logits against random labels: confident and right a third of the time.
    assert all_row["direction"] == "over-confident"


def test_under_confident_population_says_so():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 500)
    # Always right, with confidence 0.6: under-confident by 0.4 exactly.
    probs = np.where(np.eye(2)[labels][None] == 1, 0.6, 0.4).repeat(2, axis=0)
    by_member, summary = calibration.calibration(probs, labels, [], np.zeros((500, 0), bool))
    row = summary.iloc[0]
    assert row["direction"] == "under-confident"
    assert row["gap_mean"] == pytest.approx(-0.4) and row["ece_mean"] == pytest.approx(0.4)
    assert row["n_bins"] == calibration.DEFAULT_N_BINS


def test_empty_group_is_nan_with_a_status():
    probs = np.full((2, 4, 2), 0.5)
    _, summary = calibration.calibration(probs, np.array([0, 1, 0, 1]), ["none"],
                                         np.zeros((4, 1), bool))
    row = summary.set_index("group").loc["none"]
    assert np.isnan(row["ece_mean"]) and row["status"] == "empty group: no examples"
    assert row["direction"] == "undefined"
    with pytest.raises(InvalidArgumentError, match="`n_bins`"):
        calibration.calibration(probs, np.array([0, 1, 0, 1]), [], np.zeros((4, 0)), n_bins=0)


def test_reliability_pools_members_per_bin():
    rng = np.random.default_rng(2)
    probs = _probabilities(rng, 2, 300, 4, 1.5)
    labels = rng.integers(0, 4, 300)
    table = calibration.reliability(probs, labels, n_bins=5)
    conf = probs.max(-1).ravel()
    correct = (probs.argmax(-1) == labels[None]).ravel()
    for _, row in table.iterrows():
        lo, hi = row["bin_low"], row["bin_high"]
        in_bin = (conf > lo) & (conf <= hi) if row["bin"] > 0 else conf <= hi
        assert row["n"] == in_bin.sum()
        if in_bin.any():
            assert row["mean_confidence"] == pytest.approx(conf[in_bin].mean())
            assert row["accuracy"] == pytest.approx(correct[in_bin].mean())
        else:
            assert np.isnan(row["accuracy"])
    assert table["n"].sum() == conf.size
    # Bin edges: a confidence of exactly 0.4 belongs to (0.2, 0.4], not (0.4, 0.6].
    assert calibration.bin_index(np.array([0.0, 0.2, 0.4, 0.41, 1.0]), 5).tolist() == \
        [0, 0, 1, 2, 4]
