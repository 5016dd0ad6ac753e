"""Mitigation building blocks: the distillation loss against a hand computation, sample weights
reaching the loss, the weight formulas against brute-force loops, and a pruning run with both."""
import numpy as np
import pytest

import pie_tf
from pie_tf import keras
from pie_tf._keras import tf
from pie_tf.compress import mitigation
from pie_tf.errors import InvalidArgumentError


def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _hand_distillation(labels, teacher, student_logits, t, w):
    """Hinton et al.'s loss written out in numpy, example by example."""
    out = []
    for y, pt, z in zip(labels, teacher, student_logits):
        ps = _softmax(z)
        hard = -np.log(ps[y])
        soft_t = _softmax(np.log(pt) / t)
        soft_s = _softmax(z / t)
        kl = float(np.sum(soft_t * (np.log(soft_t) - np.log(soft_s))))
        out.append((1 - w) * hard + w * t * t * kl)
    return np.array(out)


def _random_case(rng, n=16, k=5):
    labels = rng.integers(0, k, n)
    teacher = _softmax(rng.normal(size=(n, k)) * 2)
    logits = rng.normal(size=(n, k)) * 2
    return labels, teacher, logits


@pytest.mark.parametrize("t,w", [(1.0, 0.5), (4.0, 0.3), (2.5, 1.0)])
def test_distillation_loss_matches_hand_computation(t, w):
    rng = np.random.default_rng(1)
    labels, teacher, logits = _random_case(rng)
    expected = _hand_distillation(labels, teacher, logits, t, w)
    y_true = mitigation.pack_targets(labels, teacher)
    per_example = mitigation.DistillationLoss(t, w, reduction=keras.losses.Reduction.NONE)
    # a softmax model (probabilities) and a logits model give the same loss
    got_probs = per_example(y_true, _softmax(logits).astype(np.float32)).numpy()
    got_logits = mitigation.DistillationLoss(t, w, from_logits=True,
                                             reduction=keras.losses.Reduction.NONE)(
        y_true, logits.astype(np.float32)).numpy()
    np.testing.assert_allclose(got_probs, expected, rtol=2e-4, atol=1e-5)
    np.testing.assert_allclose(got_logits, expected, rtol=2e-4, atol=1e-5)
    # the default reduction with sample weights: sum(w * loss) / batch size, as Keras does
    weights = rng.uniform(0, 2, len(labels)).astype(np.float32)
    mean = mitigation.DistillationLoss(t, w)(y_true, _softmax(logits).astype(np.float32),
                                             sample_weight=weights).numpy()
    np.testing.assert_allclose(mean, np.sum(weights * expected) / len(labels), rtol=2e-4)


def test_distillation_loss_limits_and_config():
    rng = np.random.default_rng(2)
    labels, teacher, logits = _random_case(rng)
    probs = _softmax(logits).astype(np.float32)
    y_true = mitigation.pack_targets(labels, teacher)
    ce = keras.losses.SparseCategoricalCrossentropy()(labels, probs).numpy()
    assert mitigation.DistillationLoss(3.0, 0.0)(y_true, probs).numpy() == pytest.approx(
        ce, rel=1e-5)
    # the student equal to the teacher: the soft term vanishes at any temperature
    same = mitigation.DistillationLoss(5.0, 1.0)(y_true, teacher.astype(np.float32)).numpy()
    assert abs(same) < 1e-5
    loss = mitigation.DistillationLoss(2.0, 0.25)
    clone = mitigation.DistillationLoss.from_config(loss.get_config())
    assert (clone.temperature, clone.weight, clone.from_logits) == (2.0, 0.25, False)
    for kwargs in ({"temperature": 0}, {"temperature": float("inf")}, {"weight": 1.5},
                   {"weight": True}):
        with pytest.raises(InvalidArgumentError, match=next(iter(kwargs))):
            mitigation.DistillationLoss(**kwargs)


def test_packed_label_accuracy_reads_the_label_column():
    rng = np.random.default_rng(3)
    labels, teacher, logits = _random_case(rng, n=40)
    probs = _softmax(logits)
    metric = mitigation.PackedLabelAccuracy()
    metric.update_state(mitigation.pack_targets(labels, teacher), probs)
    assert metric.result().numpy() == pytest.approx(np.mean(probs.argmax(1) == labels))


def _pairs(n=32, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = rng.integers(0, k, n).astype(np.int64)
    return x, y, tf.data.Dataset.from_tensor_slices((x, y))


def _linear_model(k=3):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(k, activation="softmax")])
    model.compile(keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy())
    return model


def test_sample_weights_reach_the_loss_and_the_gradient():
    x, y, pairs = _pairs()
    weights = np.r_[np.full(16, 2.0), np.zeros(16)].astype(np.float32)
    weighted = mitigation.with_sample_weights(pairs, weights)
    model = _linear_model()
    probs = model.predict(x, verbose=0)
    ce = -np.log(probs[np.arange(len(y)), y])
    # the reported loss is Keras' weighted mean: sum(w * ce) / batch size
    loss = model.evaluate(weighted.batch(32), verbose=0)
    assert loss == pytest.approx(np.sum(weights * ce) / 32, rel=1e-5)
    # one SGD step with weights 2/0 equals one unweighted step on the first half alone
    model.fit(weighted.batch(32), epochs=1, verbose=0)
    reference = _linear_model()
    reference.fit(pairs.take(16).batch(16), epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.get_weights()[0], _linear_model().get_weights()[0])


def test_soft_targets_follow_their_example_through_a_shuffle():
    x, y, pairs = _pairs(n=20)
    teacher = _softmax(np.random.default_rng(4).normal(size=(20, 3))).astype(np.float32)
    ds = mitigation.with_soft_targets(pairs, teacher).shuffle(20, seed=1)
    for image, target in ds.as_numpy_iterator():
        i = int(np.flatnonzero(np.all(x == image, axis=1))[0])
        assert target[0] == y[i]
        np.testing.assert_allclose(target[1:], teacher[i], rtol=1e-6)
    with pytest.raises(InvalidArgumentError, match="teacher_probs"):
        mitigation.with_soft_targets(pairs, teacher[:10])
    with pytest.raises(InvalidArgumentError, match="teacher_probs"):
        mitigation.with_soft_targets(pairs, teacher * 2)
    with pytest.raises(InvalidArgumentError, match="weights"):
        mitigation.with_sample_weights(pairs, np.ones(19))
    with pytest.raises(InvalidArgumentError, match="weights"):
        mitigation.with_sample_weights(pairs, -np.ones(20))


def test_distillation_under_prune_callback():
    """A pruning run with the distillation loss, soft targets and weights: the masks reach the
    target sparsity, and the model moves towards its teacher's distribution."""
    x, y, pairs = _pairs(n=64, k=3, seed=5)
    keras.utils.set_random_seed(0)
    teacher = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(3, activation="softmax")])
    student = pie_tf.clone_dense(teacher)
    probs = mitigation.teacher_probabilities(teacher, pairs, batch_size=10)
    np.testing.assert_allclose(probs, teacher.predict(x, verbose=0), rtol=1e-5)
    # the student starts from a perturbed copy, so it has something to learn from its teacher
    student.set_weights([w + np.random.default_rng(6).normal(0, 0.5, w.shape)
                         for w in student.get_weights()])
    ds = mitigation.with_sample_weights(mitigation.with_soft_targets(pairs, probs),
                                        mitigation.performance_weights(probs, y))
    loss = mitigation.DistillationLoss(2.0, 1.0, reduction=keras.losses.Reduction.NONE)
    targets = mitigation.pack_targets(y, probs)
    before = float(np.mean(loss(targets, student.predict(x, verbose=0))))
    student.compile(keras.optimizers.SGD(0.1), loss=mitigation.DistillationLoss(2.0, 1.0),
                    metrics=[mitigation.PackedLabelAccuracy()])
    history = student.fit(ds.batch(16), epochs=8, verbose=0,
                          callbacks=[pie_tf.PruneCallback(0.5, end=0.5)])
    assert 0 <= history.history["accuracy"][-1] <= 1
    after = float(np.mean(loss(targets, student.predict(x, verbose=0))))
    assert after < before
    kernel = student.layers[0].kernel.numpy()
    assert np.mean(kernel == 0) == pytest.approx(0.5, abs=1 / kernel.size)


def test_performance_weights_formula():
    rng = np.random.default_rng(7)
    members = _softmax(rng.normal(size=(3, 50, 4)))
    labels = rng.integers(0, 4, 50)
    mean = members.mean(axis=0)
    raw = mitigation.performance_weights(members, labels, min_weight=0.3, gamma=2.0,
                                         normalize=False)
    hand = [0.3 + 0.7 * (1 - mean[i, labels[i]]) ** 2 for i in range(50)]
    np.testing.assert_allclose(raw, hand, rtol=1e-6)
    normalized = mitigation.performance_weights(members, labels, min_weight=0.3, gamma=2.0)
    np.testing.assert_allclose(normalized, np.array(hand) / np.mean(hand), rtol=1e-5)
    # harder examples (lower probability of the label) weigh more
    p = mean[np.arange(50), labels]
    assert np.all(np.diff(raw[np.argsort(p)]) <= 1e-7)
    with pytest.raises(InvalidArgumentError, match="min_weight"):
        mitigation.performance_weights(mean, labels, min_weight=2)
    with pytest.raises(InvalidArgumentError, match="labels"):
        mitigation.performance_weights(mean, labels[:10])
    with pytest.raises(InvalidArgumentError, match="labels"):
        mitigation.performance_weights(mean, labels + 4)


def test_group_weights_against_a_loop_and_independence():
    rng = np.random.default_rng(8)
    n = 400
    male = rng.random(n) < 0.4
    young = rng.random(n) < 0.75
    labels = (rng.random(n) < np.where(male, 0.03, 0.25)).astype(int)
    weights = mitigation.group_weights({"Male": male, "Young": young}, labels)
    for i in range(0, n, 37):
        same_s = (male == male[i]) & (young == young[i])
        expected = same_s.mean() * (labels == labels[i]).mean() / (
            same_s & (labels == labels[i])).mean()
        assert weights[i] == pytest.approx(expected, rel=1e-5)
    assert weights.mean() == pytest.approx(1.0, rel=1e-5)
    # in the weighted data the label no longer depends on the group
    overall = np.sum(weights * labels) / np.sum(weights)
    for m in (False, True):
        for yg in (False, True):
            cell = (male == m) & (young == yg)
            assert np.sum(weights[cell] * labels[cell]) / np.sum(weights[cell]) == \
                pytest.approx(overall, rel=1e-4)
    with pytest.raises(InvalidArgumentError, match="Male"):
        mitigation.group_weights({"Male": male[:10]}, labels)
    with pytest.raises(InvalidArgumentError, match="attributes"):
        mitigation.group_weights({}, labels)


def test_a_saturated_softmax_student_still_gets_a_gradient():
    """The log of clipped probabilities has no gradient below the clip; the loss uses the
    softmax's logits instead, so a member saturated on the wrong class can recover."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    logits = keras.layers.Dense(2)(inputs)
    model = keras.Model(inputs, keras.layers.Softmax()(logits))
    logit_model = keras.Model(inputs, logits)
    model.layers[1].set_weights([np.array([[40.0, -40.0]] * 4, np.float32), np.zeros(2)])
    x = np.ones((3, 4), np.float32)
    y = mitigation.pack_targets(np.ones(3, np.int64), np.tile([[0.1, 0.9]], (3, 1)))
    assert model(x).numpy()[:, 1].max() < 1e-30                 # far below the 1e-7 clip
    loss, reference = mitigation.DistillationLoss(2.0, 0.5), mitigation.DistillationLoss(
        2.0, 0.5, from_logits=True)
    kernel = model.layers[1].kernel
    for fn in (tf.function, lambda f: f):                       # graph and eager
        with tf.GradientTape(persistent=True) as tape:
            got = fn(lambda: loss(y, model(x)))()
            expected = reference(y, logit_model(x))
        grad, grad_ref = tape.gradient(got, kernel), tape.gradient(expected, kernel)
        assert float(got) == pytest.approx(float(expected), rel=1e-5)
        assert np.abs(grad.numpy()).max() > 1.0
        np.testing.assert_allclose(grad.numpy(), grad_ref.numpy(), rtol=1e-5)


def test_tempered_group_weights():
    rng = np.random.default_rng(9)
    male = rng.random(300) < 0.4
    labels = (rng.random(300) < np.where(male, 0.05, 0.25)).astype(int)
    full = mitigation.group_weights({"Male": male}, labels)
    half = mitigation.group_weights({"Male": male}, labels, power=0.5)
    np.testing.assert_allclose(half, np.sqrt(full) / np.sqrt(full).mean(), rtol=1e-5)
    assert half.max() < full.max() and half.mean() == pytest.approx(1.0, rel=1e-5)
    with pytest.raises(InvalidArgumentError, match="power"):
        mitigation.group_weights({"Male": male}, labels, power=0)
