"""pie_tf.models: ResNets that pie_tf's pruning and quantization accept as they are.

``resnet18`` / ``resnet50`` (ImageNet and CelebA, He et al. 2016) and ``small_resnet`` (CIFAR-style,
28-32 px). Any other builder works with the population if it returns a functional or Sequential
tf_keras or Keras 3 model whose residual sums are ``layers.Add``. Each builder takes ``keras=``:
None (tf_keras, the default) or the Keras 3 module (``import keras``).
"""
from pie_tf.models.resnet import resnet18, resnet50, small_resnet

__all__ = ["resnet18", "resnet50", "small_resnet"]
