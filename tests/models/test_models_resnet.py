"""The ResNets build, have the published parameter counts, and tfmot wraps them as they are."""
import numpy as np
import pytest
import tensorflow_model_optimization as tfmot

from pie_tf._keras import keras
from pie_tf.models import resnet18, resnet50, small_resnet


def _trainable(model):
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_imagenet_resnets_match_published_parameter_counts():
    # torchvision's resnet50 / resnet18 (weights and BN affine parameters; Keras also keeps the
    # BN moving statistics, which are not trainable)
    assert _trainable(resnet50()) == 25_557_032
    assert _trainable(resnet18()) == 11_689_512
    celeba = resnet18((64, 64, 3), 2)
    assert celeba.output_shape == (None, 2)
    assert not any(isinstance(layer, keras.layers.Lambda)
                   or "lambda" in type(layer).__name__.lower() for layer in celeba.layers)


def _cifar_resnet_parameters(n, width, channels, classes):
    """He et al.'s CIFAR ResNet counted layer by layer (convs without bias, BN gamma+beta)."""
    def conv_bn(cin, cout, k):
        return k * k * cin * cout + 2 * cout
    total = conv_bn(channels, width, 3)
    cin = width
    for stage in range(3):
        cout = width * 2 ** stage
        for _ in range(n):
            total += conv_bn(cin, cout, 3) + conv_bn(cout, cout, 3)
            if cin != cout:
                total += conv_bn(cin, cout, 1)  # projection shortcut (option B)
            cin = cout
    return total + cin * classes + classes


def test_builders_build_keras3_models_of_the_same_architecture():
    import keras as keras3

    for build, args in ((small_resnet, ((32, 32, 3), 10)), (resnet18, ((64, 64, 3), 2))):
        k3, k2 = build(*args, keras=keras3), build(*args)
        assert isinstance(k3, keras3.Model) and not isinstance(k3, keras.Model)
        assert [type(layer).__name__ for layer in k3.layers] == [
            type(layer).__name__ for layer in k2.layers]
        assert _trainable(k3) == _trainable(k2)
    assert _trainable(small_resnet((32, 32, 3), 10, keras=keras3)) == 272_474
    with pytest.raises(ValueError, match="`keras` must be None"):
        small_resnet(keras=np)


def test_small_resnet_counts_and_shapes():
    model = small_resnet((32, 32, 3), 10, depth=20, width=16)
    assert _trainable(model) == _cifar_resnet_parameters(3, 16, 3, 10) == 272_474
    tiny = small_resnet((28, 28, 1), 7, depth=8, width=4, classifier_activation=None)
    assert _trainable(tiny) == _cifar_resnet_parameters(1, 4, 1, 7)
    out = tiny(np.zeros((2, 28, 28, 1), np.float32)).numpy()
    assert out.shape == (2, 7)
    probs = small_resnet((28, 28, 1), 7, depth=8, width=4)(np.ones((3, 28, 28, 1))).numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_tfmot_quantizes_the_small_resnet_as_it_is():
    model = small_resnet((28, 28, 1), 5, depth=8, width=4)
    qat = tfmot.quantization.keras.quantize_model(model)
    assert any("quant" in layer.name for layer in qat.layers)
    x = np.random.default_rng(0).random((4, 28, 28, 1)).astype(np.float32)
    assert qat(x).shape == (4, 5)


@pytest.mark.parametrize("kwargs, match", [
    (dict(input_shape=(32, 32)), "input_shape"),
    (dict(input_shape=(4, 4, 3)), "too small"),
    (dict(n_classes=1), "n_classes"),
    (dict(depth=21), "6n \\+ 2"),
    (dict(width=0), "width"),
])
def test_bad_arguments_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        small_resnet(**kwargs)
