#!/usr/bin/env bash
# Developer build: compiles the extension into build/dev and copies it next to
# the Python sources, so `PYTHONPATH=python pytest` runs this tree without an
# install. Users run `pip install .` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" "$@" >/dev/null
cmake --build build/dev -j2
cp build/dev/_core*.so python/sr_native/
# The shipped weights where an installed package has them (sr_native/weights/).
mkdir -p python/sr_native/weights
cp weights/*.safetensors python/sr_native/weights/ 2>/dev/null || true
