"""Compress without forgetting the few: distillation and re-weighting during the pruning run.

Hooker et al. find that pruning costs a small subset of examples, and rare groups most. The
mitigations below change only *what the pruned model is trained towards* during its pruning run,
so they compose with :class:`pie_tf.PruneCallback` (and with ``pie_tf.quantize`` models) without
wrapping anything: a loss, a metric, and ``tf.data`` transforms that attach per-example targets
or sample weights before shuffling and batching.

Distillation (Hinton, Vinyals, Dean 2015, *Distilling the Knowledge in a Neural Network*; as a
pruning-bias mitigation: Blakeney et al. 2021, *Simon Says: Evaluating and Mitigating Bias in
Pruned Neural Networks with Knowledge Distillation*)::

    teacher = pie_tf.clone_dense(model)                         # the dense model, kept
    probs = teacher_probabilities(teacher, train_pairs)         # or a population's mean
    ds = with_soft_targets(train_pairs, probs).shuffle(10_000).batch(64)
    model.compile(optimizer, loss=DistillationLoss(temperature=4.0, weight=0.5),
                  metrics=[PackedLabelAccuracy()])
    model.fit(ds, epochs=1, callbacks=[pie_tf.PruneCallback(0.8)])

Re-weighting by sample weights (Keras passes a dataset's third element to the loss)::

    w = performance_weights(probs, labels)                      # Meyer & Wong 2022
    w = group_weights({"Male": male}, labels)                   # Kamiran & Calders 2012
    ds = with_sample_weights(train_pairs, w).shuffle(10_000).batch(64)
    model.fit(ds, ..., callbacks=[pie_tf.PruneCallback(0.8)])

Targets are attached to the *unbatched* examples, so they follow their example through any
shuffle; the training data must therefore come in the same order as when ``probs`` or ``w``
were computed (``teacher_probabilities`` reads the dataset once, in order).
"""
from __future__ import annotations

import numbers

import numpy as np

from pie_tf._keras import keras, tf
from pie_tf.errors import InvalidArgumentError

__all__ = ["DistillationLoss", "PackedLabelAccuracy", "pack_targets", "teacher_probabilities",
           "with_soft_targets", "performance_weights", "group_weights", "with_sample_weights"]

_EPS = 1e-7


def _real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --------------------------------------------------------------------------------------------
# Distillation
# --------------------------------------------------------------------------------------------

def pack_targets(labels, teacher_probs):
    """One target tensor per example: ``[label, teacher probabilities...]``, float32.

    Keras hands a single-output model's loss one ``y_true`` tensor; packing the hard label in
    column 0 and the teacher's distribution in columns 1..k lets :class:`DistillationLoss` read
    both without a custom training step (which :class:`pie_tf.PruneCallback` would not see
    through). Labels are exact in float32 up to 2**24.

    Parameters
    ----------
    labels : array_like of int, shape (n,)
    teacher_probs : array_like of float, shape (n, k)

    Returns
    -------
    tf.Tensor of float32, shape (n, 1 + k)
    """
    labels = tf.cast(tf.reshape(labels, [-1, 1]), tf.float32)
    return tf.concat([labels, tf.cast(teacher_probs, tf.float32)], axis=-1)


def _split_targets(y_true):
    y_true = tf.convert_to_tensor(y_true, tf.float32)
    return tf.cast(tf.round(y_true[:, 0]), tf.int32), y_true[:, 1:]


def _student_logits(y_pred, from_logits):
    """Logits of the student: ``y_pred`` itself, the input of the softmax that produced it, or
    (for probabilities of unknown origin) their clipped log.

    A softmax output carries its logits (``_keras_logits``, or the Softmax op's input in a
    graph), and Keras' own cross-entropy uses them, as we do: the log of clipped probabilities
    has no gradient where a probability fell below the clip, so a member that saturates on the
    wrong class early in the pruning run would stay there (measured: one of five 80%-pruned
    members ended predicting one class for every example).
    """
    if from_logits:
        return y_pred
    logits = getattr(y_pred, "_keras_logits", None)
    if logits is not None:
        return logits
    if not isinstance(y_pred, (tf.__internal__.EagerTensor, tf.Variable)) \
            and getattr(getattr(y_pred, "op", None), "type", None) == "Softmax":
        return y_pred.op.inputs[0]
    return tf.math.log(tf.clip_by_value(tf.cast(y_pred, tf.float32), _EPS, 1.0))


class DistillationLoss(keras.losses.Loss):
    """Cross-entropy to the label blended with a temperature-softened KL to a teacher.

    ``loss = (1 - weight) * CE(label, p_s) + weight * T**2 * KL(softmax(log p_t / T) ||
    softmax(z_s / T))`` per example (Hinton et al. 2015: the ``T**2`` keeps the soft term's
    gradient scale independent of ``T``). ``z_s`` are the student's logits, or the log of its
    probabilities when the model ends in a softmax (``softmax(log p / T)`` equals
    ``softmax(z / T)`` for ``p = softmax(z)``, so a softmax model distils exactly as its logits
    would; the logits behind a Keras softmax output are used where the output carries them, as
    Keras' own cross-entropy does, and other probabilities are clipped to [1e-7, 1]). The teacher
    is given as probabilities.

    Parameters
    ----------
    temperature : float > 0
        Softening of both distributions (``T``); 1 compares them as they are.
    weight : float in [0, 1]
        Share of the soft term; 0 is plain cross-entropy, 1 pure distillation.
    from_logits : bool
        Whether the student outputs logits (default False: pie_tf.models end in a softmax).

    ``y_true`` is :func:`pack_targets` output (label, then the teacher's k probabilities);
    sample weights and the reduction apply as for any Keras loss.
    """

    def __init__(self, temperature=4.0, weight=0.5, *, from_logits=False,
                 reduction=keras.losses.Reduction.AUTO, name="distillation"):
        super().__init__(reduction=reduction, name=name)
        if not _real(temperature) or not np.isfinite(temperature) or not temperature > 0:
            raise InvalidArgumentError(f"`temperature` must be a positive float; got "
                                       f"{temperature!r}.")
        if not _real(weight) or not 0 <= weight <= 1:
            raise InvalidArgumentError(f"`weight` must be a float in [0, 1]; got {weight!r}.")
        if not isinstance(from_logits, bool):
            raise InvalidArgumentError(f"`from_logits` must be a bool; got {from_logits!r}.")
        self.temperature = float(temperature)
        self.weight = float(weight)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        labels, teacher = _split_targets(y_true)
        student_logits = tf.cast(_student_logits(y_pred, self.from_logits), tf.float32)
        hard = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, student_logits)
        t = self.temperature
        teacher_log = tf.nn.log_softmax(tf.math.log(tf.clip_by_value(teacher, _EPS, 1.0)) / t)
        student_log = tf.nn.log_softmax(student_logits / t)
        soft = tf.reduce_sum(tf.exp(teacher_log) * (teacher_log - student_log), axis=-1)
        return (1.0 - self.weight) * hard + self.weight * t * t * soft

    def get_config(self):
        config = super().get_config()
        config.update(temperature=self.temperature, weight=self.weight,
                      from_logits=self.from_logits)
        return config


class PackedLabelAccuracy(keras.metrics.SparseCategoricalAccuracy):
    """Top-1 accuracy against the label in column 0 of :func:`pack_targets` targets.

    ``metrics=["accuracy"]`` would compare the packed targets as if they were one-hot rows.
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels, _ = _split_targets(y_true)
        return super().update_state(labels, y_pred, sample_weight=sample_weight)


def _images_and_labels(dataset, argname):
    """(image, label) pairs from pie_tf examples or pairs; a clear error otherwise."""
    if not isinstance(dataset, tf.data.Dataset):
        raise InvalidArgumentError(f"`{argname}` must be an unbatched tf.data.Dataset; got "
                                   f"{type(dataset).__name__}.")
    spec = dataset.element_spec
    if isinstance(spec, dict) and "image" in spec and "label" in spec:
        return dataset.map(lambda ex: (ex["image"], ex["label"]),
                           num_parallel_calls=tf.data.AUTOTUNE)
    if isinstance(spec, tuple) and len(spec) == 2:
        return dataset
    raise InvalidArgumentError(f"`{argname}` must yield pie_tf examples (dicts with 'image' and "
                               f"'label') or (image, label) pairs; its elements are {spec}.")


def teacher_probabilities(teacher, dataset, *, batch_size=256, from_logits=False):
    """The teacher's class probabilities on every example of ``dataset``, in dataset order.

    Parameters
    ----------
    teacher : tf_keras.Model
        E.g. the dense model (``pie_tf.clone_dense`` it before pruning it in place).
    dataset : tf.data.Dataset
        Unbatched pie_tf examples or (image, label) pairs, in a deterministic order.
    batch_size : int
    from_logits : bool
        Whether ``teacher`` outputs logits (a softmax is applied then).

    Returns
    -------
    ndarray of float32, shape (n_examples, n_classes)
    """
    pairs = _images_and_labels(dataset, "dataset")
    images = pairs.map(lambda x, y: x).batch(int(batch_size))

    @tf.function
    def predict(batch):
        out = teacher(batch, training=False)
        return tf.nn.softmax(out, axis=-1) if from_logits else out

    outputs = [predict(batch).numpy() for batch in images]
    if not outputs:
        raise InvalidArgumentError("`dataset` is empty: there is nothing to distil from.")
    probs = np.concatenate(outputs).astype(np.float64)
    # a float16 (mixed-precision) softmax sums to 1 only within its rounding
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def _check_aligned(dataset, n, argname, what):
    size = int(dataset.cardinality().numpy())
    if size >= 0 and size != n:
        raise InvalidArgumentError(f"`{argname}` has {n} rows but the dataset has {size} "
                                   f"examples; {what} must have one row per example, in order.")


def with_soft_targets(dataset, teacher_probs):
    """(image, packed target) pairs: each example with its label and the teacher's row.

    Parameters
    ----------
    dataset : tf.data.Dataset
        Unbatched pie_tf examples or (image, label) pairs, in the order ``teacher_probs`` were
        computed in.
    teacher_probs : array_like of float, shape (n_examples, n_classes)
        Probabilities (rows summing to one): :func:`teacher_probabilities` of the dense model,
        or the mean over a dense population's members.

    Returns
    -------
    tf.data.Dataset of (image, float32 (1 + n_classes,)) pairs, unbatched: shuffle and batch it,
    and train with :class:`DistillationLoss` and :class:`PackedLabelAccuracy`.
    """
    probs = np.asarray(teacher_probs, dtype=np.float32)
    if probs.ndim != 2 or probs.shape[1] < 2:
        raise InvalidArgumentError(f"`teacher_probs` must have shape (n_examples, n_classes) "
                                   f"with n_classes >= 2; got shape {probs.shape}.")
    if (not np.all(np.isfinite(probs)) or probs.min() < 0
            or not np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)):
        raise InvalidArgumentError("`teacher_probs` must be probabilities: finite, >= 0, rows "
                                   "summing to 1 (within 1e-3).")
    pairs = _images_and_labels(dataset, "dataset")
    _check_aligned(pairs, len(probs), "teacher_probs", "the teacher's probabilities")
    zipped = tf.data.Dataset.zip((pairs, tf.data.Dataset.from_tensor_slices(probs)))
    return zipped.map(lambda xy, p: (xy[0], pack_targets(xy[1], p[None])[0]),
                      num_parallel_calls=tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------------------
# Re-weighting
# --------------------------------------------------------------------------------------------

def _check_labels(labels, n_classes=None):
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.size == 0 or labels.dtype.kind not in "iub":
        raise InvalidArgumentError(f"`labels` must be a non-empty 1-d array of ints; got shape "
                                   f"{labels.shape}, dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.min() < 0 or (n_classes is not None and labels.max() >= n_classes):
        raise InvalidArgumentError(f"`labels` must lie in [0, {n_classes or 'n_classes'}); got "
                                   f"values in [{labels.min()}, {labels.max()}].")
    return labels


def performance_weights(probabilities, labels, *, min_weight=0.3, gamma=1.0, normalize=True):
    """Meyer & Wong's performance weights: more weight where the dense model is less right.

    ``w_i = min_weight + (1 - min_weight) * (1 - p_i)**gamma`` with ``p_i`` the dense model's
    probability of example i's label (Meyer & Wong 2022, *A Fair Loss Function for Network
    Pruning*, arXiv 2211.10285; their CelebA runs use ``min_weight=0.3, gamma=1``). Given a
    population, ``p_i`` is its mean probability of the label.

    Parameters
    ----------
    probabilities : array_like of float, shape (n_examples, n_classes) or
        (n_members, n_examples, n_classes)
    labels : array_like of int, shape (n_examples,)
    min_weight : float in [0, 1]
        The weight of an example the dense model gets right with certainty.
    gamma : float > 0
    normalize : bool
        Divide by the mean weight, so the weights average 1 (default). Meyer & Wong do not: their
        weights average below 1, which also lowers the effective learning rate. Scaling every
        weight by one constant is a change of learning rate, so normalizing keeps the re-weighted
        run at the learning rate of the plain pruned run it is compared with (our departure).

    Returns
    -------
    ndarray of float32, shape (n_examples,)
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    if probs.ndim == 3:
        probs = probs.mean(axis=0)
    if probs.ndim != 2 or not np.all(np.isfinite(probs)) or probs.min() < 0 or probs.max() > 1:
        raise InvalidArgumentError("`probabilities` must be finite probabilities of shape "
                                   "(n_examples, n_classes) or (n_members, n_examples, "
                                   f"n_classes); got shape {np.shape(probabilities)}.")
    labels = _check_labels(labels, probs.shape[1])
    if len(labels) != len(probs):
        raise InvalidArgumentError(f"`labels` has {len(labels)} entries but `probabilities` "
                                   f"covers {len(probs)} examples.")
    if not _real(min_weight) or not 0 <= min_weight <= 1:
        raise InvalidArgumentError(f"`min_weight` must be in [0, 1]; got {min_weight!r}.")
    if not _real(gamma) or not gamma > 0 or not np.isfinite(gamma):
        raise InvalidArgumentError(f"`gamma` must be a positive float; got {gamma!r}.")
    score = probs[np.arange(len(labels)), labels]
    weights = min_weight + (1.0 - min_weight) * (1.0 - score) ** gamma
    if normalize:
        if not weights.mean() > 0:
            raise InvalidArgumentError("every performance weight is 0 (min_weight=0 and the "
                                       "dense model is certain and right on every example); "
                                       "they cannot be normalized.")
        weights = weights / weights.mean()
    return weights.astype(np.float32)


def group_weights(attributes, labels, *, power=1.0):
    """Kamiran & Calders' reweighing: label and group made independent in the weighted data.

    ``w(s, y) = P(s) P(y) / P(s, y)`` for an example of group ``s`` (the joint values of the
    given attributes) and label ``y`` (Kamiran & Calders 2012, *Data preprocessing techniques for
    classification without discrimination*, KAIS 33; AIF360's ``Reweighing``). A cell rarer than
    independence predicts (CelebA's blond men: 0.85% of train against 0.417 x 0.149 = 6.2%
    expected) is up-weighted by that ratio (7.3 there). The weights average exactly 1.

    Parameters
    ----------
    attributes : dict of str -> array_like of shape (n_examples,)
        Group attributes (bool or int), e.g. ``{"Male": ..., "Young": ...}``.
    labels : array_like of int, shape (n_examples,)
    power : float in (0, 1]
        Tempering (ours): the weights are raised to ``power`` and divided by their mean, so 1 is
        Kamiran & Calders' reweighing and 0.5 its square root (blond men 2.7x rather than 7.3x
        on CelebA), trading less of the majority's accuracy for less of the rare cell's gain.

    Returns
    -------
    ndarray of float32, shape (n_examples,)
    """
    if not _real(power) or not 0 < power <= 1:
        raise InvalidArgumentError(f"`power` must be in (0, 1]; got {power!r}.")
    labels = _check_labels(labels)
    if not isinstance(attributes, dict) or not attributes:
        raise InvalidArgumentError("`attributes` must be a non-empty dict of name -> array of "
                                   "shape (n_examples,).")
    columns = []
    for name, values in attributes.items():
        values = np.asarray(values)
        if values.shape != labels.shape or values.dtype.kind not in "iub":
            raise InvalidArgumentError(f"`attributes[{name!r}]` must be bool or int of shape "
                                       f"{labels.shape}; got shape {values.shape}, dtype "
                                       f"{values.dtype}.")
        columns.append(values.astype(np.int64))
    _, group = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
    group = group.reshape(-1)
    _, label_index = np.unique(labels, return_inverse=True)
    n = len(labels)
    p_group = np.bincount(group) / n
    p_label = np.bincount(label_index) / n
    joint = np.zeros((len(p_group), len(p_label)))
    np.add.at(joint, (group, label_index), 1.0 / n)
    weights = p_group[group] * p_label[label_index] / joint[group, label_index]
    if power != 1:
        weights = weights ** power
        weights = weights / weights.mean()
    return weights.astype(np.float32)


def with_sample_weights(dataset, weights):
    """(image, label, weight) triples: each example with its weight, for ``model.fit``.

    Parameters
    ----------
    dataset : tf.data.Dataset
        Unbatched pie_tf examples or pairs (image, label) or (image, packed target), in the
        order ``weights`` were computed in.
    weights : array_like of float, shape (n_examples,)
        Non-negative, finite (e.g. :func:`performance_weights`, :func:`group_weights`, or their
        product).

    Returns
    -------
    tf.data.Dataset of (image, target, float32 weight) triples, unbatched.
    """
    weights = np.asarray(weights, dtype=np.float32)
    if weights.ndim != 1 or not np.all(np.isfinite(weights)) or weights.min() < 0:
        raise InvalidArgumentError(f"`weights` must be a 1-d array of finite, non-negative "
                                   f"floats; got shape {weights.shape}.")
    pairs = _images_and_labels(dataset, "dataset")
    _check_aligned(pairs, len(weights), "weights", "the weights")
    zipped = tf.data.Dataset.zip((pairs, tf.data.Dataset.from_tensor_slices(weights)))
    return zipped.map(lambda xy, w: (xy[0], xy[1], w), num_parallel_calls=tf.data.AUTOTUNE)
