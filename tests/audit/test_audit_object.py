"""The Audit object end to end: tables against brute force, validation, store construction."""
import numpy as np
import pandas as pd
import pytest

import pie_tf
from pie_tf.audit import Audit
from pie_tf.audit import probability_loyalty
from pie_tf.errors import MissingEvaluationError


def _setup(seed=0, n=300, n_classes=2, members=(4, 3, 5)):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n)
    attributes = {"Male": rng.random(n) < 0.4, "Young": rng.random(n) < 0.7}

    def population(m, accuracy):
        keep = rng.random((m, n)) < accuracy
        return np.where(keep, labels, rng.integers(0, n_classes, (m, n)))

    dense = population(members[0], 0.9)
    compressed = {"prune@0.5": population(members[1], 0.85),
                  "prune@0.9": population(members[2], 0.7)}
    return labels, attributes, dense, compressed


def _softmax_scores(rng, predictions, n_classes):
    logits = rng.normal(size=predictions.shape + (n_classes,)).astype(np.float32)
    np.put_along_axis(logits, predictions[..., None], 5.0, axis=-1)
    return logits


def test_audit_tables_agree_with_brute_force():
    labels, attributes, dense, compressed = _setup()
    result = pie_tf.audit(dense, compressed, labels, attributes=attributes,
                          target_name="Blond_Hair", tie_break="highest", n_bootstrap=50)
    assert isinstance(result, Audit)
    assert result.variants == ["prune@0.5", "prune@0.9"]
    pie = result.pie
    assert len(pie) == 2 * labels.size and {"Male", "Young", "Blond_Hair"} <= set(pie.columns)
    for variant, preds in compressed.items():
        rows = pie[pie["variant"] == variant]
        for i in range(0, labels.size, 37):
            def mode(column):
                values, counts = np.unique(column, return_counts=True)
                return values[counts == counts.max()].max()
            assert rows["dense_mode"].iloc[i] == mode(dense[:, i])
            assert rows["compressed_mode"].iloc[i] == mode(preds[:, i])
            assert rows["cie"].iloc[i] == (mode(dense[:, i]) != mode(preds[:, i]))
        summary = result.pie_summary.set_index("variant").loc[variant]
        assert summary["n_cie"] == rows["cie"].sum()
        pie_idx = rows["cie"].to_numpy()
        assert summary["compressed_accuracy_cie"] == pytest.approx(
            np.mean([np.mean(preds[m, pie_idx] == labels[pie_idx]) for m in range(len(preds))]))
    # intersections with the target are formed, e.g. Blond_Hair ∧ Male
    over = result.overindex
    assert "Male ∧ Blond_Hair" in set(over["group"])
    blond_male = over[(over["variant"] == "prune@0.9") & (over["group"] == "Male ∧ Blond_Hair")]
    mask = attributes["Male"] & (labels == 1)
    assert blond_male["n_examples"].item() == mask.sum()
    rates = result.group_rates
    assert set(rates["metric"]) == {"error_rate", "false_positive_rate", "false_negative_rate"}
    row = rates[(rates["variant"] == "prune@0.9") & (rates["group"] == "Male")
                & (rates["metric"] == "false_positive_rate")].iloc[0]
    negatives = attributes["Male"] & (labels == 0)
    fpr = [np.mean(compressed["prune@0.9"][m, negatives] == 1) for m in range(5)]
    assert row["compressed_mean"] == pytest.approx(np.mean(fpr))
    assert row["compressed_std"] == pytest.approx(np.std(fpr, ddof=1))
    # loyalty to the dense modal label
    dense_mode = pie[pie["variant"] == "prune@0.9"]["dense_mode"].to_numpy()
    loyalty = result.loyalty_by_member
    got = loyalty[loyalty["population"] == "prune@0.9"]["label_loyalty"].to_numpy()
    np.testing.assert_allclose(got, [np.mean(p == dense_mode) for p in compressed["prune@0.9"]])
    assert result.loyalty["probability_loyalty_mean"].isna().all()
    assert result.class_impact_summary["n_classes_tested"].tolist() == [2, 2]
    summary = result.summary()
    assert list(summary["variant"]) == ["prune@0.5", "prune@0.9"]
    assert set(result.to_frames()) >= {"pie", "class_impact", "overindex", "group_rates",
                                        "loyalty", "robustness", "summary"}


def test_probabilities_loyalty_and_mean_probability_mode():
    rng = np.random.default_rng(5)
    labels, _, dense, compressed = _setup(seed=5, n=120, n_classes=4)
    dense_logits = _softmax_scores(rng, dense, 4)
    comp_logits = {k: _softmax_scores(rng, v, 4) for k, v in compressed.items()}
    result = pie_tf.audit(dense, compressed, labels, dense_probabilities=dense_logits,
                   compressed_probabilities=comp_logits, mode="mean_probability")
    softmax = np.exp(dense_logits) / np.exp(dense_logits).sum(-1, keepdims=True)
    mean = softmax.mean(0)
    np.testing.assert_array_equal(result.modes["dense"], mean.argmax(-1))
    comp_soft = np.exp(comp_logits["prune@0.9"]) / \
        np.exp(comp_logits["prune@0.9"]).sum(-1, keepdims=True)
    expected = [probability_loyalty(comp_soft[m].astype(np.float64), mean).mean()
                for m in range(5)]
    table = result.loyalty_by_member
    np.testing.assert_allclose(
        table[table["population"] == "prune@0.9"]["probability_loyalty"], expected, rtol=1e-5)
    assert (result.loyalty["probability_loyalty_status"] == "ok").all()
    with pytest.raises(ValueError, match="mean_probability"):
        pie_tf.audit(dense, compressed, labels, mode="mean_probability")


def test_robustness_and_imagenet_a_through_the_audit():
    rng = np.random.default_rng(6)
    labels, _, dense, compressed = _setup(seed=6, n=100, n_classes=10, members=(3, 2, 2))
    corr = {}
    for pop, m in (("dense", 3), ("prune@0.9", 2)):
        corr[pop] = {(c, s): rng.integers(0, 10, (m, 100)) for c in ("blur", "noise")
                     for s in (1, 2)}
    result = pie_tf.audit(dense, compressed, labels, corruption_predictions=corr,
                   corruption_labels=labels)
    summary = result.robustness_summary.set_index("population")
    assert summary.loc["dense", "reference"] == "population"
    dense_ref = {c: sum(np.mean([np.mean(corr["dense"][(c, s)][d] != labels) for d in range(3)])
                        for s in (1, 2)) for c in ("blur", "noise")}
    mce = [np.mean([sum(np.mean(corr["prune@0.9"][(c, s)][m] != labels) for s in (1, 2))
                    / dense_ref[c] for c in ("blur", "noise")]) for m in range(2)]
    assert summary.loc["prune@0.9", "mce_mean"] == pytest.approx(np.mean(mce))
    assert summary.loc["dense", "mce_mean"] == pytest.approx(1.0)
    assert set(result.robustness["corruption"]) == {"blur", "noise"}

    classes = np.arange(0, 10, 2)
    a_labels = rng.choice(classes, 40)
    scores = {"dense": rng.normal(size=(3, 40, 10)), "prune@0.9": rng.normal(size=(2, 40, 10))}
    result = pie_tf.audit(dense, compressed, labels, imagenet_a_scores=scores,
                   imagenet_a_labels=a_labels, imagenet_a_classes=classes)
    table = result.imagenet_a.set_index("population")
    expected = np.mean([np.mean(classes[scores["dense"][m][:, classes].argmax(-1)] == a_labels)
                        for m in range(3)])
    assert table.loc["dense", "accuracy_mean"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="corruption_labels"):
        pie_tf.audit(dense, compressed, labels, corruption_predictions=corr)
    corr["dense"][("blur", 1)] = corr["dense"][("blur", 1)][:, :-1]
    with pytest.raises(ValueError, match=r"corruption_predictions\['dense'\]\[\('blur', 1\)\]"):
        pie_tf.audit(dense, compressed, labels, corruption_predictions=corr,
                     corruption_labels=labels)


def test_one_member_populations_are_explicit():
    labels, _, dense, compressed = _setup(seed=1, members=(1, 1, 2))
    result = pie_tf.audit(dense[0], compressed, labels)
    impact = result.class_impact
    assert impact["status"].str.contains("fewer than 2 members").all()
    assert result.pie_summary["dense_accuracy_all_std"].isna().all()
    assert np.isfinite(result.pie_summary["n_cie"]).all()


@pytest.mark.parametrize("change, message", [
    (lambda a: a.update(labels=np.r_[a["labels"][:-1], 7], n_classes=2), "labels"),
    (lambda a: a.update(labels=np.r_[a["labels"][:-1], -1]), "labels"),
    (lambda a: a.update(labels=a["labels"][:-1]), "examples"),
    (lambda a: a.update(dense_predictions=a["dense_predictions"][:, :-1]), "examples"),
    (lambda a: a["compressed_predictions"].update({"dense": a["dense_predictions"]}), "reserved"),
    (lambda a: a.update(dense_predictions=a["dense_predictions"] + 5, n_classes=2),
     "dense_predictions"),
    (lambda a: a.update(dense_predictions=a["dense_predictions"].astype(float) + 0.5),
     "integer"),
    (lambda a: a.update(ids=np.zeros(len(a["labels"]))), "unique"),
    (lambda a: a.update(population_ids={"prune@0.9": np.arange(len(a["labels"]))[::-1]}),
     "different order"),
    (lambda a: a.update(population_ids={"prune@0.9": np.arange(1, len(a["labels"]) + 1)}),
     "different examples"),
    (lambda a: a.update(tie_break="random"), "tie_break"),
    (lambda a: a.update(dense_predictions=np.where(a["dense_predictions"] == 1, np.nan, 0.0)),
     "dense_predictions.*NaN"),
    (lambda a: a.update(compressed_predictions={"p": -a["labels"]}), "compressed_predictions"),
    (lambda a: a.update(attributes={"Male": np.full(len(a["labels"]), 2)}), "boolean"),
    (lambda a: a.update(attributes={"Male": np.ones(3, bool)}), "rows"),
    (lambda a: a.update(n_classes=1), "labels"),
])
def test_bad_input_names_the_argument(change, message):
    labels, _, dense, compressed = _setup(members=(3, 2, 2))
    args = {"dense_predictions": dense, "compressed_predictions": dict(compressed),
            "labels": labels}
    change(args)
    with pytest.raises((ValueError, TypeError), match=message):
        pie_tf.audit(**args)


def test_nan_or_infinite_logits_are_refused():
    rng = np.random.default_rng(3)
    labels, _, dense, compressed = _setup(seed=3, n=50, n_classes=3, members=(2, 2, 2))
    logits = _softmax_scores(rng, dense, 3)
    bad = logits.copy()
    bad[1, 7, 2] = np.inf
    with pytest.raises(ValueError, match=r"dense_probabilities.*member 1, example 7"):
        pie_tf.audit(dense, compressed, labels, dense_probabilities=bad)
    bad[1, 7, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pie_tf.audit(dense, compressed, labels, dense_probabilities=logits,
              compressed_probabilities={"prune@0.5": bad})
    with pytest.raises(ValueError, match="shape"):
        pie_tf.audit(dense, compressed, labels, dense_probabilities=logits[:, :-1])
    with pytest.raises(ValueError, match="class axis|scores"):
        pie_tf.audit(logits, compressed, labels)


class _FakeStore:
    """The read API of pie_tf.store.PredictionStore, in memory."""

    class _Set:
        def __init__(self, ids, labels, attributes, info, class_subset=None):
            self.ids, self.labels, self.attributes = ids, labels, attributes
            self.info, self.class_subset, self.n_classes = info, class_subset, 2

    class _Read:
        def __init__(self, labels, probs):
            self.labels, self.probs, self.restricted_labels = labels, probs, labels

    def __init__(self, sets, members):
        self.sets, self.members = sets, members

    def eval_set(self, name):
        return self.sets[name]

    def eval_sets(self):
        return sorted(self.sets)

    def variants(self):
        return sorted({v for v, _ in self.members})

    def fields_for(self, eval_set):
        return ("labels", "probs")

    def read(self, variant, eval_set, fields=("labels",)):
        if (variant, eval_set) not in self.members:
            raise MissingEvaluationError("not evaluated")
        labels, probs = self.members[(variant, eval_set)]
        return self._Read(labels, probs if "probs" in fields else None)


def test_from_store_reads_populations_attributes_and_corruptions():
    rng = np.random.default_rng(4)
    labels, attributes, dense, compressed = _setup(seed=4, n=60, members=(3, 2, 2))
    ids = np.arange(100, 160)
    a_labels = rng.choice([0, 1], 30)
    sets = {"test": _FakeStore._Set(ids, labels, attributes, {}),
            "imagenet_a": _FakeStore._Set(np.arange(30), a_labels, {}, {},
                                          class_subset=np.array([0, 1])),
            "fog@1": _FakeStore._Set(ids, labels, {}, {"corruption": "fog", "severity": 1})}
    members = {}
    for name, preds in [("dense", dense)] + list(compressed.items()):
        members[(name, "test")] = (preds, _softmax_scores(rng, preds, 2))
        members[(name, "fog@1")] = (preds[:, ::-1].copy(), None)
        members[(name, "imagenet_a")] = (preds[:, :30], None)
    store = _FakeStore(sets, members)
    result = Audit.from_store(store, "test", imagenet_a_set="imagenet_a", n_bootstrap=20)
    direct = pie_tf.audit(dense, compressed, labels, ids=ids, attributes=attributes,
                   dense_probabilities=members[("dense", "test")][1],
                   compressed_probabilities={k: members[(k, "test")][1] for k in compressed},
                   n_bootstrap=20)
    pd.testing.assert_frame_equal(result.pie, direct.pie)
    pd.testing.assert_frame_equal(result.loyalty, direct.loyalty)
    assert set(result.corruption_errors["corruption"]) == {"fog"}
    assert set(result.robustness_summary["population"]) == {"dense", "prune@0.5", "prune@0.9"}
    got = result.imagenet_a.set_index("population")["accuracy_mean"]
    assert got["prune@0.9"] == pytest.approx(
        np.mean(compressed["prune@0.9"][:, :30] == a_labels))


def test_from_real_prediction_store(tmp_path):
    from pie_tf import store as store_module
    labels, attributes, dense, compressed = _setup(seed=7, n=40, members=(2, 2, 2))
    store = store_module.PredictionStore(str(tmp_path / "store"))
    store.write_eval_set("test", np.arange(40), labels, n_classes=2,
                         attributes={k: v for k, v in attributes.items()})
    store.write_eval_set("noise@2", np.arange(40), labels, n_classes=2,
                         info={"corruption": "noise", "severity": 2})
    rng = np.random.default_rng(0)

    def probabilities(row):
        probs = np.full((40, 2), 0.1, np.float32)
        probs[np.arange(40), row] = 0.9
        probs += rng.uniform(0, 0.01, probs.shape).astype(np.float32)
        return probs / probs.sum(-1, keepdims=True)

    for name, preds in [("dense", dense)] + list(compressed.items()):
        for seed, row in enumerate(preds):
            store.write_member(name, seed, {"test": probabilities(row),
                                            "noise@2": probabilities(1 - row)}, recipe={})
    result = Audit.from_store(store, "test", n_bootstrap=10)
    direct = pie_tf.audit(dense, compressed, labels, attributes=attributes, n_bootstrap=10)
    pd.testing.assert_frame_equal(result.pie.drop(columns="id"), direct.pie.drop(columns="id"))
    assert result.loyalty["probability_loyalty_mean"].notna().all()
    errors = result.corruption_errors
    dense_errors = errors[errors["population"] == "dense"]["error"].to_numpy()
    np.testing.assert_allclose(dense_errors, [np.mean((1 - row) != labels) for row in dense])


def test_quantized_probabilities_are_refused_not_softmaxed_again():
    """int8 softmax outputs (steps of 1/256) sum to ~0.996: never taken for logits."""
    rng = np.random.default_rng(4)
    labels, _, dense, compressed = _setup(seed=4, n=40, n_classes=3, members=(2, 2, 2))
    logits = _softmax_scores(rng, dense, 3)
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    quantized = np.floor(probs * 256) / 256  # what dequantized uint8 outputs look like
    assert not np.allclose(quantized.sum(-1), 1, atol=1e-3)
    with pytest.raises(ValueError, match=r"dense_probabilities.*sum to.*Renormalize"):
        pie_tf.audit(dense, compressed, labels, dense_probabilities=quantized)
    renormalized = quantized / quantized.sum(-1, keepdims=True)
    result = pie_tf.audit(dense, compressed, labels, dense_probabilities=renormalized)
    np.testing.assert_allclose(result.probabilities("dense"), renormalized, rtol=1e-6)
