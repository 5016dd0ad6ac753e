"""PruneCallback under the Keras habits people train with: early stops, restored "best" weights,
data that runs out, a second callback on a pruned model, initial_epoch, models built on their first
batch, frozen layers, QAT models; and the schedule resolved without fit. Tests marked ``both`` run
once per Keras (Keras 3 and tf_keras: the module's ``keras`` is swapped)."""
import re
import warnings

import numpy as np
import pytest
import tensorflow as tf

import pie_tf
from pie_tf import keras
from pie_tf._keras import Callback
from pie_tf.compress.schedule import resolve_schedule
from pie_tf.errors import IncompletePruningError, InvalidArgumentError, PruningWarning

N, BATCH = 64, 16            # 4 steps per epoch
both = pytest.mark.usefixtures("each_keras")


def mlp(with_input=True):
    layers = [keras.layers.Dense(16, activation="relu", name="hidden"),
              keras.layers.Dense(8, name="out")]
    return keras.Sequential(([keras.Input((8,))] if with_input else []) + layers)


def compiled(model):
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(N, 8)).astype("float32"), rng.integers(0, 8, N)


def fit(model, callbacks, epochs=3, **kwargs):
    x, y = data()
    return model.fit(x, y, batch_size=BATCH, epochs=epochs, callbacks=callbacks, verbose=0,
                     shuffle=False, **kwargs)


def expected_zeros(size, sparsity):
    # tfmot keeps max(round(size * (1 - s)), 1) entries.
    return size - max(int(np.round(np.float32(size) * np.float32(1 - sparsity))), 1)


def zeros(model, names=("hidden", "out")):
    return [int(np.sum(model.get_layer(n).kernel.numpy() == 0)) for n in names]


def at_target(model, sparsity, names=("hidden", "out")):
    return zeros(model, names) == [expected_zeros(int(np.prod(model.get_layer(n).kernel.shape)),
                                                  sparsity) for n in names]


class ZeroRecorder(Callback):
    """After every batch (placed after PruneCallback): the zero pattern of the hidden kernel."""

    def __init__(self):
        super().__init__()
        self.zeros = []

    def on_train_batch_end(self, batch, logs=None):
        self.zeros.append(self.model.get_layer("hidden").kernel.numpy() == 0)


class Score(Callback):
    """Writes logs["score"] = -epoch, so a monitor in mode "max" finds epoch 0 the best."""

    def on_epoch_end(self, epoch, logs=None):
        logs["score"] = float(-epoch)


def pruning_warnings(record):
    return [str(w.message) for w in record if issubclass(w.category, PruningWarning)]


# -- the schedule, without fit -------------------------------------------------------------------

def test_schedule_resolution_is_a_pure_function():
    r = resolve_schedule(0.9, total_steps=20)
    assert (r.begin_step, r.end_step, r.schedule.frequency, r.total_steps) == (0, 20, 2, 20)
    # tfmot's 100 for long schedules; end moved down to the last update.
    r = resolve_schedule(0.8, begin=0.1, end=0.95, total_steps=10_000)
    assert (r.begin_step, r.end_step, r.schedule.frequency) == (1000, 9500, 100)
    assert r.sparsity_at(9500) == pytest.approx(0.8)
    r = resolve_schedule(0.5, schedule="constant", begin=2, end=7, frequency=2)  # length unknown
    assert (r.begin_step, r.end_step, type(r.schedule).__name__) == (2, 6, "ConstantSparsity")
    with pytest.raises(InvalidArgumentError, match=r"`end`=40 lies past .*\(4 epochs x 8 steps"):
        resolve_schedule(0.5, end=40, total_steps=32, training="this fit (4 epochs x 8 steps)")


def test_unknown_training_length_says_what_to_change():
    with pytest.raises(InvalidArgumentError) as error:
        resolve_schedule(0.9)
    message = str(error.value)
    assert "`begin`" not in message                      # the user never set it
    for fix in ("steps_per_epoch", ".repeat()", "`end` as an int step count"):
        assert fix in message
    with pytest.raises(InvalidArgumentError, match=r"`begin`=0.5 is a fraction of training"):
        resolve_schedule(0.9, begin=0.5, end=100)

    # The same message from fit on a dataset whose length TensorFlow cannot know.
    x, y = data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(BATCH)
    model = compiled(mlp())
    with pytest.raises(InvalidArgumentError, match=r"spans the whole fit by default.*"
                                                   r"steps_per_epoch"):
        model.fit(ds, epochs=2, callbacks=[pie_tf.PruneCallback(0.9)], verbose=0)
    assert zeros(model) == [0, 0]                          # refused before the first step


# -- training that ends early ------------------------------------------------------------------

@both
def test_early_stopping_finishes_the_masks_and_says_so():
    def early_stopping():
        # A real EarlyStopping; the score falls after epoch 1, so it stops after 2 of 10 epochs.
        return keras.callbacks.EarlyStopping(monitor="score", mode="max", patience=1)

    model = compiled(mlp())
    with pytest.warns(PruningWarning) as record:
        fit(model, [Score(), pie_tf.PruneCallback(0.9), early_stopping()], epochs=10)
    (message,) = pruning_warnings(record)
    assert re.search(r"step 8 of the pruning schedule, which ends at step 40: the pruned tensors "
                     r"are 0\.\d+ sparse, target 0\.9", message)
    assert "stopped after 8 of 40 steps" in message and "completed to 0.9" in message
    assert at_target(model, 0.9)

    # "warn" leaves the sparsity reached; "raise" raises with the numbers.
    model = compiled(mlp())
    with pytest.warns(PruningWarning, match="left at 0.4"):
        fit(model, [Score(), pie_tf.PruneCallback(0.9, if_incomplete="warn"), early_stopping()],
            epochs=10)
    reached = sum(zeros(model)) / (128 + 128)
    assert 0.3 < reached < 0.6
    model = compiled(mlp())
    with pytest.raises(IncompletePruningError) as error:
        fit(model, [Score(), early_stopping(), pie_tf.PruneCallback(0.9, if_incomplete="raise")],
            epochs=10)
    assert error.value.target == 0.9
    assert error.value.reached == pytest.approx(sum(zeros(model)) / 256)


@both
def test_data_that_runs_out_and_an_int_end_past_the_data():
    x, y = data()
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)          # 4 batches, no repeat
    model = compiled(mlp())
    with pytest.warns(PruningWarning) as record:
        model.fit(ds, epochs=4, steps_per_epoch=3, callbacks=[pie_tf.PruneCallback(0.8)],
                  verbose=0)
    (message,) = pruning_warnings(record)
    # tf_keras stops at the end of the data (4 steps); Keras 3 starts each epoch on it anew
    # and stops when an epoch finds it short (8 steps).
    ran = 4 if keras.__name__ == "tf_keras" else 8
    assert f"data ran out after {ran} of the 12 steps" in message and ".repeat()" in message
    assert at_target(model, 0.8)

    unknown = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True).batch(BATCH)
    model = compiled(mlp())
    with pytest.warns(PruningWarning) as record:
        model.fit(unknown, epochs=2, callbacks=[pie_tf.PruneCallback(0.8, end=100)], verbose=0)
    (message,) = pruning_warnings(record)
    assert "ran 8 steps; the schedule needs 100" in message
    assert at_target(model, 0.8)


@both
@pytest.mark.parametrize("prune_first", [True, False])
def test_restored_best_weights_are_pruned_and_named(tmp_path, prune_first):
    model = compiled(mlp())
    restore = keras.callbacks.EarlyStopping(monitor="score", mode="max", patience=10,
                                            restore_best_weights=True)
    path = str(tmp_path / ("best.h5" if keras.__name__ == "tf_keras" else "best.weights.h5"))
    best = keras.callbacks.ModelCheckpoint(path, monitor="score",
                                           mode="max", save_best_only=True,
                                           save_weights_only=True)
    prune = pie_tf.PruneCallback(0.75)
    callbacks = [Score(), prune, restore, best] if prune_first else [Score(), restore, best,
                                                                      prune]
    with pytest.warns(PruningWarning) as record:
        fit(model, callbacks, epochs=3)
    (message,) = pruning_warnings(record)
    assert re.search(r"restored the weights of epoch 1, when the masks were 0\.\d+ sparse", message)
    assert "start_from_epoch=3" in message
    assert "ModelCheckpoint(save_best_only=True) kept epoch 1" in message
    assert at_target(model, 0.75)                            # whatever the order
    # The file holds epoch 1's weights: less sparse, as the warning says.
    saved = compiled(mlp())
    saved.load_weights(path)
    assert sum(zeros(saved)) < sum(zeros(model))


# -- a second callback, initial_epoch, models without Input ------------------------------------

@both
def test_a_second_callback_keeps_the_zeros_it_starts_from():
    model = compiled(mlp())
    fit(model, [pie_tf.PruneCallback(0.9)], epochs=2)
    start = model.get_layer("hidden").kernel.numpy() == 0
    assert int(start.sum()) == expected_zeros(128, 0.9)
    recorder = ZeroRecorder()
    fit(model, [pie_tf.PruneCallback(0.9), recorder], epochs=2)
    for z in recorder.zeros:                                 # never undone, not for one step
        np.testing.assert_array_equal(z, start)

    recorder = ZeroRecorder()
    fit(model, [pie_tf.PruneCallback(0.95), recorder], epochs=2)
    assert all(np.all(z[start]) for z in recorder.zeros)    # the old zeros stay zero
    assert at_target(model, 0.95)

    # A target below the zeros the model holds: the zeros are kept, and a warning says so.
    with pytest.warns(PruningWarning, match=r"already hold more zeros than target_sparsity=0.5"):
        fit(model, [pie_tf.PruneCallback(0.5)], epochs=1)
    assert at_target(model, 0.95)


@both
def test_initial_epoch_without_a_checkpoint_starts_a_new_schedule():
    def counts(**kwargs):
        model, recorder = compiled(mlp()), ZeroRecorder()
        fit(model, [pie_tf.PruneCallback(0.9), recorder], **kwargs)
        return [int(z.sum()) for z in recorder.zeros]

    fresh = counts(epochs=4)
    with pytest.warns(PruningWarning, match=r"initial_epoch=2, but no pruning checkpoint was "
                                            r"restored.*4 epochs x 4 steps\), 16 steps"):
        continued = counts(epochs=6, initial_epoch=2)
    # The same gradual schedule over the 16 steps that fit runs: no jump at the first step.
    assert continued == fresh
    assert continued[0] < expected_zeros(128, 0.9) / 3 and continued[-1] == expected_zeros(
        128, 0.9)


@both
def test_sequential_without_input_gets_its_masks_on_the_first_batch():
    def run(with_input):
        keras.utils.set_random_seed(1)            # the same initial kernels, built now or later
        model = compiled(mlp(with_input))
        assert model.built == with_input
        recorder = ZeroRecorder()
        fit(model, [pie_tf.PruneCallback(0.75, frequency=1), recorder], epochs=2)
        return model, recorder.zeros

    model, late = run(with_input=False)
    assert at_target(model, 0.75)
    # Step by step the same masks as the same model given an Input.
    _, built = run(with_input=True)
    assert len(late) == len(built) == 8
    for a, b in zip(late, built):
        np.testing.assert_array_equal(a, b)


# -- frozen layers and QAT models --------------------------------------------------------------

def frozen_backbone_model():
    inputs = keras.Input((8,))
    base = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, name="base_dense")],
                            name="base")
    base.trainable = False
    outputs = keras.layers.Dense(8, name="head")(base(inputs))
    return compiled(keras.Model(inputs, outputs))


@both
def test_frozen_layers_are_pruned_with_a_warning_or_skipped():
    model = frozen_backbone_model()
    with pytest.warns(PruningWarning, match=r"prunes 1 weight tensor of frozen layers.*"
                                            r"base_dense/kernel"):
        fit(model, [pie_tf.PruneCallback(0.5)], epochs=1)
    base = model.get_layer("base").get_layer("base_dense").kernel
    assert int(np.sum(base.numpy() == 0)) == expected_zeros(128, 0.5)

    model = frozen_backbone_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PruningWarning)
        fit(model, [pie_tf.PruneCallback(0.5, prune_frozen=False)], epochs=1)
    base = model.get_layer("base").get_layer("base_dense").kernel
    assert int(np.sum(base.numpy() == 0)) == 0
    assert int(np.sum(model.get_layer("head").kernel.numpy() == 0)) == expected_zeros(128, 0.5)


def test_qat_models_are_reported_and_pruned():
    model = compiled(mlp())
    fit(model, [pie_tf.PruneCallback(0.9)], epochs=1)
    qat = pie_tf.quantize(model)
    report = pie_tf.sparsity_report(qat)
    rows = report[report.prunable & (report.layer != "(overall)")]
    assert list(rows.weight) == ["hidden/kernel:0", "out/kernel:0"]
    assert report.attrs["overall_sparsity"] == pytest.approx(2 * expected_zeros(128, 0.9) / 256)

    qat = pie_tf.quantize(compiled(mlp()))
    fit(qat, [pie_tf.PruneCallback(0.5)], epochs=2)
    report = pie_tf.sparsity_report(qat)
    rows = report[report.prunable & (report.layer != "(overall)")]
    assert list(rows.zeros) == [expected_zeros(128, 0.5)] * 2


def test_compress_package_lists_its_public_names():
    import pie_tf.compress as compress
    from pie_tf.compress import pruning, quantize
    for name in compress.__all__:
        assert getattr(compress, name) is not None, name
    assert compress.PruneCallback is pruning.PruneCallback is pie_tf.PruneCallback
    assert compress.QuantizeCallback is quantize.QuantizeCallback
    assert compress.quantize is quantize and quantize.quantize is pie_tf.quantize
    with pytest.raises(AttributeError, match="no attribute"):
        compress.not_a_name  # noqa: B018
