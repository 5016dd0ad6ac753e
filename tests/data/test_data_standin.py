"""celeba_standin: CelebA's (Blond_Hair, Male, Young) proportions on real Fashion-MNIST images."""
import numpy as np
import pandas as pd
import pytest

import pie_tf.data as pdata
from pie_tf.data import fashion_mnist as fm
from pie_tf.data import standin

# Debian's dataset-fashion-mnist is installed by scripts/setup.sh: a missing copy fails, not skips.
assert fm.find_idx_dir() is not None, "install Debian's dataset-fashion-mnist (scripts/setup.sh)"

# Hooker et al. 2020, CelebA training shares (REFERENCES.md).
PAPER = {"Blond": 0.149, "Male": 0.417, "Young": 0.779, "Blond&Male": 0.0085,
         "Blond&~Male": 0.140}


@pytest.fixture(scope="module")
def train():
    return standin.standin_arrays("train", seed=0)


def test_train_proportions_follow_celeba(train):
    frame = pd.DataFrame({"Blond": train["label"] == 1, "Male": train["Male"],
                          "Young": train["Young"]})
    n = len(frame)
    got = {"Blond": frame.Blond.mean(), "Male": frame.Male.mean(), "Young": frame.Young.mean(),
           "Blond&Male": (frame.Blond & frame.Male).mean(),
           "Blond&~Male": (frame.Blond & ~frame.Male).mean()}
    # (label, Male) cells are n * share rounded by largest remainder (within one example), then
    # split by Young (final cells within 1.5 examples), so any marginal is within 4 / n. The paper
    # rounds Blond∧not-Male to 14.0% (the table: 14.9 - 0.85 = 14.05%), hence the extra 0.0005.
    tol = 4 / n + 1e-12
    for key, want in PAPER.items():
        extra = 0.0005 if key == "Blond&~Male" else 0.0
        assert abs(got[key] - want) <= tol + extra, (key, got[key], want)
    # All 8 cells against the documented table, computed independently with pandas.
    cells = frame.value_counts(["Blond", "Male", "Young"], normalize=False)
    for (b, m, y), share in standin.CELEBA_TRAIN_JOINT.items():
        assert abs(cells.get((bool(b), bool(m), bool(y)), 0) - n * share) <= 1.5
    assert cells[(True, True, True)] + cells[(True, True, False)] == round(n * 0.0085)


def test_small_splits_keep_the_rare_group(train):
    small = standin.standin_arrays("test", seed=3, test_size=2000)
    rare = np.sum((small["label"] == 1) & small["Male"])
    assert rare == 17  # 2000 * 0.85%, exactly, not a Bernoulli draw that could give 0
    assert abs(small["Young"].mean() - 0.779) <= 4 / 2000


def test_label_is_the_garment_group_and_splits_are_disjoint(train):
    positive = np.isin(train["source_class"], standin.DEFAULT_POSITIVE_CLASSES)
    np.testing.assert_array_equal(train["label"], positive.astype(np.int64))
    _, labels = fm.fashion_mnist_arrays("train")
    np.testing.assert_array_equal(train["source_class"], labels[train["source_index"]])
    val = standin.standin_arrays("validation", seed=0)
    assert len(np.unique(train["source_index"])) == len(train["source_index"])
    assert not set(train["source_index"]) & set(val["source_index"])
    # Changing other splits' sizes leaves train as it was.
    again = standin.standin_arrays("train", seed=0, validation_size=10, test_size=10)
    np.testing.assert_array_equal(again["image"], train["image"])


def test_deterministic_per_seed(train):
    same = standin.standin_arrays("train", seed=0)
    for key in ("image", "label", "Male", "Young", "id"):
        np.testing.assert_array_equal(same[key], train[key])
    other = standin.standin_arrays("train", seed=1)
    assert not np.array_equal(other["source_index"], train["source_index"])
    assert other["id"][0].startswith("seed1-") and other["id"][0].endswith("/train/000000")
    assert not set(other["id"]) & set(train["id"])          # other data, other ids
    resized = standin.standin_arrays("train", seed=0, image_size=28)
    np.testing.assert_array_equal(resized["id"], train["id"])   # same examples, same ids
    smaller = standin.standin_arrays("train", seed=0, train_size=100)
    assert not set(smaller["id"]) & set(train["id"])


def test_attributes_are_visible_in_the_pixels(train):
    image = train["image"][..., 0].astype(np.float64)
    margin = 2
    # A threshold on the mean of the top / bottom frame recovers Male / Young exactly, and the
    # garment never reaches into the frame.
    np.testing.assert_array_equal(image[:, :margin].mean(axis=(1, 2)) > 96, train["Male"])
    np.testing.assert_array_equal(image[:, -margin:].mean(axis=(1, 2)) > 96, train["Young"])
    assert image[:, margin:-margin, :margin].max() == 0
    assert image[:, margin:-margin, -margin:].max() == 0
    # ...and the garment itself is a real Fashion-MNIST image.
    fm_images, _ = fm.fashion_mnist_arrays("train")
    np.testing.assert_array_equal(train["image"][:5, 2:30, 2:30, 0],
                                  fm_images[train["source_index"][:5]])


def test_dataset_schema_sizes_and_options():
    ds = pdata.load("celeba_standin", "train", seed=0, train_size=300, image_size=28, channels=3)
    batch = next(iter(ds.batch(300)))
    assert batch["image"].shape == (300, 28, 28, 3) and batch["image"].dtype == np.uint8
    assert set(batch["attributes"]) == {"Male", "Young"}
    assert batch["attributes"]["Male"].dtype == np.bool_
    arrays = standin.standin_arrays("train", seed=0, train_size=300, image_size=28, channels=3)
    np.testing.assert_array_equal(batch["image"].numpy(), arrays["image"])
    np.testing.assert_array_equal(batch["attributes"]["Young"].numpy(), arrays["Young"])
    assert [i.decode()[-12:] for i in batch["id"].numpy()[:2]] == ["train/000000", "train/000001"]
    head = next(iter(pdata.load("celeba_standin", "train[:5]", train_size=300).batch(5)))
    np.testing.assert_array_equal(head["id"].numpy(), batch["id"].numpy()[:5])
    meta = pdata.info("celeba_standin", image_size=28, channels=3)
    assert meta.image_shape == (28, 28, 3) and meta.protected_attributes == ("Male", "Young")
    assert "NOT CelebA" in meta.description


@pytest.mark.parametrize("kwargs,error,match", [
    ({"train_size": 60000}, ValueError, "lower train_size"),
    ({"image_size": 12}, ValueError, r"\[20, 128\]"),
    ({"positive_classes": (11,)}, ValueError, "proper subset"),
    ({"seed": -1}, ValueError, "non-negative"),
    ({"joint": {(1, 1, 1): 1.0}}, ValueError, "each"),
    ({"sizes": 3}, TypeError, "valid: seed, image_size"),
])
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        pdata.load("celeba_standin", "train", **kwargs)
    with pytest.raises(ValueError, match="valid: train, validation, test"):
        pdata.load("celeba_standin", "val")
