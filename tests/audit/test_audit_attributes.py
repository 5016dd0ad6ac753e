"""Attribute groups, over-indexing with its bootstrap, and group rates (vs fairlearn)."""
import itertools

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame, false_negative_rate, false_positive_rate
from sklearn.metrics import zero_one_loss

from pie_tf.audit._attributes import (STATUS_EMPTY, STATUS_NO_CIE, attribute_groups,
                                     group_rate_change, group_rates, overindex)


def _attributes(rng, n):
    return pd.DataFrame({"Male": rng.random(n) < 0.4, "Young": rng.random(n) < 0.7,
                         "Blond_Hair": rng.random(n) < 0.15})


def test_groups_cover_every_attribute_and_intersection():
    rng = np.random.default_rng(0)
    attrs = _attributes(rng, 300)
    groups, masks = attribute_groups(attrs)
    assert len(groups) == 3 * 2 + 3 * 4 + 8
    row = groups.index[groups["group"] == "Male ∧ not Blond_Hair"][0]
    np.testing.assert_array_equal(masks[:, row], attrs["Male"] & ~attrs["Blond_Hair"])
    assert groups.loc[row, "order"] == 2 and groups.loc[row, "attributes"] == "Male ∧ Blond_Hair"
    # every order-k family partitions the examples
    for _, family in groups.groupby("attributes"):
        assert masks[:, family.index].sum(axis=1).tolist() == [1] * 300
    groups2, _ = attribute_groups(attrs, protected=["Male", "Young"])
    assert len(groups2) == 6 + 4
    with pytest.raises(ValueError, match="protected"):
        attribute_groups(attrs, protected=["Bald"])


def test_overindex_matches_brute_force_and_handles_empty_groups():
    rng = np.random.default_rng(1)
    n = 2000
    attrs = _attributes(rng, n)
    attrs["Bald"] = False  # a zero-member group ("Bald")
    cie = rng.random(n) < np.where(attrs["Male"], 0.2, 0.05)
    groups, masks = attribute_groups(attrs, protected=["Male", "Young"])
    table = overindex(cie, groups, masks, n_bootstrap=200, seed=3)
    for j, _name in enumerate(table["group"]):
        mask = masks[:, j]
        if not mask.any():
            assert table.loc[j, "status"] == STATUS_EMPTY and np.isnan(table.loc[j, "overindex"])
            continue
        share_cie = sum(1 for i in range(n) if cie[i] and mask[i]) / cie.sum()
        share_eval = mask.sum() / n
        assert table.loc[j, "overindex"] == pytest.approx(share_cie / share_eval)
        assert table.loc[j, "ci_low"] <= table.loc[j, "overindex"] <= table.loc[j, "ci_high"]
    male = table.set_index("group").loc["Male"]
    assert male["overindex"] > 1.3 and male["ci_low"] > 1
    assert table.set_index("group").loc["Bald", "status"] == STATUS_EMPTY
    again = overindex(cie, groups, masks, n_bootstrap=200, seed=3)
    pd.testing.assert_frame_equal(table, again)  # seeded
    none = overindex(np.zeros(n, bool), groups, masks, n_bootstrap=10)
    assert (none.loc[none["n_examples"] > 0, "status"] == STATUS_NO_CIE).all()
    assert none["overindex"].isna().all()


def test_bootstrap_interval_agrees_with_resampling_examples():
    rng = np.random.default_rng(2)
    n = 400
    group = rng.random(n) < 0.3
    cie = rng.random(n) < np.where(group, 0.25, 0.1)
    groups, masks = attribute_groups(pd.DataFrame({"G": group}))
    table = overindex(cie, groups, masks, n_bootstrap=4000, seed=0)
    boot = []
    resample = np.random.default_rng(99)
    for _ in range(4000):
        idx = resample.integers(0, n, n)
        g, c = group[idx], cie[idx]
        boot.append(((g & c).sum() / c.sum()) / g.mean())
    lo, hi = np.percentile(boot, [2.5, 97.5])
    assert table.loc[0, "ci_low"] == pytest.approx(lo, abs=0.06)
    assert table.loc[0, "ci_high"] == pytest.approx(hi, abs=0.06)


def test_group_rates_match_fairlearn_metricframe():
    rng = np.random.default_rng(3)
    n, members = 500, 3
    attrs = _attributes(rng, n)
    labels = (attrs["Blond_Hair"].to_numpy()).astype(int)
    preds = np.where(rng.random((members, n)) < 0.85, labels, 1 - labels)
    groups, masks = attribute_groups(attrs, protected=["Male", "Young"])
    ours = group_rates(preds, labels, groups, masks, positive_label=1)
    metrics = {"error_rate": zero_one_loss, "false_positive_rate": false_positive_rate,
               "false_negative_rate": false_negative_rate}
    for m in range(members):
        for names in [("Male",), ("Young",), ("Male", "Young")]:
            frame = MetricFrame(metrics=metrics, y_true=labels, y_pred=preds[m],
                                sensitive_features=attrs[list(names)])
            for values, row in frame.by_group.iterrows():
                values = values if isinstance(values, tuple) else (values,)
                name = " ∧ ".join(a if v else "not " + a for a, v in zip(names, values))
                for metric in metrics:
                    got = ours[(ours["member"] == m) & (ours["group"] == name)
                               & (ours["metric"] == metric)]["value"].item()
                    assert got == pytest.approx(row[metric])
        overall = MetricFrame(metrics=metrics, y_true=labels, y_pred=preds[m],
                              sensitive_features=attrs["Male"]).overall
        got = ours[(ours["member"] == m) & (ours["group"] == "all")].set_index("metric")["value"]
        for metric in metrics:
            assert got[metric] == pytest.approx(overall[metric])


def test_group_rate_change_and_undefined_rates():
    labels = np.array([1, 1, 0, 0, 1, 0])
    attrs = pd.DataFrame({"A": [True, True, False, False, False, False],
                          "Z": [False] * 6})
    groups, masks = attribute_groups(attrs)
    dense = group_rates(np.array([[1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0]]), labels, groups,
                        masks, positive_label=1)
    pruned = group_rates(np.array([[1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 1, 0]]), labels, groups,
                         masks, positive_label=1)
    table = group_rate_change(dense, pruned).set_index(["group", "metric"])
    # group A: labels [1, 1]; dense FNR per member 0, 0.5; pruned FNR 0.5, 1.0
    row = table.loc[("A", "false_negative_rate")]
    assert row["dense_mean"] == pytest.approx(0.25) and row["compressed_mean"] == 0.75
    assert row["relative_change_pct"] == pytest.approx(200.0)
    assert row["dense_std"] == pytest.approx(np.std([0, 0.5], ddof=1))
    assert table.loc[("A", "false_positive_rate"), "status"].startswith("no negatives")
    assert np.isnan(table.loc[("A", "false_positive_rate"), "dense_mean"])
    assert table.loc[("Z", "error_rate"), "status"] == STATUS_EMPTY
    assert table.loc[("not Z", "error_rate"), "n_examples"] == 6
    # "all" FPR: negatives are examples 2, 3, 5; pruned members predict 1 on 1 and 2 of them
    assert table.loc[("all", "false_positive_rate"), "compressed_mean"] == pytest.approx(0.5)
    # brute force over every (group, metric) row of the per-member table
    for (m, g, metric), value in dense.set_index(["member", "group", "metric"])["value"].items():
        mask = np.ones(6, bool) if g == "all" else masks[:, list(groups["group"]).index(g)]
        pred = np.array([[1, 1, 0, 0, 1, 0], [1, 0, 0, 0, 1, 0]])[m]
        cond = {"error_rate": mask, "false_positive_rate": mask & (labels == 0),
                "false_negative_rate": mask & (labels == 1)}[metric]
        if not cond.any():
            assert np.isnan(value)
        else:
            event = pred != labels
            assert value == pytest.approx(event[cond].mean())
    assert list(itertools.chain(groups["group"]))[:2] == ["A", "not A"]
