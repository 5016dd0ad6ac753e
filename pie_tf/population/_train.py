"""Training and prediction steps of one member: no statistics, no store, no scheduling.

Each function takes what it needs (model, data, recipe, strategy) and returns models or arrays.
Compression comes from pie_tf's own APIs: ``PruneCallback`` and ``clone_dense`` (pie_tf.compress),
``quantize`` (QAT) and ``export_tflite`` / ``TFLiteModel`` (pie_tf.export).
"""
from __future__ import annotations

import contextlib
import math
import time

import numpy as np

from pie_tf import _precision
from pie_tf._keras import check_model, keras, keras3, keras_of, tf
from pie_tf._probabilities import renormalize

__all__ = ["set_seed", "build_model", "supervised", "train_batches", "compile_model", "fit",
           "train_from_scratch", "fine_tune_pruned", "fine_tune_mitigated", "fine_tune_qat",
           "export", "keras_predictor", "tflite_predictor", "describe_eval_set",
           "predict_eval_set", "calibration_images"]

IMAGE, LABEL, ID, ATTRIBUTES = "image", "label", "id", "attributes"


def _kerases():
    return [keras] + ([keras3()] if keras3() is not None else [])


def set_seed(seed):
    """Seed Python, numpy, TensorFlow's global generator and Keras 3's (what initialisers draw
    from: tf_keras's draw from TensorFlow's, Keras 3's from its own global seed)."""
    for k in _kerases():
        k.utils.set_random_seed(int(seed))


@contextlib.contextmanager
def _policy(policy):
    """The dtype policy for models of either Keras (``model_fn`` may build with either)."""
    with contextlib.ExitStack() as stack:
        for k in _kerases():
            stack.enter_context(_precision.policy_scope(k, policy))
        yield


def build_model(model_fn, recipe, *, quantized=False):
    """``model_fn()`` under the recipe's dtype policy (float32 for a QAT structure).

    ``model_fn`` may return a Keras 3 (TensorFlow backend) or a tf_keras model; every later step
    (optimizer, schedules, copies) uses the model's own Keras.
    """
    policy = "float32" if quantized else recipe.mixed_precision
    with _policy(policy):
        model = model_fn()
    check_model(model, "model_fn()", allow_keras3=True)
    return model


def _is_example_dict(spec):
    return isinstance(spec, dict) and IMAGE in spec and LABEL in spec


def check_dataset(ds, argname):
    """``ds`` must be an unbatched tf.data.Dataset of pie_tf examples or (image, label) pairs."""
    if not isinstance(ds, tf.data.Dataset):
        raise TypeError(f"`{argname}` must be a tf.data.Dataset; got {type(ds).__name__}.")
    spec = ds.element_spec
    if _is_example_dict(spec):
        image_spec, label_spec = spec[IMAGE], spec[LABEL]
    elif isinstance(spec, tuple) and len(spec) == 2:
        image_spec, label_spec = spec
    else:
        raise TypeError(f"`{argname}` must yield pie_tf examples (dicts with 'image' and 'label') "
                        f"or (image, label) pairs; its elements are {spec}.")
    if not isinstance(image_spec, tf.TensorSpec) or image_spec.shape.rank is None or \
            image_spec.shape.rank < 2 or getattr(label_spec, "shape", None) != ():
        raise TypeError(f"`{argname}` must be unbatched: one example per element, an image "
                        f"(H, W, C) and a scalar label; got {image_spec} and {label_spec}.")
    return ds


def supervised(ds):
    """(image, label) pairs from pie_tf examples (pairs pass through)."""
    if _is_example_dict(ds.element_spec):
        return ds.map(lambda ex: (ex[IMAGE], ex[LABEL]), num_parallel_calls=tf.data.AUTOTUNE)
    return ds


def _images(ds):
    if _is_example_dict(ds.element_spec):
        return ds.map(lambda ex: ex[IMAGE], num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(lambda x, y: x, num_parallel_calls=tf.data.AUTOTUNE)


def steps_per_epoch(ds, recipe):
    if recipe.steps_per_epoch is not None:
        return recipe.steps_per_epoch
    n = int(ds.cardinality().numpy())
    if n < 0:
        raise ValueError("`train_data` has unknown length (cardinality "
                         f"{n}); set Recipe.steps_per_epoch.")
    if n == 0:
        raise ValueError("`train_data` is empty.")
    return math.ceil(n / recipe.batch_size)


def train_batches(ds, recipe, seed):
    """Shuffled (seeded), repeated, batched (image, label) pairs; sharded by data across workers."""
    ds = supervised(ds).shuffle(recipe.shuffle_buffer, seed=int(seed),
                                reshuffle_each_iteration=True)
    ds = ds.repeat().batch(recipe.batch_size).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return ds.with_options(options)


def _schedule(peak, kind, total_steps, keras=keras):
    if kind == "cosine":
        return keras.optimizers.schedules.CosineDecay(peak, decay_steps=max(total_steps, 1))
    if kind == "step":
        bounds = [max(int(total_steps * 0.5), 1), max(int(total_steps * 0.75), 2)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            bounds, [peak, peak / 10, peak / 100])
    return peak


def compile_model(model, recipe, *, learning_rate, total_steps, loss=None, metrics=None):
    """Compile with the recipe's optimizer and schedule (sparse cross-entropy, accuracy, unless
    ``loss`` / ``metrics`` are given)."""
    keras = keras_of(model)
    lr = _schedule(learning_rate, recipe.lr_schedule, total_steps, keras)
    decay = recipe.weight_decay or None
    if recipe.optimizer == "sgd":
        optimizer = keras.optimizers.SGD(lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
                                         weight_decay=decay)
    elif recipe.optimizer == "adam":
        optimizer = keras.optimizers.Adam(lr, weight_decay=decay)
    else:
        optimizer = keras.optimizers.AdamW(lr, weight_decay=recipe.weight_decay or 0.004)
    from pie_tf.compress.quantize import is_quantization_aware
    quantized = is_quantization_aware(model)
    if not quantized and _precision.computes_in(model, "float16"):
        # float16 gradients underflow without loss scaling (bfloat16 has float32's range)
        scaler = getattr(keras.mixed_precision, "LossScaleOptimizer", None) or \
            keras.optimizers.LossScaleOptimizer
        optimizer = scaler(optimizer)
    model.compile(optimizer=optimizer,
                  loss=loss if loss is not None else
                  keras.losses.SparseCategoricalCrossentropy(from_logits=recipe.from_logits),
                  metrics=["accuracy"] if metrics is None else metrics,
                  # tfmot's fake-quantizers are not compiled with XLA here: QAT runs op by op
                  jit_compile=bool(recipe.jit_compile and not quantized))
    return model


def fit(model, batches, recipe, *, epochs, steps, callbacks=()):
    """``model.fit`` for ``epochs`` x ``steps``; returns the seconds it took."""
    start = time.perf_counter()
    # shuffle=False: `batches` is shuffled already (Keras 3 warns about shuffle=True on a dataset)
    model.fit(batches, epochs=epochs, steps_per_epoch=steps, callbacks=list(callbacks),
              verbose=recipe.verbose, shuffle=False)
    return time.perf_counter() - start


def _prune_callback(target_sparsity, recipe):
    from pie_tf.compress.pruning import PruneCallback
    return PruneCallback(target_sparsity, begin=recipe.prune_begin, end=recipe.prune_end)


def train_from_scratch(model_fn, train_data, recipe, seed, strategy, *, target_sparsity=None):
    """A member trained from scratch (dense, or pruned during training to ``target_sparsity``).

    Returns
    -------
    (tf_keras.Model, float)
        The trained model (built under ``strategy``) and the seconds ``fit`` took.
    """
    steps = steps_per_epoch(train_data, recipe)
    set_seed(seed)
    with strategy.scope():
        model = build_model(model_fn, recipe)
        compile_model(model, recipe, learning_rate=recipe.learning_rate,
                      total_steps=recipe.epochs * steps)
    callbacks = [] if target_sparsity is None else [_prune_callback(target_sparsity, recipe)]
    seconds = fit(model, train_batches(train_data, recipe, seed), recipe, epochs=recipe.epochs,
                  steps=steps, callbacks=callbacks)
    return model, seconds


def _fine_tune(model, train_data, recipe, seed, callbacks, epochs=None, **compile_options):
    steps = steps_per_epoch(train_data, recipe)
    epochs = recipe.fine_tune_epochs if epochs is None else epochs
    with model.distribute_strategy.scope():
        compile_model(model, recipe, learning_rate=recipe.fine_tune_learning_rate,
                      total_steps=epochs * steps, **compile_options)
    return fit(model, train_batches(train_data, recipe, seed), recipe,
               epochs=epochs, steps=steps, callbacks=callbacks)


def fine_tune_pruned(dense, train_data, recipe, seed, target_sparsity):
    """A copy of ``dense`` (left untouched) fine-tuned while pruned to ``target_sparsity``."""
    from pie_tf.compress.pruning import clone_dense
    set_seed(seed)
    # PruneCallback prunes in place: never the dense member itself; the copy keeps its policy
    with _precision.policy_scope(keras_of(dense), recipe.mixed_precision):
        model = clone_dense(dense)
    return model, _fine_tune(model, train_data, recipe, seed,
                             [_prune_callback(target_sparsity, recipe)])


def mitigation_data(dense, train_data, recipe, mitigation):
    """(training data, loss, metrics) of a mitigated pruning fine-tune (``pie_tf.mitigation``).

    ``kd``: (image, packed target) pairs with the dense member's probabilities and a
    ``DistillationLoss``; ``rw`` / ``gw``: (image, label, weight) triples with Meyer & Wong's
    performance weights from the dense member / Kamiran & Calders' group weights over the
    examples' attributes, and the recipe's usual loss. Targets and weights are attached to the
    unbatched examples, so ``train_batches`` shuffles them with their example exactly as it
    shuffles the plain fine-tune's data.
    """
    from pie_tf.compress import mitigation as mit

    if mitigation == "gw":
        _, labels, attributes = describe_eval_set(train_data)
        if not attributes:
            raise ValueError("variant prune_gw@S needs training examples with `attributes` "
                             "(group weights are computed over them); `train_data` has none.")
        return mit.with_sample_weights(train_data, mit.group_weights(
            attributes, labels, power=recipe.group_weight_power)), \
            None, None
    probs = mit.teacher_probabilities(dense, train_data, batch_size=recipe.eval_batch_size,
                                      from_logits=recipe.from_logits)
    if mitigation == "kd":
        loss = mit.DistillationLoss(recipe.distill_temperature, recipe.distill_weight,
                                    from_logits=recipe.from_logits)
        return mit.with_soft_targets(train_data, probs), loss, [mit.PackedLabelAccuracy()]
    if mitigation == "rw":
        _, labels, _ = describe_eval_set(train_data)
        weights = mit.performance_weights(probs, labels,
                                          min_weight=recipe.performance_min_weight,
                                          gamma=recipe.performance_gamma)
        return mit.with_sample_weights(train_data, weights), None, None
    raise ValueError(f"unknown mitigation {mitigation!r}.")


def fine_tune_mitigated(dense, train_data, recipe, seed, target_sparsity, mitigation):
    """As :func:`fine_tune_pruned`, trained towards ``mitigation``'s targets or weights."""
    from pie_tf.compress.pruning import clone_dense
    data, loss, metrics = mitigation_data(dense, train_data, recipe, mitigation)
    set_seed(seed)
    with _precision.policy_scope(keras_of(dense), recipe.mixed_precision):
        model = clone_dense(dense)
    return model, _fine_tune(model, data, recipe, seed,
                             [_prune_callback(target_sparsity, recipe)], loss=loss, metrics=metrics)


def fine_tune_qat(dense, train_data, recipe, seed):
    """Quantization-aware fine-tuning of a copy of ``dense`` (``pie_tf.quantize``) for
    ``recipe.qat_epochs`` (``fine_tune_epochs`` when None)."""
    from pie_tf.compress.pruning import clone_dense
    from pie_tf.compress.quantize import quantize
    set_seed(seed)
    with dense.distribute_strategy.scope():
        model = quantize(_precision.float32_copy(keras_of(dense), clone_dense(dense)))
    return model, _fine_tune(model, train_data, recipe, seed, [], epochs=recipe.qat_epochs)


def calibration_images(train_data, n):
    """The first ``n`` training images (unshuffled), as Hooker et al. calibrate int8 exports."""
    return np.concatenate([b.numpy() for b in _images(train_data).take(n).batch(n)])


def export(model, mode, calibration):
    """``pie_tf.export_tflite`` of ``model``; int8 is calibrated on ``calibration`` images."""
    from pie_tf.export.tflite import export_tflite
    # float16 compute ops are no TFLite builtins: convert a float32 copy of the same weights
    return export_tflite(_precision.float32_copy(keras_of(model), model), mode,
                         representative_data=calibration if mode == "int8" else None,
                         num_calibration_examples=max(len(calibration), 1))


def image_spec(ds):
    """The TensorSpec of one image of ``ds`` (pie_tf examples or pairs)."""
    spec = ds.element_spec
    return spec[IMAGE] if _is_example_dict(spec) else spec[0]


def check_input_fits(model, ds, argname):
    """``model``'s input shape (per example) must fit the images of ``ds``, before any training.

    Dimensions either side leaves open (None) match anything; an image shape the dataset's spec
    leaves open is read from its first example.
    """
    from pie_tf.errors import InvalidArgumentError

    expects = tuple(model.inputs[0].shape[1:])
    shape = tuple(image_spec(ds).shape)
    if None in shape:
        first = next(iter(ds.take(1).as_numpy_iterator()), None)
        if first is not None:
            shape = tuple(np.shape(first[IMAGE] if isinstance(first, dict) else first[0]))
    fits = len(shape) == len(expects) and all(
        a is None or b is None or a == b for a, b in zip(shape, expects))
    if not fits:
        def shown(dims):
            return "(" + ", ".join("None" if d is None else str(d) for d in dims) + ")"
        raise InvalidArgumentError(
            f"`model_fn()` builds a model whose input is {shown(expects)} per example, but "
            f"`{argname}` has images of shape {shown(shape)}. Build the model for the data's "
            "image shape (e.g. keras.Input(shape)) or resize the data to the model's "
            "(pie_tf.data.preprocess with a resize step).")


def keras_predictor(model, from_logits, spec):
    """images -> float32 probabilities, inference mode, one traced function for every batch.

    ``spec`` is one image's TensorSpec; the function is traced once for any batch size (the last,
    partial batch included). Called outside any strategy scope, on a model that lives outside any
    strategy, so it predicts in dataset order on this worker alone.
    """
    reduced = _precision.uses_mixed_precision(model)

    @tf.function(input_signature=[tf.TensorSpec([None, *spec.shape], spec.dtype)])
    def predict(images):
        out = tf.cast(model(images, training=False), tf.float32)
        if from_logits:
            return tf.nn.softmax(out, axis=-1)
        if reduced:  # a float16/bfloat16 softmax sums to 1 only within its rounding (2e-3)
            out = out / tf.reduce_sum(out, axis=-1, keepdims=True)
        return out
    return lambda images: predict(images).numpy().astype(np.float32)


def tflite_predictor(tflite_model, from_logits):
    """images -> float32 probabilities from a ``pie_tf.TFLiteModel``."""
    def predict(images):
        images = images.numpy() if hasattr(images, "numpy") else np.asarray(images)
        out = np.asarray(tflite_model.predict(images, batch_size=max(len(images), 1), verbose=0),
                         dtype=np.float32)
        if from_logits:
            out = np.exp(out - out.max(axis=-1, keepdims=True))
        # An int8 model's softmax output is dequantized in steps of 1/256, so its rows sum to
        # 1 +- n_classes/512 rather than 1 (0.996 measured): stored renormalized, they are the
        # distributions the audit's loyalty expects, with the deployed labels.
        return renormalize(out).astype(np.float32)
    return predict


def _ids_and_meta(ds):
    spec = ds.element_spec
    if _is_example_dict(spec):
        keep = [k for k in (LABEL, ID, ATTRIBUTES) if k in spec]
        return ds.map(lambda ex: {k: ex[k] for k in keep})
    return ds.map(lambda x, y: {LABEL: y})


def _decode_ids(values):
    values = np.asarray(values)
    if values.dtype == object or values.dtype.kind == "S":
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values])
    return values


def describe_eval_set(ds):
    """Ids, labels and attributes of an evaluation set, in dataset order (images are not kept).

    Returns
    -------
    ids : ndarray of shape (n,) (positions when the examples carry no ``id``)
    labels : ndarray of int64, shape (n,)
    attributes : dict of str -> ndarray of shape (n,)
    """
    ids, labels, attributes = [], [], {}
    for batch in _ids_and_meta(ds).batch(4096).as_numpy_iterator():
        labels.append(np.asarray(batch[LABEL]).astype(np.int64).reshape(-1))
        if ID in batch:
            ids.append(_decode_ids(batch[ID]))
        for name, values in batch.get(ATTRIBUTES, {}).items():
            attributes.setdefault(name, []).append(np.asarray(values))
    labels = np.concatenate(labels) if labels else np.zeros(0, np.int64)
    ids = np.concatenate(ids) if ids else np.arange(len(labels))
    return ids, labels, {k: np.concatenate(v) for k, v in attributes.items()}


def predict_eval_set(predict, ds, batch_size, expected_ids, name):
    """Probabilities of every example of ``ds``, checked to come in the stored id order.

    Returns
    -------
    ndarray of float32, shape (n_examples, n_classes)
    """
    has_ids = _is_example_dict(ds.element_spec) and ID in ds.element_spec
    if has_ids:
        pairs = ds.map(lambda ex: (ex[IMAGE], ex[ID]), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        pairs = _images(ds).map(lambda x: (x, tf.constant(0, tf.int64)))
    outputs, ids = [], []
    for images, batch_ids in pairs.batch(batch_size).prefetch(tf.data.AUTOTUNE):
        outputs.append(predict(images))
        if has_ids:
            ids.append(_decode_ids(batch_ids.numpy()))
    if not outputs:
        raise ValueError(f"evaluation set {name!r} is empty.")
    probs = np.concatenate(outputs)
    if has_ids and not np.array_equal(np.concatenate(ids), expected_ids):
        raise RuntimeError(f"evaluation set {name!r} yielded its examples in a different order "
                           "than when it was first read; predictions would not line up with the "
                           "stored ids. Make its order deterministic (no shuffle_files, "
                           "deterministic maps).")
    if len(probs) != len(expected_ids):
        raise RuntimeError(f"evaluation set {name!r} yielded {len(probs)} examples; it had "
                           f"{len(expected_ids)} when first read.")
    return probs
