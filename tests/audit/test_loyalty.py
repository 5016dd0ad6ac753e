import numpy as np
import pytest

from pie_tf.audit._loyalty import label_loyalty, probability_loyalty


def _js_bits(p, q):
    """Jensen-Shannon divergence in bits, written out."""
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2

    def kl(a, b):
        mask = a > 0
        return float(np.sum(a[mask] * np.log2(a[mask] / b[mask])))
    return (kl(p, m) + kl(q, m)) / 2


def test_probability_loyalty_matches_written_out_js():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(5), size=20)
    q = rng.dirichlet(np.ones(5), size=20)
    p[3] = [1, 0, 0, 0, 0]
    q[3] = [0, 1, 0, 0, 0]  # disjoint support: JS = 1 bit, loyalty 0
    expected = np.array([1 - np.sqrt(_js_bits(a, b)) for a, b in zip(p, q)])
    np.testing.assert_allclose(probability_loyalty(p, q), expected, atol=1e-12)
    assert probability_loyalty(p, q)[3] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(probability_loyalty(p, p), 1.0)


def test_label_loyalty_and_errors():
    assert label_loyalty([1, 2, 3], [1, 0, 3]).tolist() == [True, False, True]
    with pytest.raises(ValueError, match="probabilities"):
        probability_loyalty([[0.5, np.nan]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="non-negative"):
        probability_loyalty([[-1.0, 2.0]], [[0.5, 0.5]])
    with pytest.raises(ValueError, match="classes"):
        probability_loyalty([[0.5, 0.5]], [[0.3, 0.3, 0.4]])
    with pytest.raises(ValueError, match="broadcast"):
        label_loyalty([1, 2], [1, 2, 3])
