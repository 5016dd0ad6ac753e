#!/usr/bin/env bash
# Idempotent set-up on a fresh Debian machine (Python 3.11): Debian packages, a virtual environment
# in .venv with the pinned dependencies, and pie_tf installed into it in editable mode.
# Re-running skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
for pkg in dataset-fashion-mnist chromium; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.pie_tf-requirements
want=$(cat requirements.txt requirements-dev.txt constraints.txt setup.cfg | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt -c constraints.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "pie_tf set up: $(.venv/bin/python -c 'import pie_tf; print(pie_tf.__version__)')"
