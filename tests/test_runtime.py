"""Build info, threads, instruction-set choice and GIL release."""

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
