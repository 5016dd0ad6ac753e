"""pie_tf.compress.masks: tfmot's thresholds and masks, read without sorting whole tensors."""
import numpy as np
import pytest
import tensorflow as tf

import pie_tf
from pie_tf import keras
from pie_tf._keras import Callback, tf_variable
from pie_tf.compress import masks
from pie_tf.compress.masks import MIN_SIZE, SelectingPruning, kth_largest
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_impl
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity


def magnitudes(kind, n, seed=0):
    rng = np.random.default_rng(seed)
    a = np.abs(rng.normal(size=n)).astype("float32")
    if kind == "ties":                        # a few hundred distinct values, many equal
        a = np.round(a, 2)
    elif kind == "mostly_zero":               # a pruned tensor: 90% exact zeros
        a[rng.random(n) < 0.9] = 0.0
    elif kind == "constant":
        a[:] = 0.25
    return a


def numpy_kth_largest(a, k):
    """Independent: the k-th entry of a stable descending sort (equal values by index)."""
    order = np.argsort(-a, kind="stable")
    return a[order[k - 1]], order[k - 1]


@pytest.mark.parametrize("kind", ["normal", "ties", "mostly_zero", "constant"])
def test_kth_largest_equals_a_stable_full_sort(kind):
    a = magnitudes(kind, 100_003)
    n = a.size
    select = tf.function(kth_largest)
    ranks = [1, 2, 17, n // 10, n // 2, n - n // 10, n - 5, n - 1, n]
    for k in ranks:
        value, index, selected = select(tf.constant(a), tf.constant(k, tf.int32))
        want_value, want_index = numpy_kth_largest(a, k)
        assert (float(value), int(index)) == (float(want_value), int(want_index)), k
        assert bool(selected), f"bracket missed the {k}-th largest of {kind} magnitudes"
    # A bracket without margin misses distinct values (equal ones fill it): the full sort runs.
    k = n // 3
    value, index, selected = kth_largest(a, k, sample_size=64, sigmas=0.0, extra_ranks=0)
    assert bool(selected) == (kind in ("mostly_zero", "constant"))
    assert (float(value), int(index)) == tuple(map(float, numpy_kth_largest(a, k)))


def test_nan_magnitudes_fall_back_to_tfmots_sort():
    a = magnitudes("normal", 70_000)
    a[123] = np.nan
    k = 20_000
    value, index, selected = kth_largest(a, k)
    top, at = tf.math.top_k(a, k=a.size)
    assert not bool(selected)
    assert (float(value), int(index)) == (float(top[k - 1]), int(at[k - 1]))


def layer_kernels():
    """Kernels of the layer types PruneCallback prunes, each >= MIN_SIZE entries."""
    layers = [
        (keras.layers.Dense(256), (None, 300)),
        (keras.layers.Conv2D(128, 3), (None, 16, 16, 64)),
        (keras.layers.Conv1D(128, 5), (None, 32, 128)),
        (keras.layers.Conv2DTranspose(64, 3), (None, 8, 8, 128)),
        (keras.layers.Embedding(1000, 80), (None, 4)),
        (keras.layers.LSTM(256), (None, 5, 64)),
    ]
    out = []
    for layer, shape in layers:
        layer.build(shape)
        out.append((type(layer).__name__, layer.trainable_weights[0]))
    return out


def tfmot_and_ours(weight, sparsity, **kwargs):
    """(threshold, mask) from tfmot's Pruning and from SelectingPruning, same arguments."""
    schedule = tfmot_sparsity.ConstantSparsity(sparsity, 0, frequency=1)
    args = dict(training_step_fn=lambda: tf.constant(1, tf.int64), pruning_schedule=schedule,
                block_size=kwargs.pop("block_size", (1, 1)),
                block_pooling_type=kwargs.pop("block_pooling_type", "AVG"))
    mask = tf.Variable(tf.ones_like(weight))
    threshold = tf.Variable(tf.zeros([], weight.dtype))
    out = []
    for cls in (pruning_impl.Pruning, SelectingPruning):
        pruning = cls(pruning_vars=[(weight, mask, threshold)], **args)
        t, m = pruning._maybe_update_block_mask(weight)
        out.append((float(t), m.numpy()))
    return out


@pytest.mark.parametrize("kind", ["normal", "ties", "mostly_zero"])
def test_masks_equal_tfmots_on_layer_kernels(kind):
    for i, (name, kernel) in enumerate(layer_kernels()):
        assert kernel.shape.num_elements() >= MIN_SIZE
        values = magnitudes(kind, kernel.shape.num_elements(), seed=i)
        signs = np.where(np.random.default_rng(i).random(values.size) < 0.5, -1, 1)
        kernel.assign((values * signs).reshape(kernel.shape).astype("float32"))
        for sparsity in (0.0, 0.3, 0.8, 0.97):
            (t0, m0), (t1, m1) = tfmot_and_ours(kernel, sparsity)
            assert t0 == t1, (name, sparsity)
            np.testing.assert_array_equal(m0, m1, err_msg=f"{name} at {sparsity}")
            if kind == "normal":             # tfmot's count of kept entries
                kept = max(int(np.round(np.float32(values.size) * np.float32(1 - sparsity))), 1)
                assert int(m1.sum()) == kept


@pytest.mark.parametrize("block_size, pooling", [((1, 2), "AVG"), ((2, 1), "MAX")])
def test_block_masks_equal_tfmots(block_size, pooling):
    kernel = tf.Variable(np.random.default_rng(3).normal(size=(512, 512)).astype("float32"))
    for sparsity in (0.5, 0.9):
        (t0, m0), (t1, m1) = tfmot_and_ours(kernel, sparsity, block_size=block_size,
                                            block_pooling_type=pooling)
        assert t0 == t1
        np.testing.assert_array_equal(m0, m1)
        blocks = m1.reshape(512 // block_size[0], block_size[0], 512 // block_size[1],
                            block_size[1])
        assert np.all(blocks.min(axis=(1, 3)) == blocks.max(axis=(1, 3)))  # whole blocks


class Snapshot(Callback):
    """Copies of ``weight`` (before PruneCallback: after the optimizer) or of ``mask`` (after
    PruneCallback) at every batch end, and the weight at every batch start."""

    def __init__(self, get):
        super().__init__()
        self.get, self.at_end, self.at_begin = get, [], []

    def on_train_batch_begin(self, batch, logs=None):
        self.at_begin.append(self.get().numpy().copy())

    def on_train_batch_end(self, batch, logs=None):
        self.at_end.append(self.get().numpy().copy())


@pytest.mark.usefixtures("each_keras")     # Keras 3 and tf_keras
def test_prune_callback_on_a_big_kernel_keeps_tfmots_masks_and_its_zeros(monkeypatch):
    model = keras.Sequential([keras.Input((300,)), keras.layers.Dense(256, name="hidden"),
                              keras.layers.Dense(8, name="out")])
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    hidden = tf_variable(model.get_layer("hidden").kernel)
    assert hidden.shape.num_elements() >= MIN_SIZE
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 300)).astype("float32"), rng.integers(0, 8, 64)
    callback = pie_tf.PruneCallback(0.8, frequency=2)
    weights = Snapshot(lambda: hidden)
    state = {}
    mask = Snapshot(lambda: state["mask"])

    class Attach(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            at = [i for i, w in enumerate(callback._weights) if w is hidden]
            state["mask"] = callback._state.masks[at[0]]

    selections = []

    def counted(values, k, **kwargs):
        selections.append(values.shape.num_elements())
        return kth_largest(values, k, **kwargs)

    monkeypatch.setattr(masks, "kth_largest", counted)
    model.fit(x, y, batch_size=16, epochs=3, shuffle=False, verbose=0,
              callbacks=[weights, callback, Attach(), mask])
    schedule = callback.resolved_schedule.schedule
    updates = 0
    for step, (w, m) in enumerate(zip(weights.at_end, mask.at_end), start=1):
        should = schedule(tf.constant(step + 1, tf.int64))[0]
        if bool(should):                      # the masks of step + 1, from these weights
            want = pruning_impl.Pruning(
                lambda s=step: tf.constant(s + 1, tf.int64), [], schedule, (1, 1), "AVG")
            _, want_mask = want._update_mask(tf.constant(w))
            np.testing.assert_array_equal(m, want_mask.numpy(), err_msg=f"step {step}")
            updates += 1
        elif step > 1:
            np.testing.assert_array_equal(m, mask.at_end[step - 2])
        # Every step's forward pass saw the masks in force: zeros where the mask is zero.
        if step < len(weights.at_begin):
            assert np.all(weights.at_begin[step][m == 0] == 0)
    assert updates >= 4
    assert selections and set(selections) == {hidden.shape.num_elements()}   # only the big one
    size = hidden.shape.num_elements()
    assert int(np.sum(hidden.numpy() == 0)) == size - int(np.round(np.float32(size) * 0.2))


def test_big_kernel_under_mirrored_strategy(mirrored_strategy):
    """The selection runs in cross-replica context on mirrored variables: both replicas get
    the same, exactly sized mask."""
    with mirrored_strategy.scope():
        model = keras.Sequential([keras.Input((300,)), keras.layers.Dense(256, name="hidden"),
                                  keras.layers.Dense(8, name="out")])
        model.compile(keras.optimizers.SGD(0.05),
                      keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(64, 300)).astype("float32"), rng.integers(0, 8, 64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    model.fit(ds, epochs=2, verbose=0, callbacks=[pie_tf.PruneCallback(0.7)])
    kernel = tf_variable(model.get_layer("hidden").kernel)
    replicas = [v.numpy() for v in kernel.values]
    np.testing.assert_array_equal(replicas[0], replicas[1])
    size = kernel.shape.num_elements()
    kept = int(np.round(np.float32(size) * np.float32(0.3)))
    assert int(np.sum(replicas[0] == 0)) == size - kept
