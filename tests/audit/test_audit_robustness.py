"""Corruption error, mCE and ImageNet-A accuracy against hand-written formulas."""
import numpy as np
import pytest

from pie_tf.audit._robustness import (ALEXNET_CLEAN_ERROR, ALEXNET_MEAN_ERRORS, corruption_error,
                                     corruption_errors, imagenet_a_accuracy, restricted_accuracy)


def _noisy(rng, labels, members, accuracy, n_classes=10):
    keep = rng.random((members, labels.size)) < accuracy
    return np.where(keep, labels, (labels + 1 + rng.integers(0, n_classes - 1, keep.shape))
                    % n_classes)


def test_alexnet_normalised_ce_by_hand():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 300)
    names = ["gaussian_noise", "fog", "speckle_noise"]  # the last has no AlexNet figure
    preds = {(c, s): _noisy(rng, labels, 3, 0.9 - 0.1 * s) for c in names for s in range(1, 6)}
    errors = corruption_errors(preds, labels)
    clean = np.array([0.2, 0.25, 0.3])
    by_c, by_m = corruption_error(errors, clean, reference="alexnet")
    for m in range(3):
        ces, rels = [], []
        for c in names[:2]:
            err = [np.mean(preds[(c, s)][m] != labels) for s in range(1, 6)]
            ce = sum(err) / (5 * ALEXNET_MEAN_ERRORS[c])
            rel = sum(e - clean[m] for e in err) / (5 * (ALEXNET_MEAN_ERRORS[c]
                                                         - ALEXNET_CLEAN_ERROR))
            row = by_c[(by_c["corruption"] == c) & (by_c["member"] == m)].iloc[0]
            assert row["ce"] == pytest.approx(ce) and row["relative_ce"] == pytest.approx(rel)
            assert row["error"] == pytest.approx(np.mean(err))
            ces.append(ce)
            rels.append(rel)
        speckle = by_c[(by_c["corruption"] == "speckle_noise") & (by_c["member"] == m)].iloc[0]
        assert np.isnan(speckle["ce"])
        assert by_m.loc[m, "mce"] == pytest.approx(np.mean(ces))
        assert by_m.loc[m, "relative_mce"] == pytest.approx(np.mean(rels))
        assert by_m.loc[m, "n_corruptions"] == 2
    partial = {("fog", 1): preds[("fog", 1)]}
    with pytest.raises(ValueError, match="five|severities"):
        corruption_error(corruption_errors(partial, labels), clean, reference="alexnet")


def test_population_normalised_ce_by_hand():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 200)
    keys = [("blur", 1), ("blur", 3), ("noise", 2)]
    dense = {k: _noisy(rng, labels, 4, 0.8) for k in keys}
    pruned = {k: _noisy(rng, labels, 2, 0.6) for k in keys}
    dense_err, pruned_err = corruption_errors(dense, labels), corruption_errors(pruned, labels)
    dense_clean = 0.15
    by_c, by_m = corruption_error(pruned_err, np.array([0.3, 0.35]), reference="population",
                                  reference_errors=dense_err, reference_clean_error=dense_clean)
    for m in range(2):
        ces = []
        for c, sevs in (("blur", (1, 3)), ("noise", (2,))):
            ref = sum(np.mean([np.mean(dense[(c, s)][d] != labels) for d in range(4)])
                      for s in sevs)
            mine = sum(np.mean(pruned[(c, s)][m] != labels) for s in sevs)
            row = by_c[(by_c["corruption"] == c) & (by_c["member"] == m)].iloc[0]
            assert row["ce"] == pytest.approx(mine / ref)
            clean = [0.3, 0.35][m]
            assert row["relative_ce"] == pytest.approx(
                (mine - len(sevs) * clean) / (ref - len(sevs) * dense_clean))
            ces.append(mine / ref)
        assert by_m.loc[m, "mce"] == pytest.approx(np.mean(ces))
    with pytest.raises(ValueError, match="reference_errors"):
        corruption_error(pruned_err, np.zeros(2), reference="population")
    with pytest.raises(ValueError, match="reference"):
        corruption_error(pruned_err, np.zeros(2), reference="resnet")
    with pytest.raises(TypeError, match="severity"):
        corruption_errors({"blur": dense[("blur", 1)]}, labels)


def test_imagenet_a_restricts_the_argmax_to_the_subset():
    rng = np.random.default_rng(2)
    classes = np.sort(rng.choice(1000, 200, replace=False))
    labels = rng.choice(classes, 50)
    scores = rng.normal(size=(3, 50, 1000)).astype(np.float32)
    scores[0, np.arange(50), labels] += 2.0
    outside = np.setdiff1d(np.arange(1000), classes)
    scores[:, :, outside[0]] = 100.0  # the unrestricted argmax would always be wrong
    expected = []
    for m in range(3):
        hits = 0
        for i in range(50):
            best = max(classes, key=lambda c: scores[m, i, c])
            hits += best == labels[i]
        expected.append(hits / 50)
    np.testing.assert_allclose(imagenet_a_accuracy(scores, labels, classes), expected)
    restricted = classes[scores[:, :, classes].argmax(-1)]
    np.testing.assert_allclose(restricted_accuracy(restricted, labels, classes), expected)
    with pytest.raises(ValueError, match="outside"):
        imagenet_a_accuracy(scores, np.full(50, outside[0]), classes)
    with pytest.raises(ValueError, match="outside"):
        restricted_accuracy(np.full((1, 50), outside[0]), labels, classes)
    bad = scores.copy()
    bad[1, 2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        imagenet_a_accuracy(bad, labels, classes)
