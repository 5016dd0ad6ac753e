"""PruneCallback on plain Keras 3 and tf_keras models: sparsity, persistence, schedules, structure,
restarts. Tests marked ``both`` run once per Keras (the module's ``keras`` is swapped)."""
import numpy as np
import pytest
import tensorflow as tf

import pie_tf
from pie_tf import keras
from pie_tf._keras import Callback, tf_variable, weight_name
from pie_tf.compress.pruning import get_pruning_state
from tensorflow_model_optimization.sparsity import keras as tfmot_sparsity

N, BATCH = 64, 16            # 4 steps per epoch
both = pytest.mark.usefixtures("each_keras")


def small_resnet(channels=4):
    """Conv stem, one residual block (BatchNorm + Add), Dense head: 3 prunable kernels."""
    inputs = keras.Input((8, 8, channels))
    x = keras.layers.Conv2D(8, 3, padding="same", name="stem")(inputs)
    x = keras.layers.BatchNormalization()(x)
    x = keras.layers.ReLU()(x)
    y = keras.layers.Conv2D(8, 3, padding="same", name="block_conv")(x)
    y = keras.layers.BatchNormalization()(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(8, name="head")(x)
    return keras.Model(inputs, outputs)


def mlp(width=16):
    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(width, activation="relu",
                                                                   name="hidden"),
                             keras.layers.Dense(8, name="out")])


def compiled(model, **kwargs):
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True), **kwargs)
    return model


def data(shape):
    rng = np.random.default_rng(0)
    return rng.normal(size=(N,) + shape).astype("float32"), rng.integers(0, 8, N)


def fit(model, callbacks, epochs=3, **kwargs):
    x, y = data(model.input_shape[1:])
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=callbacks, verbose=0,
                     shuffle=False, **kwargs)


class ZeroRecorder(Callback):
    """After every batch (placed after PruneCallback): the zero pattern of chosen kernels."""

    def __init__(self, weights):
        super().__init__()
        self.weights, self.zeros = weights, []

    def on_train_batch_end(self, batch, logs=None):
        self.zeros.append([w.numpy() == 0 for w in self.weights])


def kernels(model, names):
    return [model.get_layer(n).kernel for n in names]


def size_of(weight):
    return int(np.prod(weight.shape))


def expected_zeros(size, sparsity):
    # tfmot keeps max(round(size * (1 - s)), 1) entries.
    return size - max(int(np.round(np.float32(size) * np.float32(1 - sparsity))), 1)


def zhu_gupta(step, begin, end, final, power=3):
    """Zhu & Gupta's gradual schedule, written out independently of tfmot."""
    p = min(1.0, max(0.0, (step - begin) / (end - begin)))
    return final * (1.0 - (1.0 - p) ** power)


@both
def test_resnet_reaches_exact_sparsity_and_zeros_persist():
    model = compiled(small_resnet())
    names = ["stem", "block_conv", "head"]
    before = {weight_name(w): w.numpy().copy() for w in model.weights}
    recorder = ZeroRecorder(kernels(model, names))
    cb = pie_tf.PruneCallback(0.75, end=0.5, frequency=1)   # 12 steps; schedule ends at step 6
    fit(model, [cb, recorder])

    # A plain model: same layers, same weights list, no wrappers.
    assert [weight_name(w) for w in model.weights] == list(before)
    assert not any("prune" in type(layer).__name__.lower() for layer in model.layers)
    for w in kernels(model, names):
        assert int(np.sum(w.numpy() == 0)) == expected_zeros(size_of(w), 0.75)
    # Biases and BatchNormalization are not pruned: trained away from their initial values,
    # none of their entries is zero.
    for w in model.weights:
        if "kernel" not in w.name:
            assert np.count_nonzero(w.numpy() == 0) == 0, w.name

    # Per step: the zero count follows Zhu & Gupta (mask for step t+1 in force after step t), and
    # once the schedule ended (step 6) the zero pattern never changes again.
    for t, zeros in enumerate(recorder.zeros, start=1):
        s = zhu_gupta(min(t + 1, 6), 0, 6, 0.75)
        for z in zeros:
            assert int(z.sum()) == expected_zeros(z.size, s), (t, s)
    final = recorder.zeros[5]
    for zeros in recorder.zeros[6:]:
        for z, f in zip(zeros, final):
            np.testing.assert_array_equal(z, f)

    # A later fit with the same callback keeps exactly those zeros at every step.
    later = ZeroRecorder(kernels(model, names))
    fit(model, [cb, later], epochs=1)
    for zeros in later.zeros:
        for z, f in zip(zeros, final):
            np.testing.assert_array_equal(z, f)


@both
def test_constant_and_custom_schedules():
    model = compiled(mlp())
    cb = pie_tf.PruneCallback(0.5, schedule="constant", begin=2, end=6, frequency=2)
    recorder = ZeroRecorder(kernels(model, ["hidden"]))
    fit(model, [cb, recorder])
    counts = [int(z[0].sum()) for z in recorder.zeros]
    # First update prepared after step 1 (for step 2): from then on exactly half.
    assert counts[0] == 64 and all(c == 64 for c in counts)
    assert int(np.sum(model.get_layer("out").kernel.numpy() == 0)) == 64

    class TwoStage(tfmot_sparsity.PruningSchedule):
        """0.3 from step 2, 0.6 from step 8 (a user subclass)."""

        def __call__(self, step):
            should = tf.logical_or(tf.equal(step, 2), tf.equal(step, 8))
            return should, tf.where(step >= 8, 0.6, 0.3)

        def get_config(self):
            return {}

    model = compiled(mlp())
    recorder = ZeroRecorder(kernels(model, ["hidden"]))
    fit(model, [pie_tf.PruneCallback(0.6, schedule=TwoStage()), recorder])
    counts = [int(z[0].sum()) for z in recorder.zeros]
    assert counts[:7] == [expected_zeros(128, 0.3)] * 6 + [expected_zeros(128, 0.6)]
    assert counts[-1] == expected_zeros(128, 0.6)


@both
def test_polynomial_default_spans_the_whole_fit():
    model = compiled(mlp())
    cb = pie_tf.PruneCallback(0.9)
    recorder = ZeroRecorder(kernels(model, ["hidden", "out"]))
    fit(model, [cb, recorder], epochs=5)                 # 20 steps, frequency 2
    resolved = cb.resolved_schedule
    schedule, begin, end = resolved.schedule, resolved.begin_step, resolved.end_step
    assert (begin, end, schedule.frequency, schedule.power) == (0, 20, 2, 3)
    counts = [int(z[0].sum()) for z in recorder.zeros]
    assert counts == sorted(counts) and counts[-1] == expected_zeros(128, 0.9)
    # After step t the mask of the last update at or before t + 1 (every 2nd step) is in force.
    for t, count in enumerate(counts, start=1):
        assert count == expected_zeros(128, zhu_gupta((t + 1) // 2 * 2, 0, 20, 0.9)), t


@both
def test_two_by_four_and_block_sparsity():
    model = compiled(mlp())
    fit(model, [pie_tf.PruneCallback(0.5, m_by_n=(2, 4))], epochs=2)
    for w in kernels(model, ["hidden", "out"]):
        # tfmot groups along the input dimension (TFLite layout [out, in]).
        groups = w.numpy().T.reshape(w.shape[1], -1, 4)
        assert np.all(np.count_nonzero(groups, axis=-1) <= 2)
        assert int(np.sum(w.numpy() == 0)) == size_of(w) // 2

    model = compiled(mlp())
    fit(model, [pie_tf.PruneCallback(0.5, block_size=(2, 2), frequency=1)], epochs=2)
    for w in kernels(model, ["hidden", "out"]):
        blocks = (w.numpy() == 0).reshape(w.shape[0] // 2, 2, w.shape[1] // 2, 2)
        per_block = blocks.sum(axis=(1, 3))
        assert set(np.unique(per_block)) <= {0, 4}          # whole 2x2 blocks are zero
        assert int(per_block.sum()) == size_of(w) // 2


@both
def test_layers_narrows_and_widens():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inputs)
    x = keras.layers.Conv2D(8, 1, name="pw")(x)
    outputs = keras.layers.Dense(8, name="head")(keras.layers.Flatten()(x))
    model = compiled(keras.Model(inputs, outputs))
    fit(model, [pie_tf.PruneCallback(0.5, layers=["dw", "head"], frequency=1)], epochs=1)
    dw = model.get_layer("dw")
    dw_kernel = dw.depthwise_kernel if hasattr(dw, "depthwise_kernel") else dw.kernel  # Keras 3
    assert int(np.sum(dw_kernel.numpy() == 0)) == 18
    assert int(np.sum(model.get_layer("pw").kernel.numpy() == 0)) == 0
    assert int(np.sum(model.get_layer("head").kernel.numpy() == 0)) == expected_zeros(2304, 0.5)


@both
def test_sparsity_report_matches_numpy_count():
    model = compiled(small_resnet())
    fit(model, [pie_tf.PruneCallback(0.6)], epochs=1)
    report = pie_tf.sparsity_report(model)
    rows, overall = report.iloc[:-1], report.iloc[-1]
    assert list(rows["weight"]) == [weight_name(w) for w in model.weights]
    size = zeros = 0
    for (_, row), w in zip(rows.iterrows(), model.weights):
        value = w.numpy()
        n_zero = sum(1 for v in value.ravel() if v == 0.0)           # brute force
        assert (row["size"], row["zeros"], row["shape"]) == (value.size, n_zero, value.shape)
        assert row["sparsity"] == pytest.approx(n_zero / value.size)
        assert row["prunable"] == weight_name(w).split(":")[0].endswith("kernel")
        if row["prunable"]:
            size, zeros = size + value.size, zeros + n_zero
    assert overall["layer"] == "(overall)"
    assert overall["sparsity"] == pytest.approx(zeros / size)
    assert report.attrs["overall_sparsity"] == pytest.approx(zeros / size)
    # On a dense model, nothing is sparse and the registry decides what is prunable.
    fresh = small_resnet()
    dense_report = pie_tf.sparsity_report(fresh)
    assert list(dense_report["zeros"].iloc[:-1]) == [int(np.sum(w.numpy() == 0))
                                                      for w in fresh.weights]
    assert dense_report["prunable"].iloc[:-1].sum() == 3


@both
def test_clone_dense_is_independent():
    model = compiled(mlp())
    dense = pie_tf.clone_dense(model)
    original = [w.copy() for w in model.get_weights()]
    fit(model, [pie_tf.PruneCallback(0.8)], epochs=1)
    for a, b in zip(dense.get_weights(), original):
        np.testing.assert_array_equal(a, b)
    assert not any(np.sum(w == 0) for w in dense.get_weights()[::2])
    assert get_pruning_state(dense) is None and get_pruning_state(model) is not None
    # The pruned model's layers are not modified either (tfmot's registry would add a method).
    assert not any(hasattr(layer, "get_prunable_weights") for layer in model.layers)
    assert type(dense).__module__.split(".")[0] == type(model).__module__.split(".")[0]


def test_state_is_checkpointed_but_not_in_model_weights(tmp_path):
    model = compiled(mlp())
    n_weights = len(model.weights)
    fit(model, [pie_tf.PruneCallback(0.5)], epochs=1)
    assert len(model.weights) == n_weights
    model.save_weights(str(tmp_path / "w.h5"))               # h5 users see the plain weights
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt"))
    names = [n for n, _ in tf.train.list_variables(path)]
    assert any("pie_tf_pruning/masks/0" in n for n in names)
    assert any("pie_tf_pruning/step" in n for n in names)


@pytest.mark.parametrize("restore", ["model_checkpoint", "tf_checkpoint"])
def test_resume_with_initial_epoch_continues_the_schedule(tmp_path, restore):
    class MaskAtStart(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):         # after PruneCallback attached its state
            self.mask = get_pruning_state(self.model).masks[0].numpy()

    def run(model, epochs, initial_epoch=0, extra=()):
        recorder = ZeroRecorder(kernels(model, ["hidden"]))
        cb = pie_tf.PruneCallback(0.8, frequency=3)          # 16 steps: updates at 3, 6, .., 15
        fit(model, [cb, recorder, *extra], epochs=epochs, initial_epoch=initial_epoch)
        return [int(z[0].sum()) for z in recorder.zeros], cb

    full, _ = run(compiled(mlp()), epochs=4)
    assert full[-1] == expected_zeros(128, 0.8)

    # Interrupted after epoch 2 (callback raises), with a checkpoint of epoch 2.
    class Interrupted(Exception):
        pass

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise Interrupted

    class TrainCheckpoint(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            tf.train.Checkpoint(model=self.model).write(str(tmp_path / "ck"))

    first = compiled(mlp())
    if restore == "model_checkpoint":
        saver = keras.callbacks.ModelCheckpoint(str(tmp_path / "ck"), save_weights_only=True)
    else:
        saver = TrainCheckpoint()
    recorder = ZeroRecorder(kernels(first, ["hidden"]))
    with pytest.raises(Interrupted):
        fit(first, [pie_tf.PruneCallback(0.8, frequency=3), recorder, saver, Stop()], epochs=4)
    head = [int(z[0].sum()) for z in recorder.zeros]
    assert len(head) == 8
    saved_mask = get_pruning_state(first).masks[0].numpy()

    resumed = compiled(mlp())
    if restore == "model_checkpoint":
        resumed.load_weights(str(tmp_path / "ck"))
    else:
        tf.train.Checkpoint(model=resumed).read(str(tmp_path / "ck"))
    at_start = MaskAtStart()
    tail, cb = run(resumed, epochs=4, initial_epoch=2, extra=(at_start,))
    np.testing.assert_array_equal(at_start.mask, saved_mask)     # masks restored
    assert head + tail == full                                   # same schedule, same counts
    assert int(get_pruning_state(resumed).step.numpy()) == 16


@both
def test_mirrored_strategy_two_replicas(mirrored_strategy):
    strategy = mirrored_strategy
    with strategy.scope():
        model = compiled(small_resnet())
    x, y = data((8, 8, 4))
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    cb = pie_tf.PruneCallback(0.7)
    model.fit(ds, epochs=2, callbacks=[cb], verbose=0)
    for name in ["stem", "block_conv", "head"]:
        kernel = model.get_layer(name).kernel
        assert int(np.sum(kernel.numpy() == 0)) == expected_zeros(size_of(kernel),
                                                                  0.7)
        replicas = [v.numpy() for v in tf_variable(kernel).values]
        np.testing.assert_array_equal(replicas[0], replicas[1])
    masks = get_pruning_state(model).masks[0]
    np.testing.assert_array_equal(masks.values[0].numpy(), masks.values[1].numpy())


@both
def test_tensorboard_logs_per_tensor_sparsity(tmp_path):
    from tensorboard.backend.event_processing import event_accumulator

    model = compiled(mlp())
    fit(model, [pie_tf.PruneCallback(0.5, log_dir=str(tmp_path))], epochs=2)
    acc = event_accumulator.EventAccumulator(str(tmp_path / "pruning"),
                                             size_guidance={"tensors": 0})
    acc.Reload()
    # tf_keras: "hidden/kernel"; Keras 3: the variable's path, "<model name>/hidden/kernel"
    (tag,) = [t for t in acc.Tags()["tensors"] if t.endswith("/hidden/kernel")]
    assert tag.startswith("pruning/sparsity/")
    last = acc.Tensors(tag)[-1]
    assert last.step == 8
    assert float(tf.make_ndarray(last.tensor_proto)) == pytest.approx(
        expected_zeros(128, 0.5) / 128)
