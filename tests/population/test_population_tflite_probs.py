"""An int8 TFLite member's stored probabilities are distributions, with the deployed labels."""
import numpy as np

import pie_tf
from pie_tf.audit import probability_loyalty
from pie_tf.population._train import tflite_predictor
from tests.population import _tiny


def test_int8_softmax_outputs_are_renormalized_without_changing_labels():
    model = _tiny.build_model()
    images, _ = _tiny.arrays(64)
    tflite = pie_tf.export_tflite(model, "int8", representative_data=images)
    raw = np.asarray(tflite.predict(images, verbose=0), dtype=np.float64)
    assert np.abs(raw.sum(axis=1) - 1).max() > 1e-4  # quantized rows really are off

    probs = tflite_predictor(tflite, from_logits=False)(images)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_array_equal(probs.argmax(axis=1), raw.argmax(axis=1))
    np.testing.assert_allclose(probs, raw / raw.sum(axis=1, keepdims=True), rtol=1e-6)
    keras_probs = model.predict(images, verbose=0)
    assert probability_loyalty(probs, keras_probs).min() > 0.9
