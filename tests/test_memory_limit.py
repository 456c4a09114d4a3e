"""The memory check honours cgroup limits (containers), not only /proc/meminfo.

Inside a cgroup with a 1 GiB limit /proc/meminfo still describes the host, and
an op that trusted it would be killed by the OOM killer instead of raising
MemoryError. The test hook: SR_NATIVE_PROC_ROOT and SR_NATIVE_CGROUP_ROOT
(read at every check) replace /proc and /sys/fs/cgroup with fake files.
"""

import sys

import numpy as np
import pytest

import sr_native
from sr_native import _core, ops

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and cgroups are Linux's")

GIB = 1 << 30
MIB = 1 << 20


def fake_machine(tmp_path, monkeypatch, cgroup_line, files, mem_available=64 * GIB):
    """A /proc with meminfo and self/cgroup, and a cgroup tree with `files`
    ({relative path: content}); the hook variables point at them."""
    proc, cg = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: {2 * mem_available // 1024} kB\n"
                                  f"MemAvailable: {mem_available // 1024} kB\nSwapFree: 0 kB\n")
    (proc / "self" / "cgroup").write_text(cgroup_line + "\n")
    for rel, content in files.items():
        path = cg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    monkeypatch.setenv("SR_NATIVE_PROC_ROOT", str(proc))
    monkeypatch.setenv("SR_NATIVE_CGROUP_ROOT", str(cg))


def test_meminfo_alone(tmp_path, monkeypatch):
    fake_machine(tmp_path, monkeypatch, "0::/", {}, mem_available=20 * GIB)
    assert _core.available_memory() == 20 * GIB


def test_cgroup_v2_limit_minus_usage(tmp_path, monkeypatch):
    # 1 GiB limit, 200 MiB charged of which 50 MiB is reclaimable page cache.
    fake_machine(tmp_path, monkeypatch, "0::/user.slice/job", {
        "user.slice/job/memory.max": f"{GIB}\n",
        "user.slice/job/memory.current": f"{200 * MIB}\n",
        "user.slice/job/memory.stat": f"anon 1000\nfile 0\ninactive_file {50 * MIB}\nactive_file 0\n",
        "user.slice/memory.max": "max\n",
    })
    assert _core.available_memory() == GIB - 150 * MIB


def test_cgroup_v2_tightest_ancestor_counts(tmp_path, monkeypatch):
    fake_machine(tmp_path, monkeypatch, "0::/a/b", {
        "a/b/memory.max": "max\n", "a/b/memory.current": f"{10 * MIB}\n",
        "a/memory.max": f"{512 * MIB}\n", "a/memory.current": f"{100 * MIB}\n",
    })
    assert _core.available_memory() == 412 * MIB


def test_cgroup_v1_limit_and_no_limit(tmp_path, monkeypatch):
    fake_machine(tmp_path, monkeypatch, "5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/", {
        "memory/docker/abc/memory.limit_in_bytes": f"{GIB}\n",
        "memory/docker/abc/memory.usage_in_bytes": f"{300 * MIB}\n",
        "memory/docker/abc/memory.stat": f"cache 0\ninactive_file 7\ntotal_inactive_file {100 * MIB}\n",
        "memory/docker/memory.limit_in_bytes": "9223372036854771712\n",  # v1's "no limit"
    })
    assert _core.available_memory() == GIB - 200 * MIB


def test_relu_raises_memory_error_in_a_small_cgroup(tmp_path, monkeypatch):
    # 1 GiB container with 980 MiB in use: a 128 MiB result does not fit, and
    # the host's 64 GiB in /proc/meminfo must not be believed.
    fake_machine(tmp_path, monkeypatch, "0::/", {
        "memory.max": f"{GIB}\n", "memory.current": f"{980 * MIB}\n",
    })
    x = np.ones(32 * MIB, np.float32)  # 128 MiB
    with pytest.raises(MemoryError, match=r"relu: the result needs 0\.125 GiB but only 0\.0\d+ GiB"):
        ops.relu(x)
    small = np.ones(1000, np.float32)  # below the 64 MiB the check starts at
    np.testing.assert_array_equal(ops.relu(small), small)


def test_resize_counts_its_tap_tables(tmp_path, monkeypatch):
    # A one-row image to two million columns: an 8 MB result, but about 0.5 GB
    # of tap tables (index and weight per tap, reference and fast forms).
    # With 256 MiB left they must be refused before they are built.
    fake_machine(tmp_path, monkeypatch, "0::/", {"memory.max": f"{256 * MIB}\n", "memory.current": "0\n"})
    row = np.linspace(0, 1, 1000, dtype=np.float32)[None, :]
    with pytest.raises(MemoryError, match=r"resize: the result with its tap tables .* needs"):
        sr_native.resize(row, size=(1, 2_000_000))
    with pytest.raises(MemoryError, match=r"resize: the result with its tap tables"):
        sr_native.resize(row, size=(1, 2_000_000), reference=True)
    out = sr_native.resize(row, size=(1, 20_000))  # small enough: works
    assert out.shape == (1, 20_000) and np.isfinite(out).all()


def test_real_machine_reports_something_positive(monkeypatch):
    monkeypatch.delenv("SR_NATIVE_PROC_ROOT", raising=False)
    monkeypatch.delenv("SR_NATIVE_CGROUP_ROOT", raising=False)
    assert _core.available_memory() > 0
