"""Build info, threads, instruction-set choice and GIL release."""

import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import sr_native
from conftest import subprocess_env


def test_build_info_names_the_code_path():
    info = sr_native.build_info()
    assert info["isa_active"] in info["isa_compiled"]
    assert info["isa_detected"] in ("generic", "avx2", "avx512")
    assert info["isa_active"] == sr_native.get_isa()
    assert info["num_threads"] == sr_native.get_num_threads() >= 1
    assert info["cuda"] is (sr_native.cuda._cuda is not None)


def test_isa_can_be_lowered_and_restored():
    before = sr_native.get_isa()
    try:
        sr_native.set_isa("generic")
        assert sr_native.get_isa() == "generic"
        assert sr_native.build_info()["isa_active"] == "generic"
    finally:
        sr_native.set_isa(before)
    assert sr_native.get_isa() == before
    with pytest.raises(ValueError, match="'generic', 'avx2' or 'avx512'"):
        sr_native.set_isa("sse9")


def run_python(code, **env):
    full_env = subprocess_env(**env)
    out = subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def test_environment_variables_are_honoured():
    code = "import sr_native; print(sr_native.get_num_threads(), sr_native.get_isa())"
    threads, isa = run_python(code, OMP_NUM_THREADS="1", SR_NATIVE_ISA="generic").split()
    if sr_native.build_info()["openmp"]:
        assert threads == "1"
    assert isa == "generic"


def test_set_num_threads_validates():
    before = sr_native.get_num_threads()
    try:
        sr_native.set_num_threads(1)
        assert sr_native.get_num_threads() == 1
    finally:
        sr_native.set_num_threads(before)
    with pytest.raises(ValueError, match="n must be >= 1"):
        sr_native.set_num_threads(0)
    with pytest.raises(TypeError, match="n must be an int"):
        sr_native.set_num_threads(2.0)


def test_gil_is_released_while_a_kernel_runs():
    # A few reference convs on this shape run for about half a second. If the
    # kernel held the GIL, the main thread could not run a single Python bytecode
    # meanwhile; with it released, it counts many iterations.
    x = np.ones((1, 32, 128, 128), np.float32)
    w = np.ones((32, 32, 5, 5), np.float32)
    done = threading.Event()

    def work():
        for _ in range(4):
            sr_native.ref.conv2d(x, w)
        done.set()

    t = threading.Thread(target=work)
    start = time.perf_counter()
    t.start()
    time.sleep(0.02)  # let the worker enter the kernel
    count = 0
    while not done.is_set():
        count += 1
    elapsed = time.perf_counter() - start
    t.join()
    assert elapsed > 0.1, "the kernel finished too fast for the check to mean anything"
    assert count > 10_000


def test_fma_peak_probe_reports_a_rate():
    gflops = sr_native._core.measure_fma_peak(0.05)
    assert 0.1 < gflops < 1e6
    with pytest.raises(ValueError, match="seconds must be in"):
        sr_native._core.measure_fma_peak(0.0)


def test_set_num_threads_refuses_more_than_4x_the_cpus():
    # libgomp segfaults from n = 65536 and calls exit(1) at 40000: refused first.
    limit = sr_native._core.max_num_threads()
    assert limit >= 4
    for n in (limit + 1, 1000, 40000, 65536, 2**70):
        with pytest.raises(ValueError, match=rf"set_num_threads: n must be >= 1 and at most {limit} \(4x the"):
            sr_native.set_num_threads(n)
        if n < 2**63:
            with pytest.raises(ValueError, match="hardware_concurrency"):
                sr_native._core.set_num_threads(n)
    before = sr_native.get_num_threads()
    try:
        assert sr_native.set_num_threads(limit) == limit  # the limit itself is allowed
        x = np.linspace(-1, 1, 1 << 17, dtype=np.float32)
        np.testing.assert_array_equal(sr_native.ops.relu(x), np.maximum(x, 0))
    finally:
        sr_native.set_num_threads(before)


# A child whose address space leaves room for only a few thread stacks: OpenMP
# would call exit(1) when a parallel region could not create its team.
_LOW_ADDRESS_SPACE = r"""
import os, resource, sys, warnings
import numpy as np
import sr_native
from sr_native import ops

def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024

x = np.linspace(-1, 1, 1 << 18, dtype=np.float32)  # above the one-thread cut-off
limit = 4 * os.cpu_count()  # what set_num_threads allows (hardware_concurrency)
# 8 MiB stacks (glibc's default): room for about 3 more threads, not limit - 1.
resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + (28 << 20), resource.RLIM_INFINITY))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    used = sr_native.set_num_threads(limit)
y = ops.relu(x)
assert np.array_equal(y, np.maximum(x, 0))
try:
    sr_native.set_num_threads(1000)  # `ulimit -v 4G` plus 1000 threads: exit(1) before
except ValueError as e:
    print("refused", e)
print(f"threads {used}/{limit}", "warned", [str(w.message) for w in caught])
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc/self/status are Linux's")
def test_set_num_threads_falls_back_when_threads_cannot_be_created():
    if not sr_native.build_info()["openmp"]:
        pytest.skip("no OpenMP: one thread, nothing to create")
    env = subprocess_env(OMP_NUM_THREADS="1", OMP_STACKSIZE="8M", OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", _LOW_ADDRESS_SPACE], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr[-2000:])
    assert "refused set_num_threads: n must be >= 1 and at most" in out.stdout
    used, limit = (int(v) for v in re.search(r"threads (\d+)/(\d+)", out.stdout).groups())
    assert 1 <= used <= limit
    if used < limit:  # fewer stacks fit: said so, and the kernels ran on what was created
        assert f"only {used} of {limit} threads could be created" in out.stdout


def test_huge_omp_num_threads_is_capped():
    # OMP_NUM_THREADS=40000 made the first parallel region call exit(1).
    code = ("import os, numpy as np, sr_native; x = np.ones(1 << 18, np.float32); "
            "assert (sr_native.ops.relu(x) == 1).all(); print(sr_native.get_num_threads(), 4 * os.cpu_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=subprocess_env(OMP_NUM_THREADS="40000"))
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    if sr_native.build_info()["openmp"]:
        threads, limit = out.stdout.split()
        assert threads == limit
