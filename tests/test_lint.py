"""The code passes the ruff configuration in pyproject.toml, so CI enforces it."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_ruff_finds_nothing():
    found = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True,
                           text=True)
    assert found.returncode == 0, ("ruff is not installed in this environment; install the "
                                   "dev requirements: pip install -r requirements-dev.txt "
                                   "-c constraints.txt")
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache",
                             "--output-format", "concise", ROOT],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, f"ruff check found violations:\n{result.stdout}{result.stderr}"
