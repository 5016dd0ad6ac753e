"""Run an experiment script as a user would, under ``tfds.testing.mock_data``.

    python -m tests.experiments._mock_paper experiments/celeba_bias.py 64 --preset=paper ...

tfds then serves its own fake examples with each dataset's real features (image shapes, 40
CelebA attributes, 1000 ImageNet labels, the 75 ImageNet-C configs) instead of reading a prepared
``data_dir``: the paper presets' code paths run end to end with nothing downloaded. The second
argument is the number of fake examples per split.
"""
import runpy
import sys

import tensorflow_datasets as tfds


def main():
    script, num_examples, *argv = sys.argv[1:]
    with tfds.testing.mock_data(num_examples=int(num_examples)):
        sys.argv = [script, *argv]
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
