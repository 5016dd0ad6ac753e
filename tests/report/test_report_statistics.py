"""Figures of the statistics beyond the papers draw exactly the audit's tables."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pie_tf.audit import _calibration
from pie_tf.report import _statistics as figures


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_reliability_figure_draws_the_table_and_names_ece_and_direction():
    rng = np.random.default_rng(0)
    frames = []
    for pop in ("dense", "prune@0.9"):
        probs = rng.dirichlet(np.ones(3) * 0.5, size=(2, 200))
        table = _calibration.reliability(probs, rng.integers(0, 3, 200), n_bins=5)
        table.insert(0, "population", pop)
        frames.append(table)
    reliability = pd.concat(frames, ignore_index=True)
    calibration = pd.DataFrame({"population": ["dense", "prune@0.9"], "group": "all",
                                "ece_mean": [0.05, 0.2], "direction": ["under-confident",
                                                                       "over-confident"],
                                "n_bins": 5})
    fig = figures.reliability_figure(reliability, calibration=calibration)
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    line = lines["prune@0.9 (ECE 0.200, over-confident)"]
    rows = reliability[reliability["population"] == "prune@0.9"]
    np.testing.assert_allclose(line.get_xdata(), rows["mean_confidence"])
    np.testing.assert_allclose(line.get_ydata(), rows["accuracy"])
    assert "dense (ECE 0.050, under-confident)" in lines
    shares = [p.get_height() for p in fig.axes[1].patches]
    assert sum(shares) == pytest.approx(2.0)  # each population's shares sum to one
    with pytest.raises(ValueError, match="`reliability` lacks column"):
        figures.reliability_figure(reliability.drop(columns="accuracy"))


def test_forecast_figure_points_and_intervals_are_the_table():
    forecast = pd.DataFrame({
        "variant": ["a", "a", "b", "b"], "score": ["entropy", "vote_margin"] * 2,
        "auroc": [0.7, 0.6, 0.8, np.nan], "auroc_ci_low": [0.6, 0.5, 0.7, np.nan],
        "auroc_ci_high": [0.75, 0.7, 0.9, np.nan]})
    fig = figures.forecast_figure(forecast)
    ax = fig.axes[0]
    points = {c.get_label(): c for c in ax.containers}
    entropy = points["entropy"]
    np.testing.assert_allclose(entropy.lines[0].get_ydata(), [0.7, 0.8])
    segments = entropy.lines[2][0].get_segments()
    np.testing.assert_allclose([s[:, 1].min() for s in segments], [0.6, 0.7])
    np.testing.assert_allclose([s[:, 1].max() for s in segments], [0.75, 0.9])


def test_forecast_figure_without_any_defined_auroc_says_so(recwarn):
    # no CIEs, or every example a CIE (one member on a few images): AUROC undefined throughout
    forecast = pd.DataFrame({"variant": "v", "score": ["entropy", "vote_margin"],
                             "auroc": np.nan, "auroc_ci_low": np.nan, "auroc_ci_high": np.nan})
    ax = figures.forecast_figure(forecast).axes[0]
    assert not ax.containers and ax.get_legend() is None
    assert [t.get_text() for t in ax.texts] == ["no AUROC defined (see the table's status)"]
    assert not [w for w in recwarn if "legend" in str(w.message)]  # matplotlib's warning


def test_flips_figure_bars_are_the_rates():
    flips = pd.DataFrame({"variant": "v", "kind": ["group", "group", "group", "class"],
                          "group": ["all", "Male", "Male ∧ Young", "0"],
                          "order": [0, 1, 2, np.nan],
                          "negative_flip_rate": [0.1, 0.2, 0.3, 0.4],
                          "positive_flip_rate": [0.05, 0.01, 0.02, 0.03]})
    fig = figures.flips_figure(flips)
    widths = sorted(round(p.get_width(), 6) for p in fig.axes[0].patches)
    assert widths == sorted([-0.1, -0.2, 0.05, 0.01])  # order <= 1, groups only


def test_sort_exemplars_puts_the_most_changed_first_within_each_variant():
    pie = pd.DataFrame({"variant": ["b", "b", "a", "a"], "id": [1, 2, 1, 2],
                        "cie": True, "label": 0})
    scores = pd.DataFrame({"variant": ["a", "a", "b", "b"], "id": [1, 2, 1, 2],
                           "exemplar_score": [0.1, 0.9, 0.5, 0.2]})
    out = figures.sort_exemplars(pie, scores)
    assert list(zip(out["variant"], out["id"])) == [("b", 1), ("b", 2), ("a", 2), ("a", 1)]
    assert figures.sort_exemplars(pie, None) is pie
