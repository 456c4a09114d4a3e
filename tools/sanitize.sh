#!/usr/bin/env bash
# Builds the extension with AddressSanitizer + UndefinedBehaviorSanitizer and
# runs the kernel tests against it (what .ci/run does after the main suite).
#   tools/sanitize.sh [pytest args...]     the kernel tests below
#   tools/sanitize.sh tests/test_x.py ...  only the test files given (with any pytest args)
# Python itself is not instrumented, so the ASan runtime is preloaded; leak
# checking is off (the interpreter's own allocations would drown it).
set -euo pipefail
cd "$(dirname "$0")/.."
# pip builds the package in an isolated environment; this build needs its
# own pybind11, CMake and Ninja (a fresh machine has only Python, pip and a compiler).
python -m pip install --quiet "pybind11>=2.12" cmake ninja
build=build/sanitize
# A build folder configured for another generator (an older run) is started afresh.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "CMAKE_GENERATOR:INTERNAL=Ninja" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSR_NATIVE_SANITIZE=ON \
  -Dpybind11_DIR="$(python -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j"$(nproc)"
# A package tree of its own: the sources with the sanitized extension.
tree="$build/pkg"
rm -rf "$tree" && mkdir -p "$tree"
cp -r python/sr_native "$tree/"
rm -f "$tree"/sr_native/_core*.so
cp "$build"/_core*.so "$tree/sr_native/"
libasan="$(${CXX:-g++} -print-file-name=libasan.so)"
libubsan="$(${CXX:-g++} -print-file-name=libubsan.so)"
tests=(tests/test_conv2d.py tests/test_conv1x1_pair.py tests/test_pixel_shuffle.py tests/test_resize.py
       tests/test_activations_losses.py tests/test_elementwise.py tests/test_boundaries.py
       tests/test_properties.py tests/test_fast_vs_reference_models.py tests/test_unaligned.py
       tests/test_conv_transpose2d.py tests/test_batch_norm.py tests/test_attention_ops.py)
for arg in "$@"; do
  case "$arg" in *.py|*.py::*) tests=(); break ;; esac
done
LD_PRELOAD="$libasan $libubsan" \
ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
PYTHONPATH="$tree" SR_NATIVE_SANITIZED=1 \
  python -m pytest -q -p no:cacheprovider "${tests[@]}" "$@"
