"""Run an experiment script as a user would, under ``tfds.testing.mock_data``.

    python -m tests.experiments._mock_paper experiments/celeba_bias.py 64 --preset=paper ...

tfds then serves its own fake examples with each dataset's real features (image shapes, 40
CelebA attributes, 1000 ImageNet labels, the 75 ImageNet-C configs) instead of reading a prepared
``data_dir``: the paper presets' code paths run end to end with nothing downloaded. The second
argument is the number of fake examples per split.

:func:`mock_data` keeps tfds's generator and reading code (``builder.as_dataset``) and corrects
two things in which tfds's mock departs from prepared data:

- ``imagenet_a``'s ``ClassLabel`` has ImageNet's 1,000 names, but its images belong to 200 of
  those classes only, so a fake label drawn from all 1,000 is one no ImageNet-A image has (and
  the audit refuses it). Each fake ImageNet-A label ``k`` becomes ImageNet-A's ``k mod 200``-th
  class (:data:`pie_tf.data.imagenet.IMAGENET_A_INDICES`).
- tfds's mock serves ``num_examples`` examples whatever the split says; a prepared dataset read
  as ``"validation[:4]"`` gives its first 4, and so does this mock (at most ``num_examples``).
"""
import contextlib
import re
import runpy
import sys
from unittest import mock

import tensorflow_datasets as tfds
from tensorflow_datasets.core import dataset_builder


@contextlib.contextmanager
def mock_data(num_examples):
    """``tfds.testing.mock_data(num_examples)`` with ImageNet-A's labels in its 200 classes."""
    import tensorflow as tf

    from pie_tf.data.imagenet import IMAGENET_A_INDICES

    with tfds.testing.mock_data(num_examples=num_examples):
        fake = dataset_builder.FileReaderBuilder._as_dataset  # tfds's mock generator

        def as_dataset(self, split, **kwargs):
            ds = fake(self, split=split, **kwargs)
            head = re.fullmatch(r"\w+\[:(\d+)\]", str(split))
            if head:  # "validation[:4]": the first 4, as tfds reads a prepared split
                ds = ds.take(int(head.group(1)))
            if self.name != "imagenet_a":
                return ds
            classes = tf.constant(IMAGENET_A_INDICES, tf.int64)
            return ds.map(lambda ex: {**ex, "label": tf.gather(classes, ex["label"] % 200)})

        with mock.patch.object(dataset_builder.FileReaderBuilder, "_as_dataset", as_dataset):
            yield


def main():
    script, num_examples, *argv = sys.argv[1:]
    with mock_data(int(num_examples)):
        sys.argv = [script, *argv]
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
