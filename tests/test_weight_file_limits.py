"""Hostile and broken weight files (issue 17): files that are not regular
files, resource amplification (pickle opcodes, zip bombs, metadata that asks
for huge networks), NaN and infinity in weights or normalisation, malformed
layouts; and random mutations of valid files. Each must give a typed error
naming the file (ValueError, or MemoryError for sizes past memory) within a
few seconds and bounded memory, never a hang, a crash or a silently broken
network.

The .pt files are assembled by hand (test_checkpoints' pickle helpers), so
no test here needs torch."""

import json
import os
import re
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.numpy import save_file

import sr_native
from conftest import subprocess_env
from sr_native.checkpoints import CheckpointError, read_torch_checkpoint
from sr_native.models import EDSR, WDSR, Normalization
from sr_native.weights import from_foreign_state_dict
from test_checkpoints import frag, program, storage_pid, tensor_v2, write_legacy, write_zip

STORAGE_TYPES = {np.dtype("<f4"): "FloatStorage", np.dtype("<f8"): "DoubleStorage",
                 np.dtype("<i8"): "LongStorage", np.dtype("<f2"): "HalfStorage"}


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.05
    return model


def edsr_pytorch_state(n_feats=4, n_blocks=1, scale=2, seed=0):
    """A random EDSR-PyTorch state dict (head.0, body.i.body.{0,2}, body.n, tail.0.*, tail.1)."""
    model = randomize(EDSR(scale, n_feats=n_feats, n_resblocks=n_blocks), seed)
    names = {"head": "head.0", "body_conv": f"body.{n_blocks}", "tail": "tail.1"}
    names.update({f"body.{i}.conv{j + 1}": f"body.{i}.body.{2 * j}" for i in range(n_blocks) for j in range(2)})
    names.update({f"upsample.{j}": f"tail.0.{2 * j}" for j in range(len(model.upsample))})
    out = {}
    for key, value in model.state_dict().items():
        prefix, leaf = key.rsplit(".", 1)
        out[f"{names[prefix]}.{leaf}"] = value.copy()
    return out


def tensor_pickle(key, array):
    array = np.ascontiguousarray(array)
    strides = tuple(s // array.itemsize for s in array.strides)
    return tensor_v2(storage_pid(key, array.size, STORAGE_TYPES[array.dtype]), 0, array.shape, strides)


def dict_pickle(items):
    """A pickled dict from (already pickled key, pickled value) pairs: keys need not be strings."""
    return b"}(" + b"".join(k + v for k, v in items) + b"u"


def write_pt(path, state, *, wrap=None, fmt="zip"):
    """A torch.save-like .pt of a dict of arrays (keys may be any picklable value);
    wrap='params' nests it as BasicSR does."""
    items, storages = [], []
    for i, (key, array) in enumerate(state.items()):
        array = np.asarray(array)
        items.append((frag(key), tensor_pickle(str(i), array)))
        storages.append((str(i), array.astype(array.dtype.newbyteorder("<")).tobytes()))
    body = dict_pickle(items)
    if wrap is not None:
        body = dict_pickle([(frag(wrap), body)])
    if fmt == "zip":
        return write_zip(path, program(body), storages)
    return write_legacy(path, program(body), keys=[k for k, _ in storages],
                        raws=[(raw, np.asarray(a).itemsize) for (_, raw), a in zip(storages, state.values())])


def write_safetensors(path, tensors, **meta_overrides):
    """Our weight format with any metadata entry replaced (None drops it)."""
    model = EDSR(2, n_feats=4, n_resblocks=1)
    meta = {"format": "sr_native/1", "architecture": "edsr", "arch_args": json.dumps(model.arch_args()),
            "scale": "2", "normalization": json.dumps(model.normalization.to_dict()),
            "pixel_shuffle_order": "CRD", "provenance": "{}"}
    for key, value in meta_overrides.items():
        if value is None:
            meta.pop(key)
        else:
            meta[key] = value if isinstance(value, str) else json.dumps(value)
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(path), metadata=meta)
    return path


def tiny_state(seed=0):
    return {k: v.copy() for k, v in randomize(EDSR(2, n_feats=4, n_resblocks=1), seed).state_dict().items()}


def zeros_deflate(nbytes, chunk=16 << 20):
    """A raw deflate stream of nbytes zero bytes, built in well under a second:
    one compressed chunk repeated (a full flush makes chunks independent)."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(bytes(chunk)) + comp.flush(zlib.Z_FULL_FLUSH)
    tail = comp.compress(bytes(nbytes % chunk)) + comp.flush(zlib.Z_FINISH)
    return block * (nbytes // chunk) + tail


def deflated(plain):
    """(raw deflate data, size, CRC) of plain bytes, for write_bomb_zip."""
    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    return comp.compress(plain) + comp.flush(), len(plain), zlib.crc32(plain)


def write_bomb_zip(path, members):
    """A zip archive by hand: members are (name, raw deflate data, declared size, CRC);
    a bomb's CRC is left zero (wrong), as a reader that trusted it would only find
    out after decompressing everything."""
    out, central = bytearray(), bytearray()
    for name, data, size, crc in members:
        name = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(data), size, len(name), 0)
        out += name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc, len(data), size,
                               len(name), 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                                 start, 0)
    path.write_bytes(bytes(out))
    return path


def run_limited(code, timeout=60):
    """Run code in a fresh interpreter; returns (seconds, peak traced bytes, stdout).
    The code's last statement's exception is printed as 'ERROR <type>: <message>'."""
    script = textwrap.dedent("""
        import sys, time, tracemalloc
        import numpy as np, sr_native
        from sr_native.checkpoints import read_torch_checkpoint
        tracemalloc.start()
        t0 = time.perf_counter()
        try:
        {body}
            print("OK")
        except BaseException as exc:
            print("ERROR", type(exc).__name__ + ":", str(exc)[:300])
        print("SECONDS", time.perf_counter() - t0)
        print("PEAK", tracemalloc.get_traced_memory()[1])
    """).format(body=textwrap.indent(textwrap.dedent(code), "    "))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout,
                         env=subprocess_env())
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    seconds = float(next(line.split()[1] for line in lines if line.startswith("SECONDS")))
    peak = int(next(line.split()[1] for line in lines if line.startswith("PEAK")))
    return seconds, peak, out.stdout


MiB = 1 << 20


# ----------------------------------------------------------------------------
# 1. only regular files: FIFOs, devices, directories, empty paths
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["x.pt", "x.safetensors", "x.pth"])
def test_fifo_is_refused_without_blocking(tmp_path, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    code = f"""
        try:
            sr_native.load_model({str(fifo)!r})
        except ValueError as exc:
            print("REFUSED", exc)
    """
    try:
        out = subprocess.run([sys.executable, "-c", "import sr_native\n" + textwrap.dedent(code)],
                             capture_output=True, text=True, timeout=30, env=subprocess_env())
    except subprocess.TimeoutExpired:
        pytest.fail(f"load_model blocked on the FIFO {fifo}")
    assert out.returncode == 0, out.stderr
    assert "REFUSED" in out.stdout and "FIFO" in out.stdout and name in out.stdout, out.stdout


def test_fifo_swapped_in_after_the_stat_is_refused_on_the_open_descriptor(tmp_path, monkeypatch):
    """stat says regular file, but a FIFO is what gets opened: the fstat after the
    non-blocking open refuses it (no hang)."""
    regular = tmp_path / "real.pt"
    regular.write_bytes(b"x")
    fifo = tmp_path / "swapped.pt"
    os.mkfifo(fifo)
    real_stat = os.stat
    monkeypatch.setattr(os, "stat", lambda p, *a, **k: real_stat(regular) if str(p) == str(fifo)
                        else real_stat(p, *a, **k))
    from sr_native.checkpoints import open_regular_file

    result = []
    worker = threading.Thread(target=lambda: result.append(_catch(open_regular_file, fifo)), daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():
        with open(fifo, "wb"):  # release the blocked open so the thread can end
            pass
        pytest.fail("open_regular_file blocked on a FIFO")
    assert isinstance(result[0], ValueError) and "FIFO" in str(result[0]), result


def _catch(fn, *args):
    try:
        fn(*args)
    except Exception as exc:
        return exc
    return None


def test_devices_directories_and_empty_paths(tmp_path):
    with pytest.raises(ValueError, match=r"/dev/null: is a character device"):
        sr_native.load_model("/dev/null")
    with pytest.raises(ValueError, match=r"/dev/zero: is a character device"):
        read_torch_checkpoint("/dev/zero")
    with pytest.raises(ValueError, match=f"{tmp_path}: is a directory"):
        sr_native.load_model(tmp_path)
    with pytest.raises(ValueError, match="empty path"):
        sr_native.load_model("")
    with pytest.raises(ValueError, match="empty path"):
        read_torch_checkpoint("")
    with pytest.raises(TypeError, match="load_model: name_or_path must be"):
        sr_native.load_model(None)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        read_torch_checkpoint(tmp_path / "nope.pt")


# ----------------------------------------------------------------------------
# 2. resource amplification in .pt files
# ----------------------------------------------------------------------------

def test_compressed_pickle_of_many_opcodes_is_refused_quickly(tmp_path):
    """200 MB of opcodes deflate to ~200 KB; the reader stops decompressing at its cap."""
    path = tmp_path / "opcodes.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02" + b"N0" * 100_000_000 + b"N.")
    assert path.stat().st_size < 1 * MiB
    seconds, peak, out = run_limited(f"sr_native.load_model({str(path)!r})")
    assert "ERROR CheckpointError:" in out and "opcodes.pt" in out and "larger than 16 MiB" in out, out
    assert seconds < 5 and peak < 64 * MiB, (seconds, peak)
    # the same stream under a header that claims 10 MB: decompression stops there
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("archive/data.pkl")
        with open(path, "rb") as f:
            f.seek(info.header_offset + 30 + len(info.filename) + len(info.extra))
            data = f.read(info.compress_size)
    liar = write_bomb_zip(tmp_path / "liar.pt", [("archive/data.pkl", data, 10_000_000, 0)])
    seconds, peak, out = run_limited(f"sr_native.load_model({str(liar)!r})")
    assert "ERROR CheckpointError:" in out and "liar.pt" in out, out
    assert seconds < 8 and peak < 200 * MiB, (seconds, peak)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_pickle_with_millions_of_opcodes_is_refused_quickly(tmp_path, fmt):
    """Under the size cap but past the opcode cap: refused after the walk stops, before unpickling."""
    pkl = b"\x80\x02" + b"N0" * 3_000_000 + b"N."
    path = write_zip(tmp_path / "ops.pt", pkl) if fmt == "zip" else write_legacy(tmp_path / "ops.pt", pkl)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match="more than 2,000,000 opcodes"):
        read_torch_checkpoint(path)
    assert time.perf_counter() - t0 < 5


def test_zip_bomb_in_a_small_record_is_not_decompressed(tmp_path):
    """byteorder holds 'little': a 1 GiB bomb in its place is read 16 bytes far."""
    good = zipfile.ZipFile(write_pt(tmp_path / "good.pt", edsr_pytorch_state()))
    members = []
    for info in good.infolist():
        data = good.read(info)
        if info.filename.endswith("byteorder"):
            members.append((info.filename, zeros_deflate(1 << 30), 1 << 30, 0))
        else:
            members.append((info.filename, *deflated(data)))
    path = write_bomb_zip(tmp_path / "bomb.pt", members)
    assert path.stat().st_size < 4 * MiB
    seconds, peak, out = run_limited(f"sr_native.load_model({str(path)!r})")
    assert "ERROR" in out and "bomb.pt" in out and "byteorder" in out, out
    assert seconds < 10 and peak < 64 * MiB, (seconds, peak, out)


def test_zip_bomb_storage_behind_a_huge_declared_tensor(tmp_path):
    """The pickle declares a 1.5 GiB tensor and the record is 1.5 GiB of compressed
    zeros: refused from the declared shapes, before a byte of it is read (the
    layout check of load_model, and the size limit of the bare reader)."""
    n = 3 << 28  # float32 elements: 3 GiB
    pkl = program(dict_pickle([(frag("head.0.weight"), tensor_v2(storage_pid("0", n), 0, (n,), (1,)))]))
    members = [("archive/data.pkl", *deflated(pkl)), ("archive/data/0", zeros_deflate(n * 4), n * 4, 0)]
    path = write_bomb_zip(tmp_path / "storage_bomb.pt", members)
    assert path.stat().st_size < 8 * MiB
    seconds, peak, out = run_limited(f"sr_native.load_model({str(path)!r})")
    assert "ERROR ValueError:" in out and "storage_bomb.pt" in out, out
    assert seconds < 10 and peak < 64 * MiB, (seconds, peak, out)
    seconds, peak, out = run_limited(f"read_torch_checkpoint({str(path)!r})")
    assert "ERROR CheckpointError:" in out and "too large" in out, out
    assert seconds < 10 and peak < 64 * MiB, (seconds, peak, out)


def test_declared_tensor_past_available_memory_is_memory_error(tmp_path):
    path = hand_made_big(tmp_path, n=1 << 40)  # 4 TiB, under a max_bytes raised to allow it
    with pytest.raises(MemoryError, match="GiB of memory is available"):
        read_torch_checkpoint(path, max_bytes=1 << 50)


def hand_made_big(tmp_path, n):
    pkl = program(dict_pickle([(frag("w"), tensor_v2(storage_pid("0", n), 0, (n,), (1,)))]))
    return write_zip(tmp_path / "big.pt", pkl, [("0", bytes(16))])


def test_storage_is_read_only_as_far_as_its_tensors_reach(tmp_path):
    """A storage declared with 2**40 elements used by a 2x3 tensor: 24 bytes are read."""
    raw = np.arange(8, dtype="<f4").tobytes()
    pkl = program(dict_pickle([(frag("w"), tensor_v2(storage_pid("0", 1 << 40), 0, (2, 3), (3, 1)))]))
    got = read_torch_checkpoint(write_zip(tmp_path / "wide.pt", pkl, [("0", raw)]))
    np.testing.assert_array_equal(got["w"], np.arange(6, dtype=np.float32).reshape(2, 3))


# ----------------------------------------------------------------------------
# 3. metadata that asks for more than the file holds
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("args,what", [
    ({"n_feats": 4, "n_resblocks": 100000, "res_scale": 1.0, "n_colors": 3}, "n_resblocks must be from 0 to 1024"),
    ({"n_feats": 256, "n_resblocks": 1000, "res_scale": 1.0, "n_colors": 3}, "missing tensors"),
    ({"n_feats": 4, "n_resblocks": 1, "res_scale": 1.0, "n_colors": 3, "depth": 9}, r"unknown arch_args \['depth'\]"),
])
def test_arch_args_are_checked_against_the_tensors_before_building(tmp_path, args, what):
    path = write_safetensors(tmp_path / "liar.safetensors", tiny_state(), arch_args=args)
    assert path.stat().st_size < 8 * 1024
    seconds, peak, out = run_limited(f"sr_native.load_model({str(path)!r})")
    assert "ERROR ValueError:" in out and "liar.safetensors" in out, out
    assert re.search(what, out), out
    assert peak < 16 * MiB and seconds < 10, (seconds, peak)


@pytest.mark.parametrize("meta,what", [
    ({"arch_args": {"n_feats": 8, "n_resblocks": 1, "res_scale": 1.0, "n_colors": 3}},
     r"tensor 'head.weight' has shape \(4, 3, 3, 3\), EDSR.* expects \(8, 3, 3, 3\)"),
    ({"arch_args": {"n_feats": "4", "n_resblocks": 1}}, "n_feats must be an int"),
    ({"arch_args": {"n_feats": 4, "n_resblocks": 1, "res_scale": 1e39}}, "res_scale must be finite in float32"),
    ({"arch_args": [4, 1]}, "'arch_args' must be a JSON dict"),
    ({"arch_args": "{not json"}, "'arch_args' is not valid JSON"),
    ({"scale": "5"}, r"scale must be one of \(2, 3, 4\)"),
    ({"scale": "two"}, "'scale' must be 2, 3 or 4"),
    ({"architecture": "no-such-net"}, "unknown architecture 'no-such-net'"),
    ({"normalization": None}, r"no 'normalization'"),
    ({"normalization": {"pixel_range": 255, "mean": [0.4, 0.4, 0.4], "std": float("nan")}}, "std must be finite"),
    ({"normalization": {"pixel_range": 0, "mean": [0.4, 0.4, 0.4], "std": 1}}, "pixel_range must be > 0"),
    ({"normalization": {"pixel_range": 255, "mean": [0.4, float("inf"), 0.4], "std": 1}}, r"mean\[1\] must be finite"),
    ({"normalization": {"pixel_range": 255, "mean": [0.4], "std": 1}}, "mean has 1 values for 3 colours"),
    ({"provenance": "[1, 2]"}, "'provenance' must be a JSON dict"),
])
def test_bad_metadata_is_a_value_error_naming_the_file(tmp_path, meta, what):
    path = write_safetensors(tmp_path / "meta.safetensors", tiny_state(), **meta)
    with pytest.raises(ValueError, match=what) as err:
        sr_native.load_model(path)
    assert str(path) in str(err.value)


# ----------------------------------------------------------------------------
# 4. NaN and infinity in weights
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("key,value,what", [
    ("head.weight", np.nan, "NaN"), ("body.0.conv2.bias", np.inf, "infinity"), ("tail.weight", -np.inf, "infinity"),
])
def test_nan_and_inf_in_our_files_are_refused_naming_the_tensor(tmp_path, key, value, what):
    state = tiny_state()
    state[key].reshape(-1)[0] = value
    path = write_safetensors(tmp_path / "nan.safetensors", state)
    with pytest.raises(ValueError, match=rf"nan.safetensors: tensor '{key}' contains {what}"):
        sr_native.load_model(path)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_nan_in_foreign_checkpoints_is_refused_naming_the_tensor(tmp_path, fmt):
    state = edsr_pytorch_state()
    assert isinstance(sr_native.load_model(write_pt(tmp_path / "ok.pt", state, fmt=fmt)), EDSR)
    state["head.0.weight"][0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"nan.pt \(edsr-pytorch layout\): tensor 'head.weight' contains NaN"):
        sr_native.load_model(write_pt(tmp_path / "nan.pt", state, fmt=fmt))
    state = edsr_pytorch_state()
    state["add_mean.bias"] = np.array([np.nan, 1.0, 2.0], np.float32)
    with pytest.raises(ValueError, match=r"add_mean.bias.*mean\[0\] must be finite"):
        sr_native.load_model(write_pt(tmp_path / "mean.pt", state, fmt=fmt))


def test_load_state_dict_refuses_nan_inf_and_float32_overflow():
    model = EDSR(2, n_feats=4, n_resblocks=1)
    state = tiny_state()
    before = {k: v.copy() for k, v in model.state_dict().items()}
    for key, bad in (("head.bias", np.float32(np.nan)), ("tail.bias", np.float32(np.inf))):
        broken = {k: v.copy() for k, v in state.items()}
        broken[key][0] = bad
        with pytest.raises(ValueError, match=rf"tensor '{key}' contains"):
            model.load_state_dict(broken)
    broken = {k: v.astype(np.float64) for k, v in state.items()}
    broken["head.weight"][0, 0, 0, 0] = 1e39  # finite in float64, inf in float32
    with pytest.raises(ValueError, match="tensor 'head.weight' contains infinity"):
        model.load_state_dict(broken)
    for k, v in model.state_dict().items():  # nothing was loaded
        np.testing.assert_array_equal(v, before[k])


def test_weight_norm_with_a_zero_filter_is_refused(tmp_path):
    torch_like = {"head.0.weight": np.ones((4, 3, 3, 3), np.float32)}
    state = dict(torch_like)
    state["x.weight_v"] = np.zeros((2, 4, 1, 1), np.float32)
    state["x.weight_g"] = np.ones((2, 1, 1, 1), np.float32)
    with pytest.raises(ValueError, match="folding 'x.weight_g' and 'x.weight_v' gives NaN"):
        sr_native.weights._fold_weight_norm(state)


# ----------------------------------------------------------------------------
# 5. malformed layouts: every one a ValueError naming the file
# ----------------------------------------------------------------------------

def _mutated(change):
    state = edsr_pytorch_state()
    change(state)
    return state


MALFORMED = {
    "non-string key": (lambda s: s.update({7: s["head.0.bias"]}), r"key 7 is a int, not a string"),
    "1-D head weight": (lambda s: s.update({"head.0.weight": np.ones(4, np.float32)}),
                        r"'head.0.weight' has shape \(4,\), expected 4 non-zero dimensions"),
    "unexpected key": (lambda s: s.update({"extra.weight": np.ones(3, np.float32)}),
                       r"unexpected keys for a edsr-pytorch checkpoint: \['extra.weight'\]"),
    "missing key": (lambda s: s.pop("tail.1.bias"), r"without \['tail.1.bias'\]"),
    "int64 tensor": (lambda s: s.update({"tail.1.bias": np.arange(3, dtype=np.int64)}),
                     r"tensor 'tail.1.bias' has dtype int64, expected a float dtype"),
    "wrong shape": (lambda s: s.update({"body.0.body.2.weight": np.ones((4, 4, 5, 5), np.float32)}),
                    r"tensor 'body.0.body.2.weight' has shape \(4, 4, 5, 5\)"),
    "unknown layout": (lambda s: [s.clear(), s.update({"conv.weight": np.ones((1, 1, 1, 1), np.float32)})],
                       r"unknown checkpoint layout .*known layouts: edsr-pytorch .*basicsr .*wdsr"),
    "bad upsampler": (lambda s: s.update({"tail.0.0.weight": np.ones((20, 4, 3, 3), np.float32)}),
                      r"is not an x2, x3 or x4 pixel-shuffle upsampler"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_malformed_checkpoints_are_value_errors_naming_the_file(tmp_path, case, fmt):
    change, what = MALFORMED[case]
    path = write_pt(tmp_path / "bad.pt", _mutated(change), fmt=fmt)
    with pytest.raises(ValueError, match=what) as err:
        sr_native.load_model(path)
    assert str(path) in str(err.value)


def test_containers_that_are_not_state_dicts(tmp_path):
    path = write_zip(tmp_path / "list.pt", program(frag([1, 2, 3])))
    with pytest.raises(ValueError, match=r"list.pt: expected a state dict of tensors, got list"):
        sr_native.load_model(path)
    path = write_zip(tmp_path / "values.pt", program(frag({"head.0.weight": [1.0, 2.0]})))
    with pytest.raises(ValueError, match=r"values.pt: 'head.0.weight' is a list, not a tensor"):
        sr_native.load_model(path)
    basicsr = write_pt(tmp_path / "basicsr.pth", {"conv_first.weight": np.ones((4, 3, 3, 3), np.float32)},
                       wrap="params")
    with pytest.raises(ValueError, match=r"basicsr.pth: no 'params_ema' in the checkpoint \(it has \['params'\]\)"):
        sr_native.load_model(basicsr, param_key="params_ema")
    with pytest.raises(ValueError, match=r"from_foreign_state_dict|state dict: expected a state dict"):
        from_foreign_state_dict([1, 2])
    with pytest.raises(ValueError, match=r"state dict: 'head.0.weight' is a str, not a tensor"):
        from_foreign_state_dict({"head.0.weight": "x"})


def test_safetensors_header_checks(tmp_path):
    good = write_safetensors(tmp_path / "good.safetensors", tiny_state()).read_bytes()
    n = int.from_bytes(good[:8], "little")
    header = json.loads(good[8:8 + n])
    cases = {}
    as_int = dict(header)
    as_int["head.bias"] = dict(header["head.bias"], dtype="I32")
    cases["int tensor"] = (as_int, r"tensor 'head.bias' has dtype 'I32', expected a float dtype")
    wrong = dict(header)
    wrong["head.bias"] = dict(header["head.bias"], shape=[5])
    cases["shape vs offsets"] = (wrong, r"tensor 'head.bias' of shape \(5,\) needs 20 bytes")
    outside = dict(header)
    outside["head.bias"] = dict(header["head.bias"], data_offsets=[0, 1 << 40])
    cases["offsets"] = (outside, r"data offsets .* outside")
    for name, (new_header, what) in cases.items():
        raw = json.dumps(new_header).encode()
        path = tmp_path / f"{name.replace(' ', '_')}.safetensors"
        path.write_bytes(len(raw).to_bytes(8, "little") + raw + good[8 + n:])
        with pytest.raises(ValueError, match=what) as err:
            sr_native.load_model(path)
        assert str(path) in str(err.value)
    huge = tmp_path / "huge_header.safetensors"
    huge.write_bytes((1 << 60).to_bytes(8, "little") + b"{}")
    with pytest.raises(ValueError, match="header length"):
        sr_native.load_model(huge)


# ----------------------------------------------------------------------------
# 6. model constructors
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [EDSR, WDSR])
@pytest.mark.parametrize("kwargs,exc,what", [
    (dict(n_feats=0), ValueError, "n_feats must be from 1 to 4096, got 0"),
    (dict(n_colors=0), ValueError, "n_colors must be from 1 to 64, got 0"),
    (dict(n_feats=-3), ValueError, "n_feats must be from 1"),
    (dict(n_resblocks=-1), ValueError, "n_resblocks must be from 0 to 1024, got -1"),
    (dict(n_feats="64"), TypeError, "n_feats must be an int, got str '64'"),
    (dict(n_feats=None), TypeError, "n_feats must be an int, got NoneType"),
    (dict(n_resblocks=True), TypeError, "n_resblocks must be an int, got bool"),
    (dict(n_feats=8.0), TypeError, "n_feats must be an int, got float"),
    (dict(res_scale=1e39), ValueError, r"res_scale must be finite in float32, got 1e\+39"),
    (dict(res_scale=float("nan")), ValueError, "res_scale must be finite"),
    (dict(res_scale="0.1"), TypeError, "res_scale must be a float, got str"),
    (dict(res_scale=None), TypeError, "res_scale must be a float, got NoneType"),
    (dict(normalization="div2k"), TypeError, "normalization must be a Normalization"),
    (dict(n_colors=1), ValueError, "normalization mean has 3 values for 1 colours"),
    (dict(n_feats=4096, n_resblocks=1024), MemoryError, "GiB of memory is available"),
])
def test_constructor_arguments_are_checked(cls, kwargs, exc, what):
    with pytest.raises(exc, match=f"{cls.__name__}: .*{what}"):
        cls(2, **kwargs)


@pytest.mark.parametrize("kwargs,exc,what", [
    (dict(variant=None), TypeError, "variant must be 'a' or 'b', got NoneType"),
    (dict(variant="b", linear=0.01), ValueError, r"low-rank width int\(n_feats \* linear\)"),
    (dict(linear=float("inf")), ValueError, "linear must be finite"),
    (dict(linear=0.0), ValueError, "linear must be > 0"),
    (dict(expansion=0), ValueError, "expansion must be from 1 to 64"),
    (dict(expansion=2.5), TypeError, "expansion must be an int"),
])
def test_wdsr_arguments_are_checked(kwargs, exc, what):
    with pytest.raises(exc, match=f"WDSR: .*{what}"):
        WDSR(2, **kwargs)


@pytest.mark.parametrize("kwargs,exc,what", [
    (dict(std=0.0), ValueError, "std must be > 0"),
    (dict(pixel_range=float("nan")), ValueError, "pixel_range must be finite"),
    (dict(std=1e-46), ValueError, "std must be > 0"),  # zero once rounded to float32
    (dict(pixel_range=3e38, std=1e-30), ValueError, "not finite in float32"),
    (dict(mean=(0.5, None, 0.5)), TypeError, r"mean\[1\] must be a float"),
    (dict(mean="rgb"), TypeError, "mean must be a sequence"),
    (dict(mean=()), ValueError, "mean must have 1 to 64 values"),
])
def test_normalization_is_checked(kwargs, exc, what):
    with pytest.raises(exc, match=f"Normalization: .*{what}"):
        Normalization(**kwargs)


# ----------------------------------------------------------------------------
# 7. fuzz: mutated files only ever give ValueError or MemoryError
# ----------------------------------------------------------------------------

def _mutations():
    return st.lists(st.tuples(st.sampled_from(["flip", "cut", "delete", "byte", "nan"]), st.floats(0, 1),
                              st.integers(0, 255)), min_size=1, max_size=4)


def _apply(data, mutations):
    data = bytearray(data)
    for kind, where, value in mutations:
        if not data:
            break
        pos = min(int(where * len(data)), len(data) - 1)
        if kind == "flip":
            data[pos] ^= 1 << (value % 8)
        elif kind == "byte":
            data[pos] = value
        elif kind == "nan":  # a float32 NaN (or inf) written over 4 aligned bytes
            pos -= pos % 4
            data[pos:pos + 4] = b"\x00\x00\xc0\x7f" if value % 2 else b"\x00\x00\x80\xff"
        elif kind == "cut":
            del data[pos:]
        else:
            del data[pos:pos + 1 + value % 16]
    return bytes(data)


@pytest.fixture(scope="module")
def valid_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    model = randomize(WDSR(2, "b", n_feats=4, n_resblocks=1), seed=3)
    model.save(folder / "ours.safetensors")
    return {"pt": write_pt(folder / "edsr.pt", edsr_pytorch_state()).read_bytes(),
            "legacy": write_pt(folder / "legacy.pt", edsr_pytorch_state(seed=1), fmt="legacy").read_bytes(),
            "safetensors": (folder / "ours.safetensors").read_bytes()}


@pytest.mark.parametrize("kind", ["pt", "legacy", "safetensors"])
def test_fuzzed_weight_files_give_only_value_or_memory_errors(tmp_path_factory, valid_files, kind):
    folder = tmp_path_factory.mktemp(f"fuzz_{kind}")
    suffix = ".safetensors" if kind == "safetensors" else ".pt"
    assert sr_native.load_model(_write(folder / f"ok{suffix}", valid_files[kind])) is not None

    @settings(max_examples=120, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(_mutations())
    def check(mutations):
        path = _write(folder / f"mutant{suffix}", _apply(valid_files[kind], mutations))
        try:
            model = sr_native.load_model(path)
        except (ValueError, MemoryError) as exc:
            assert str(path) in str(exc) or "mutant" in str(exc), repr(exc)
        else:  # a flip inside tensor data: still a finite, working network
            assert all(np.isfinite(p).all() for _, p in model.named_parameters())

    check()


def _write(path, data):
    path.write_bytes(data)
    return path
