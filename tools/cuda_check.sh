#!/usr/bin/env bash
# Build sr_native with its CUDA module and run the GPU checks, on a machine
# with an NVIDIA GPU, nvcc, and the package's dependencies installed:
#
#   bash tools/cuda_check.sh [OUTDIR]
#
# STEPS (comma-separated, default all): build, selftest (the standalone
# kernel programs in tools/*_selftest.cu), tests (tests/test_cuda_*.py),
# sanitize (compute-sanitizer memcheck over the CUDA op tests), bench
# (bench/cuda.py against PyTorch + cuDNN). Logs go to OUTDIR.
set -u
OUT=${1:-/tmp/cuda_check}
mkdir -p "$OUT"
STEPS=${STEPS:-build,selftest,tests,sanitize,bench}
PY=${PYTHON:-python3}
ARCH=${CUDA_ARCH:-90}
SITE=${SITE:-/tmp/sr_native_site}
has() { [[ ",$STEPS," == *",$1,"* ]]; }
status=0

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
nvcc --version | tail -2
$PY --version

if has build; then
  echo "== build (SR_NATIVE_CUDA=ON, architectures $ARCH)"
  export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
  rm -rf "$SITE"
  if ! $PY -m pip install --no-build-isolation --no-deps --target "$SITE" . \
      -Ccmake.define.SR_NATIVE_CUDA=ON -Ccmake.define.CMAKE_CUDA_ARCHITECTURES="$ARCH" \
      -Cbuild-dir=build/cuda > "$OUT/build.log" 2>&1; then
    tail -60 "$OUT/build.log"
    echo "BUILD FAILED"
    exit 1
  fi
  grep -E "warning|ptxas" "$OUT/build.log" | head -20
fi
export PYTHONPATH="$SITE"
$PY -c "import sr_native; print('cuda available:', sr_native.cuda_available(), sr_native.cuda_unavailable_reason())"

if has selftest; then
  for t in tools/*_selftest.cu; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .cu)
    echo "== $name"
    # resize.cu takes its taps from resize_ref.cpp; the ops test also compares with the other
    # reference kernels (the conv test has its own double loops).
    refs=(cpp/ref/resize_ref.cpp)
    [[ $name == cuda_ops_selftest ]] && refs=(cpp/ref/*.cpp)
    if nvcc -std=c++17 -O3 -arch=sm_$ARCH -Icpp/include -Icpp "$t" cpp/cuda/*.cu "${refs[@]}" \
        -o "/tmp/$name" > "$OUT/$name.build.log" 2>&1; then
      timeout 240 "/tmp/$name" > "$OUT/$name.log" 2>&1 || { echo "$name exit $?"; status=1; }
      grep -E "FAIL|TFLOP|GB/s|error" "$OUT/$name.log" | head -40
      grep -c PASS "$OUT/$name.log" | sed 's/^/PASS lines: /'
    else
      tail -20 "$OUT/$name.build.log"
      status=1
    fi
  done
fi

if has tests; then
  echo "== pytest (CUDA tests)"
  $PY -m pytest -q -p no:cacheprovider -rs tests/test_cuda_ops.py tests/test_cuda_models.py \
      tests/test_cuda_unavailable.py > "$OUT/tests.log" 2>&1 || status=1
  grep -E "passed|failed|error" "$OUT/tests.log" | tail -3
  grep -E "^(FAILED|ERROR)" "$OUT/tests.log" | head -30
fi

if has sanitize; then
  echo "== compute-sanitizer memcheck over tests/test_cuda_ops.py"
  timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 \
      $PY -m pytest -q -p no:cacheprovider tests/test_cuda_ops.py -k "not 1000003" > "$OUT/sanitize.log" 2>&1
  rc=$?
  echo "compute-sanitizer exit $rc"
  grep -E "ERROR SUMMARY|passed|failed" "$OUT/sanitize.log" | tail -3
  [ $rc -eq 0 ] || { status=1; grep -m 20 -E "Invalid|Error|at 0x" "$OUT/sanitize.log"; }
fi

if has bench; then
  echo "== bench/cuda.py"
  timeout 300 $PY bench/cuda.py --repeat 10 > "$OUT/bench.log" 2>&1 || status=1
  cat "$OUT/bench.log" | tail -25
fi
exit $status
