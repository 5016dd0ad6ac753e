"""pie_tf's one probability policy, against scipy's softmax and sigmoid, and its typed errors."""
import numpy as np
import pytest
from scipy.special import expit, softmax

import pie_tf
from pie_tf._probabilities import as_probabilities, looks_like_probabilities, renormalize
from pie_tf.errors import NotProbabilitiesError


def test_probabilities_pass_and_logits_become_distributions():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(4), size=50)
    np.testing.assert_allclose(as_probabilities(p), p, atol=1e-12)
    logits = rng.normal(size=(3, 50, 4)) * 3
    np.testing.assert_allclose(as_probabilities(logits), softmax(logits, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(as_probabilities(np.abs(logits) / 10, "logits"),
                               softmax(np.abs(logits) / 10, axis=-1), rtol=1e-12)
    one_column = np.array([[-2.0], [0.3], [4.0]])
    np.testing.assert_allclose(as_probabilities(one_column),
                               np.c_[1 - expit(one_column), expit(one_column)])
    np.testing.assert_allclose(as_probabilities([[0.25], [1.0]]), [[0.75, 0.25], [0.0, 1.0]])
    # rows within 1e-3 of one are probabilities, divided by their sum
    off = p * (1 + 5e-4)
    assert looks_like_probabilities(off)
    np.testing.assert_allclose(as_probabilities(off).sum(-1), 1.0, atol=1e-12)
    assert as_probabilities(p, dtype=np.float32).dtype == np.float32


def test_what_is_refused_raises_the_typed_error():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(3), size=40)
    quantized = np.floor(p * 256) / 256  # dequantized int8 softmax outputs
    with pytest.raises(NotProbabilitiesError, match="`q` looks like probabilities.*Renormalize"):
        as_probabilities(quantized, argname="q")
    with pytest.raises(NotProbabilitiesError, match="declared probabilities.*sum to"):
        as_probabilities(quantized, "probabilities")
    with pytest.raises(NotProbabilitiesError, match="negative"):
        as_probabilities(p - 0.5, "probabilities")
    with pytest.raises(NotProbabilitiesError, match=r"NaN or infinite.*\(3, 1\)"):
        as_probabilities(np.where(np.arange(120).reshape(40, 3) == 10, np.nan, p))
    with pytest.raises(ValueError, match="`kind` must be one of"):
        as_probabilities(p, "scores")
    # renormalized, the same outputs are probabilities with unchanged labels
    fixed = renormalize(quantized)
    np.testing.assert_allclose(as_probabilities(fixed, "probabilities"),
                               quantized / quantized.sum(-1, keepdims=True))
    np.testing.assert_array_equal(fixed.argmax(-1), quantized.argmax(-1))
    np.testing.assert_allclose(renormalize(np.zeros((2, 4))), 0.25)


def test_every_part_raises_the_same_error_type():
    """The audit, compare_deployment's conversion and the loyalty share the policy."""
    from pie_tf.export.compare import to_probabilities

    rng = np.random.default_rng(2)
    labels = rng.integers(0, 3, 30)
    dense = rng.integers(0, 3, (2, 30))
    quantized = np.floor(rng.dirichlet(np.ones(3), size=(2, 30)) * 256) / 256
    with pytest.raises(NotProbabilitiesError, match="dense_probabilities"):
        pie_tf.audit(dense, {"p": dense}, labels, dense_probabilities=quantized,
                     scores_kind="probabilities")
    with pytest.raises(NotProbabilitiesError, match="outputs"):
        to_probabilities(quantized[0], "probabilities")
    with pytest.raises(NotProbabilitiesError, match="reference_probabilities"):
        pie_tf.audit.probability_loyalty(quantized[0] / quantized[0].sum(-1, keepdims=True),
                                         quantized[0])


def test_the_store_accepts_what_the_audit_reads_back(tmp_path):
    """One tolerance: rows the store takes, the audit takes as declared probabilities."""
    from pie_tf.audit import Audit
    from pie_tf.store import PredictionStore

    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 20)
    store = PredictionStore(str(tmp_path / "store"))
    store.write_eval_set("test", np.arange(20), labels, n_classes=3)
    p = rng.dirichlet(np.ones(3), size=20).astype(np.float32)
    with pytest.raises(NotProbabilitiesError, match="rows do not sum to 1"):
        store.write_member("dense", 0, {"test": p * (1 + 5e-3)}, recipe={})
    for variant in ("dense", "int8"):
        store.write_member(variant, 0, {"test": p * (1 + 5e-4)}, recipe={})
    result = Audit.from_store(store, "test", scores_kind="probabilities")
    np.testing.assert_allclose(result.probabilities("dense")[0], p, atol=1e-3)
    assert (result.loyalty["probability_loyalty_status"] == "ok").all()
