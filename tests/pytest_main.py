"""Entry point for Bazel's py_test targets: run pytest on the test file given as argument."""
import sys

import pytest

if __name__ == "__main__":
    sys.exit(pytest.main(sys.argv[1:] + ["-q"]))
