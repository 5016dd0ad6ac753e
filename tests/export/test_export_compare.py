"""compare_deployment checked against a direct numpy computation."""
import numpy as np
import pytest

import pie_tf
from pie_tf._keras import tf
from pie_tf.export.compare import to_probabilities


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _js_bits(p, q):
    """Jensen-Shannon divergence in bits, written out term by term."""
    m = (p + q) / 2
    kl_pm = sum(pi * np.log2(pi / mi) for pi, mi in zip(p, m) if pi > 0)
    kl_qm = sum(qi * np.log2(qi / mi) for qi, mi in zip(q, m) if qi > 0)
    return 0.5 * kl_pm + 0.5 * kl_qm


def _boundary_images(model, images, labels):
    """Blends of two differently classified images, bisected to where the Keras model's top-1
    label flips: near-ties, on which int8 rounding flips some labels (real disagreements)."""
    predict = lambda x: model(x, training=False).numpy().argmax(1)  # noqa: E731
    a = images[: len(images) // 2]
    b = images[len(images) // 2:][: len(a)]
    keep = predict(a) != predict(b)
    a, b, labels = a[keep], b[keep], labels[: len(a)][keep]
    class_a = predict(a)
    lo, hi = np.zeros((len(a), 1, 1, 1)), np.ones((len(a), 1, 1, 1))
    for _ in range(24):
        mid = (lo + hi) / 2
        blend = (mid * a + (1 - mid) * b).astype(np.float32)
        is_a = (predict(blend) == class_a)[:, None, None, None]
        hi, lo = np.where(is_a, mid, hi), np.where(is_a, lo, mid)
    return (hi * a + (1 - hi) * b).astype(np.float32), labels


def test_numbers_match_a_direct_computation(trained_resnet, exported, data):
    images, labels = data
    near_ties, near_tie_labels = _boundary_images(trained_resnet, images[192:], labels[192:])
    images = np.concatenate([images[:192], near_ties])
    labels = np.concatenate([labels[:192], near_tie_labels])
    model, tflite = trained_resnet, exported["int8"]
    ids = np.array([f"img{i:03d}" for i in range(len(images))])
    dataset = tf.data.Dataset.from_tensor_slices(
        {"image": images, "label": labels, "id": ids,
         "attributes": {"Young": labels < 2}}).batch(32)

    result = pie_tf.compare_deployment(model, tflite, dataset, batch_size=40, latency_runs=5)

    # the same chunks as compare_deployment: the near-tie images can flip between batch shapes
    keras_p = _softmax(np.concatenate([model(tf.constant(images[i:i + 40]), training=False).numpy()
                                       for i in range(0, len(images), 40)]).astype(np.float64))
    tflite_p = _softmax(tflite.predict(images).astype(np.float64))
    keras_y, tflite_y = keras_p.argmax(1), tflite_p.argmax(1)
    assert result.keras_accuracy == pytest.approx(np.mean(keras_y == labels))
    assert result.tflite_accuracy == pytest.approx(np.mean(tflite_y == labels))
    assert result.label_agreement == pytest.approx(np.mean(keras_y == tflite_y))
    loyalty = np.array([1 - np.sqrt(max(_js_bits(p, q), 0.0)) for p, q in zip(tflite_p, keras_p)])
    np.testing.assert_allclose(result.per_example["probability_loyalty"], loyalty, atol=1e-6)
    assert result.probability_loyalty == pytest.approx(loyalty.mean(), abs=1e-6)
    disagreeing = set(ids[keras_y != tflite_y])
    assert len(disagreeing) > 0
    assert set(result.exemplars) == disagreeing
    assert result.summary["n_disagreements"] == len(disagreeing)
    assert list(result.per_example.index[:3]) == ["img000", "img001", "img002"]
    np.testing.assert_array_equal(result.per_example["label"], labels)

    weights = model.get_weights()
    assert result.sizes.loc["keras", "bytes"] == sum(w.nbytes for w in weights)
    assert result.sizes.loc["tflite", "bytes"] == len(tflite.flatbuffer)
    assert result.sizes.loc["tflite", "gzip_bytes"] == tflite.gzip_bytes
    assert list(result.latency.index) == [1, 2]
    assert (result.latency["median_ms"] > 0).all()


def test_arrays_without_labels_and_output_kinds(trained_resnet, exported, data):
    images = data[0][:30]
    result = pie_tf.compare_deployment(trained_resnet, exported["float32"], images,
                                       latency_threads=(1,), latency_runs=3)
    assert np.isnan(result.keras_accuracy) and np.isnan(result.tflite_accuracy)
    assert list(result.per_example.index) == list(range(30))
    assert result.label_agreement == 1.0 and result.probability_loyalty > 0.9999
    # probabilities pass through; logits and single sigmoid logits become distributions
    p = np.array([[0.2, 0.8], [0.5, 0.5]])
    np.testing.assert_allclose(to_probabilities(p), p)
    np.testing.assert_allclose(to_probabilities(np.log(p)), p)
    np.testing.assert_allclose(to_probabilities(np.array([[0.0], [2.0]])),
                               [[0.5, 0.5], [1 - 1 / (1 + np.exp(-2)), 1 / (1 + np.exp(-2))]])


def test_bad_input_is_rejected_clearly(trained_resnet, exported, data):
    with pytest.raises(TypeError, match="tflite_model"):
        pie_tf.compare_deployment(trained_resnet, exported["float32"].flatbuffer, data[0])
    with pytest.raises(ValueError, match="labels"):
        pie_tf.compare_deployment(trained_resnet, exported["float32"], data[0], labels=[1, 2])
    with pytest.raises(ValueError, match="outputs"):
        pie_tf.compare_deployment(trained_resnet, exported["float32"], data[0], outputs="scores")
    with pytest.raises(ValueError, match="latency_threads"):
        pie_tf.compare_deployment(trained_resnet, exported["float32"], data[0],
                                  latency_threads=(0,))
