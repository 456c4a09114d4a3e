#!/usr/bin/env bash
# Compiles the CUDA module (SR_NATIVE_CUDA=ON) so it cannot rot unseen on
# machines without a GPU, then imports it beside the installed package and
# runs the CUDA tests: without a GPU they skip with the reason the module
# gives, and test_cuda_unavailable.py checks that reason and the errors.
# What .ci/run does after the main suite. Needs nvcc on PATH (CI has it).
#   tools/cuda_build_check.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v nvcc >/dev/null 2>&1; then
  echo "tools/cuda_build_check.sh: no nvcc on PATH: the CUDA module was NOT compiled" >&2
  exit 0
fi
python -m pip install --quiet "pybind11>=2.12" cmake ninja
build=build/cuda-check
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSR_NATIVE_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCH:-90}" -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" --target _cuda -j"$(nproc)"
# A package tree: the sources, the installed _core, and this _cuda.
installed="$(cd /tmp && python -c 'import os, sr_native; print(os.path.dirname(sr_native.__file__))')"
tree="$build/pkg"
rm -rf "$tree" && mkdir -p "$tree"
cp -r python/sr_native "$tree/"
rm -f "$tree"/sr_native/_core*.so "$tree"/sr_native/_cuda*.so
cp "$installed"/_core*.so "$tree/sr_native/"
cp -r "$installed"/weights "$tree/sr_native/" 2>/dev/null || true
cp "$build"/_cuda*.so "$tree/sr_native/"
PYTHONPATH="$tree" python -c "import sr_native; print('CUDA module built and imported; available:', sr_native.cuda_available(), '-', sr_native.cuda_unavailable_reason() or 'yes')"
PYTHONPATH="$tree" python -m pytest -q -p no:cacheprovider -rs tests/test_cuda_unavailable.py tests/test_cuda_ops.py \
  tests/test_cuda_models.py "$@"
