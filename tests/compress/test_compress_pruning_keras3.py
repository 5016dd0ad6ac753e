"""What is Keras 3's own in PruneCallback: its checkpointing (``.weights.h5``, ``.keras``,
ModelCheckpoint, BackupAndRestore), a keras.applications backbone, the callback's class, QAT's
refusal and the backend check. (The behaviour both Keras share runs for both in
test_compress_pruning.py.)"""
import keras
import numpy as np
import pytest
import tf_keras

import pie_tf
from pie_tf._keras import weight_name
from pie_tf.compress.pruning import get_pruning_state
from tests.compress.test_compress_pruning import data, expected_zeros
from tests.compress.test_compress_pruning import fit as fit_epochs


def fit(model, callbacks, epochs=4, **kwargs):
    return fit_epochs(model, callbacks, epochs=epochs, **kwargs)


def mlp():
    return keras.Sequential([keras.Input((8,)),
                             keras.layers.Dense(16, activation="relu", name="hidden"),
                             keras.layers.Dense(8, name="out")])


def compiled(model):
    model.compile(keras.optimizers.SGD(0.05, momentum=0.9),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


class Counts(keras.callbacks.Callback):
    """Zeros of the hidden kernel after every batch (placed after PruneCallback)."""

    def __init__(self):
        super().__init__()
        self.counts = []

    def on_train_batch_end(self, batch, logs=None):
        self.counts.append(int(np.sum(self.model.get_layer("hidden").kernel.numpy() == 0)))


class Interrupted(Exception):
    pass


class StopAfterEpoch2(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise Interrupted


def test_callback_is_a_callback_of_both_keras():
    cb = pie_tf.PruneCallback(0.5)
    assert isinstance(cb, keras.callbacks.Callback)
    assert isinstance(cb, tf_keras.callbacks.Callback)


def prune(**kwargs):
    return pie_tf.PruneCallback(0.8, frequency=3, **kwargs)   # 16 steps: updates at 3, 6, .., 15


@pytest.mark.parametrize("how", ["weights_h5", "keras_file", "backup_and_restore"])
def test_resume_through_keras3_checkpoints(tmp_path, how):
    full = Counts()
    fit(compiled(mlp()), [prune(), full])
    assert full.counts[-1] == expected_zeros(128, 0.8)

    first, head = compiled(mlp()), Counts()
    if how == "weights_h5":
        saver = keras.callbacks.ModelCheckpoint(str(tmp_path / "ck.weights.h5"),
                                                save_weights_only=True)
    elif how == "keras_file":
        saver = keras.callbacks.ModelCheckpoint(str(tmp_path / "ck.keras"))
    else:
        saver = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))
    with pytest.raises(Interrupted):
        fit(first, [prune(), head, saver, StopAfterEpoch2()])
    assert len(head.counts) == 8
    saved = get_pruning_state(first)

    tail, cb = Counts(), prune()
    if how == "weights_h5":
        resumed = compiled(mlp())
        cb.set_model(resumed)                  # attaches the state the file fills
        resumed.load_weights(str(tmp_path / "ck.weights.h5"))
        fit(resumed, [cb, tail], initial_epoch=2)
    elif how == "keras_file":
        resumed = keras.models.load_model(str(tmp_path / "ck.keras"))
        assert get_pruning_state(resumed) is None          # a new model from the config ...
        cb.set_model(resumed)
        resumed.load_weights(str(tmp_path / "ck.keras"))   # ... takes the state from the file
        fit(resumed, [cb, tail], initial_epoch=2)
    else:
        resumed = compiled(mlp())                          # BackupAndRestore resumes as it is
        fit(resumed, [cb, tail, keras.callbacks.BackupAndRestore(str(tmp_path / "backup"))])
    state = get_pruning_state(resumed)
    assert state is cb._state
    assert head.counts + tail.counts == full.counts        # same schedule, same masks
    assert int(state.step.numpy()) == 16
    for names in (saved.weight_names, state.weight_names):   # Keras 3 paths
        assert [n.rsplit("/", 2)[-2:] for n in names] == [["hidden", "kernel"], ["out", "kernel"]]
    # The state is in the file, beside the plain weights (model.weights is unchanged).
    assert len(resumed.weights) == 4


def test_file_saved_before_pruning_loads_into_a_model_with_state(tmp_path):
    model = compiled(mlp())
    model.save_weights(str(tmp_path / "dense.weights.h5"))
    cb = prune()
    cb.set_model(model)
    model.load_weights(str(tmp_path / "dense.weights.h5"))     # no state in it: nothing to do
    assert int(get_pruning_state(model).step.numpy()) == -1


@pytest.mark.slow
def test_applications_backbone_inside_a_model_is_pruned():
    backbone = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35,
                                              include_top=False, weights=None)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.GlobalAveragePooling2D()(backbone(inputs))
    model = compiled(keras.Model(inputs, keras.layers.Dense(8, name="head")(x)))
    x, y = data((32, 32, 3))
    model.fit(x[:32], y[:32], batch_size=16, epochs=2, verbose=0,
              callbacks=[pie_tf.PruneCallback(0.6, frequency=1)])
    report = pie_tf.sparsity_report(model)
    pruned = report[report.prunable & (report.layer != "(overall)")]
    # tfmot's registry: every Conv2D kernel of the backbone and the head (not depthwise, not BN).
    convs = [layer for layer in backbone.layers if type(layer) is keras.layers.Conv2D]
    assert len(pruned) == len(convs) + 1
    for _, row in pruned.iterrows():
        assert row["zeros"] == expected_zeros(row["size"], 0.6), row["weight"]
    assert set(pruned["weight"]) == {weight_name(c.kernel) for c in convs} | {
        weight_name(model.get_layer("head").kernel)}


def test_quantize_refuses_keras3_with_what_to_use():
    with pytest.raises(TypeError, match=r"tf_keras models only.*export_tflite\(model, "
                                        r"mode='int8'"):
        pie_tf.quantize(mlp())


def test_other_backends_get_an_error_naming_tensorflow(monkeypatch):
    model = mlp()
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    for call in (pie_tf.PruneCallback(0.5).set_model, pie_tf.sparsity_report,
                 pie_tf.clone_dense):
        with pytest.raises(TypeError, match=r"'jax' backend.*TensorFlow backend only.*"
                                            r"KERAS_BACKEND=tensorflow"):
            call(model)
