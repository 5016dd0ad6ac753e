"""ResNets as plain tf_keras functional models that pruning and quantization accept as they are.

Every block is Conv2D (no bias) -> BatchNormalization -> ReLU, the pattern tfmot folds for
quantization-aware training, and residual sums are ``layers.Add`` (tfmot cannot quantize a tensor
``+``, which Keras records as a TFOpLambda). There are no nested models and no Lambda layers, so
``pie_tf.PruneCallback``, ``pie_tf.quantize`` and ``tfmot`` wrap each layer directly.

- :func:`resnet18`, :func:`resnet50`: He et al. (2016) ImageNet ResNets, used by Hooker et al.
  (ResNet-50 on ImageNet, ResNet-18 on CelebA). Strides sit on the 3x3 convolution of bottleneck
  blocks ("ResNet v1.5", as torchvision and the TF model garden do); parameter counts equal
  torchvision's (25,557,032 and 11,689,512 with 1000 classes).
- :func:`small_resnet`: the CIFAR ResNets of He et al. section 4.2 (depth 6n+2: 20, 32, 44, 56,
  ...), for 28-32 px images. Where the channel count changes, the shortcut is a 1x1 convolution
  with batch norm (the paper's option B) rather than zero padding (option A), because padding
  needs a Lambda layer that tfmot cannot wrap; this adds about 2% to the parameters of ResNet-20.
"""
from __future__ import annotations

from pie_tf._keras import keras as tf_keras
from pie_tf._keras import keras3

__all__ = ["resnet18", "resnet50", "small_resnet"]


def _keras(keras):
    """The Keras to build with: tf_keras (None, the default), or the ``keras`` module given."""
    if keras is None:
        return tf_keras
    if keras is tf_keras or keras is keras3():
        return keras
    raise ValueError(f"`keras` must be None (tf_keras), the tf_keras module or the Keras 3 "
                     f"module (`import keras`); got {keras!r}.")


def _check(input_shape, n_classes, min_size):
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    if shape is None or len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise ValueError(f"`input_shape` must be (height, width, channels) of positive ints; got "
                         f"{input_shape!r}.")
    if shape[0] < min_size or shape[1] < min_size:
        raise ValueError(f"`input_shape` {shape} is too small for this network; height and width "
                         f"must be at least {min_size}.")
    if isinstance(n_classes, bool) or not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"`n_classes` must be an int >= 2; got {n_classes!r}.")
    return shape


def _conv_bn(layers, x, filters, kernel, stride, name, relu=True):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False,
                      kernel_initializer="he_normal", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def _shortcut(layers, x, filters, stride, name):
    if stride == 1 and x.shape[-1] == filters:
        return x
    return _conv_bn(layers, x, filters, 1, stride, f"{name}_proj", relu=False)


def _basic_block(layers, x, filters, stride, name):
    shortcut = _shortcut(layers, x, filters, stride, name)
    y = _conv_bn(layers, x, filters, 3, stride, f"{name}_1")
    y = _conv_bn(layers, y, filters, 3, 1, f"{name}_2", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def _bottleneck_block(layers, x, filters, stride, name):
    shortcut = _shortcut(layers, x, 4 * filters, stride, name)
    y = _conv_bn(layers, x, filters, 1, 1, f"{name}_1")
    y = _conv_bn(layers, y, filters, 3, stride, f"{name}_2")
    y = _conv_bn(layers, y, 4 * filters, 1, 1, f"{name}_3", relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.ReLU(name=f"{name}_out")(y)


def _head(layers, x, n_classes, classifier_activation):
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    x = layers.Dense(n_classes, name="logits")(x)
    if classifier_activation is not None:
        # float32 so that mixed-precision training still emits float32 probabilities
        x = layers.Activation(classifier_activation, dtype="float32", name="probs")(x)
    return x


def _imagenet_resnet(input_shape, n_classes, block, blocks_per_stage, name,
                     classifier_activation, keras):
    keras = _keras(keras)
    layers = keras.layers
    shape = _check(input_shape, n_classes, min_size=32)
    inputs = keras.Input(shape=shape, name="image")
    x = _conv_bn(layers, inputs, 64, 7, 2, "stem")
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    for stage, blocks in enumerate(blocks_per_stage):
        for b in range(blocks):
            stride = 2 if stage > 0 and b == 0 else 1
            x = block(layers, x, 64 * 2 ** stage, stride, f"stage{stage + 1}_block{b + 1}")
    return keras.Model(inputs, _head(layers, x, n_classes, classifier_activation), name=name)


def resnet18(input_shape=(224, 224, 3), n_classes=1000, *, classifier_activation="softmax",
             keras=None):
    """ResNet-18 (basic blocks, 2-2-2-2), as Hooker et al. use on CelebA.

    Parameters
    ----------
    input_shape : tuple of int (height, width, channels)
        Height and width >= 32.
    n_classes : int
    classifier_activation : str or None
        ``"softmax"`` (default) outputs probabilities; None outputs logits.
    keras : module, optional
        The Keras to build with: None (default) for tf_keras, or the Keras 3 module
        (``import keras; resnet18(..., keras=keras)``).

    Returns
    -------
    keras.Model mapping (batch, height, width, channels) float images to (batch, n_classes).
    """
    return _imagenet_resnet(input_shape, n_classes, _basic_block, (2, 2, 2, 2), "resnet18",
                            classifier_activation, keras)


def resnet50(input_shape=(224, 224, 3), n_classes=1000, *, classifier_activation="softmax",
             keras=None):
    """ResNet-50 (bottleneck blocks, 3-4-6-3), as Hooker et al. use on ImageNet.

    Parameters and return as :func:`resnet18`.
    """
    return _imagenet_resnet(input_shape, n_classes, _bottleneck_block, (3, 4, 6, 3),
                            "resnet50", classifier_activation, keras)


def small_resnet(input_shape=(32, 32, 3), n_classes=10, *, depth=20, width=16,
                 classifier_activation="softmax", keras=None):
    """CIFAR-style ResNet (He et al. 2016, section 4.2) for 28-32 px images.

    Parameters
    ----------
    input_shape : tuple of int
        Height and width >= 8 (three stages, two of them stride 2).
    n_classes : int
    depth : int
        6n + 2 with n >= 1: 8, 14, 20 (0.27M parameters at width 16), 32, 44, 56, 110.
    width : int
        Channels of the first stage; the next two have 2x and 4x.
    classifier_activation : str or None
    keras : module, optional
        As in :func:`resnet18`: None for tf_keras, or the Keras 3 module.

    Returns
    -------
    keras.Model mapping (batch, height, width, channels) to (batch, n_classes).
    """
    keras = _keras(keras)
    layers = keras.layers
    shape = _check(input_shape, n_classes, min_size=8)
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"`depth` must be 6n + 2 with n >= 1 (8, 14, 20, 32, ...); got {depth!r}.")
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"`width` must be a positive int; got {width!r}.")
    inputs = keras.Input(shape=shape, name="image")
    x = _conv_bn(layers, inputs, width, 3, 1, "stem")
    for stage in range(3):
        for b in range((depth - 2) // 6):
            stride = 2 if stage > 0 and b == 0 else 1
            x = _basic_block(layers, x, width * 2 ** stage, stride,
                             f"stage{stage + 1}_block{b + 1}")
    return keras.Model(inputs, _head(layers, x, n_classes, classifier_activation),
                       name=f"resnet{depth}_w{width}")
