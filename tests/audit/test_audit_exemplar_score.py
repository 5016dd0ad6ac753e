"""The graded exemplar score (total variation of mean distributions), against a plain loop."""
import numpy as np
import pytest

from pie_tf.audit._exemplar_score import exemplar_score, vote_share_distance


def test_exemplar_score_is_total_variation_by_a_loop():
    rng = np.random.default_rng(1)
    d = rng.dirichlet(np.ones(4), size=50)
    c = rng.dirichlet(np.ones(4), size=50)
    score = exemplar_score(d, c)
    for i in range(50):
        assert score[i] == pytest.approx(sum(abs(d[i, k] - c[i, k]) for k in range(4)) / 2)
    dense = rng.integers(0, 5, (7, 300))
    compressed = rng.integers(0, 5, (4, 300))
    votes = vote_share_distance(dense, compressed, 5, chunk=64)
    for i in range(300):
        share_d = [np.mean(dense[:, i] == k) for k in range(5)]
        share_c = [np.mean(compressed[:, i] == k) for k in range(5)]
        assert votes[i] == pytest.approx(sum(abs(a - b) for a, b in zip(share_d, share_c)) / 2)
    assert exemplar_score(d, d).max() == 0
