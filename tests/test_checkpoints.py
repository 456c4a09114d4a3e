"""sr_native.checkpoints: reading torch.save files (zip and legacy) without torch.

Files made by torch are compared exactly with the tensors that were saved. The
hostile and corrupt files are assembled by hand from pickle opcodes, so those
tests run without torch."""

import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tarfile
import textwrap
import warnings
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

from conftest import subprocess_env
from sr_native.checkpoints import CheckpointError, UnsafeCheckpointError, read_torch_checkpoint

FORMATS = ["zip", "legacy"]
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------

def save(torch, obj, path, fmt):
    torch.save(obj, path, _use_new_zipfile_serialization=(fmt == "zip"))
    return path


def expected_array(t):
    """What the reader should return for tensor t."""
    import torch
    t = t.detach()
    if t.dtype == torch.bfloat16:
        t = t.float()
    return t.contiguous().numpy()


def assert_same(got, t):
    want = expected_array(t)
    assert isinstance(got, np.ndarray)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert got.shape == want.shape
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, want)


def digest(obj):
    """A checksum over keys, dtypes, shapes and bytes of a (nested) dict of arrays."""
    h = hashlib.sha256()

    def walk(prefix, o):
        if isinstance(o, dict):
            for k in o:
                walk(f"{prefix}/{k}", o[k])
        else:
            a = np.ascontiguousarray(o)
            h.update(f"{prefix}|{a.dtype.str}|{a.shape}|".encode())
            h.update(a.tobytes())

    walk("", obj)
    return h.hexdigest()


class Net:
    """A small conv net's state dict with every dtype the reader supports."""

    @staticmethod
    def state_dict(torch, seed=0):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                                  torch.nn.Conv2d(8, 12, 1), torch.nn.PixelShuffle(2))
        net.register_buffer("mean_f16", torch.randn(3).half())
        net.register_buffer("mean_bf16", torch.randn(2, 3).bfloat16())
        net.register_buffer("steps", torch.tensor([3, -7, 2**40]))
        net.register_buffer("mask", torch.tensor([[True, False], [False, True]]))
        net.register_buffer("scale_f64", torch.randn(4, dtype=torch.float64))
        net.register_buffer("idx_i32", torch.arange(5, dtype=torch.int32) - 2)
        net.register_buffer("lut_u8", torch.arange(250, 256, dtype=torch.uint8))
        net.register_buffer("count", torch.tensor(17))  # 0-d
        return net.state_dict()


# --- a tiny pickle assembler for hand-made files ---------------------------

def frag(value):
    """Opcodes that push `value` (plain data only), without PROTO and STOP."""
    body = pickle.dumps(value, protocol=2)
    assert body[:2] == b"\x80\x02" and body[-1:] == b"."
    return body[2:-1]


def glob(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def tup(*parts):
    return b"(" + b"".join(parts) + b"t"


def storage_pid(key, numel, storage_type="FloatStorage", view=None):
    parts = [frag("storage"), glob("torch", storage_type), frag(key), frag("cpu"), frag(numel)]
    if view is not None:
        parts.append(frag(view))
    return tup(*parts) + b"Q"


def tensor_v2(pid, offset, size, stride):
    return glob("torch._utils", "_rebuild_tensor_v2") + tup(
        pid, frag(offset), frag(size), frag(stride), frag(False), frag(None)) + b"R"


def tensor_v1(pid, offset, size, stride):
    """torch 0.4's _rebuild_tensor(storage, offset, size, stride)."""
    return glob("torch._utils", "_rebuild_tensor") + tup(pid, frag(offset), frag(size), frag(stride)) + b"R"


def program(body):
    """A complete protocol-2 pickle whose top of stack is what `body` pushes."""
    return b"\x80\x02" + body + b"."


def dict_of(**items):
    return b"}" + b"(" + b"".join(frag(k) + v for k, v in items.items()) + b"u"


def write_zip(path, data_pkl, storages=(), byteorder=b"little", folder="archive"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr(f"{folder}/data.pkl", data_pkl)
        if byteorder is not None:
            z.writestr(f"{folder}/byteorder", byteorder)
        for key, raw in storages:
            z.writestr(f"{folder}/data/{key}", raw)
        z.writestr(f"{folder}/version", b"3\n")
    return path


def write_legacy(path, main_pickle, keys=(), raws=(), little_endian=True):
    with open(path, "wb") as f:
        pickle.dump(LEGACY_MAGIC, f, protocol=2)
        pickle.dump(1001, f, protocol=2)
        pickle.dump({"protocol_version": 1001, "little_endian": little_endian,
                     "type_sizes": {"short": 2, "int": 4, "long": 4}}, f, protocol=2)
        f.write(main_pickle)
        pickle.dump(list(keys), f, protocol=2)
        for raw, itemsize in raws:
            f.write(struct.pack("<q", len(raw) // itemsize))
            f.write(raw)
    return path


def hand_made_zip(path, raw=np.arange(6, dtype="<f4").tobytes(), offset=0, size=(2, 3),
                  stride=(3, 1), numel=6):
    pkl = program(dict_of(w=tensor_v2(storage_pid("0", numel), offset, size, stride)))
    return write_zip(path, pkl, [("0", raw)])


# ----------------------------------------------------------------------------
# files written by torch
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_state_dict_every_dtype(torch, tmp_path, fmt):
    sd = Net.state_dict(torch)
    got = read_torch_checkpoint(save(torch, sd, tmp_path / "net.pt", fmt))
    assert isinstance(got, OrderedDict)
    assert list(got) == list(sd)
    for k, t in sd.items():
        assert_same(got[k], t)
    assert got["count"].shape == () and got["count"].dtype == np.int64
    assert got["mean_bf16"].dtype == np.float32 and got["mean_f16"].dtype == np.float16
    assert got["mask"].dtype == np.bool_
    assert got._metadata[""] == {"version": 1}  # torch keeps the module versions beside the keys


@pytest.mark.parametrize("fmt", FORMATS)
def test_parameters_become_arrays(torch, tmp_path, fmt):
    torch.manual_seed(1)
    plain = torch.nn.Parameter(torch.randn(3, 4))
    with_state = torch.nn.Parameter(torch.randn(2))  # an attribute: _rebuild_parameter_with_state
    with_state.lr_scale = 0.5
    frozen = torch.nn.Parameter(torch.randn(5).half(), requires_grad=False)
    obj = {"plain": plain, "with_state": with_state, "frozen": frozen}
    got = read_torch_checkpoint(save(torch, obj, tmp_path / "p.pt", fmt))
    for k, t in obj.items():
        assert_same(got[k], t)


@pytest.mark.parametrize("fmt", FORMATS)
def test_basicsr_layout_with_weight_norm(torch, tmp_path, fmt):
    sd = Net.state_dict(torch, seed=2)
    sd_ema = Net.state_dict(torch, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.nn.utils.weight_norm is deprecated
        conv = torch.nn.utils.weight_norm(torch.nn.Conv2d(4, 6, 3))
    wn = conv.state_dict()
    obj = {"params": sd, "params_ema": sd_ema, "wdsr": wn, "iter": 123456, "name": "EDSR_x2",
           "lr": 2.5e-4, "resume": None, "scales": [2, 3], "pair": (True, "x")}
    got = read_torch_checkpoint(save(torch, obj, tmp_path / "basicsr.pth", fmt))
    assert type(got) is dict
    assert (got["iter"], got["name"], got["lr"], got["resume"]) == (123456, "EDSR_x2", 2.5e-4, None)
    assert got["scales"] == [2, 3] and got["pair"] == (True, "x")
    for name, want in (("params", sd), ("params_ema", sd_ema), ("wdsr", wn)):
        assert list(got[name]) == list(want)
        for k, t in want.items():
            assert_same(got[name][k], t)
    assert set(got["wdsr"]) == {"bias", "weight_g", "weight_v"}
    # folding weight norm in numpy gives torch's effective weight
    g, v = got["wdsr"]["weight_g"], got["wdsr"]["weight_v"]
    folded = g * v / np.sqrt((v.astype(np.float64) ** 2).sum(axis=(1, 2, 3), keepdims=True))
    np.testing.assert_allclose(folded, conv.weight.detach().numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("fmt", FORMATS)
def test_views_offsets_and_zero_d(torch, tmp_path, fmt):
    base = torch.arange(60, dtype=torch.float32).reshape(3, 4, 5)
    obj = {
        "transposed": base.transpose(0, 2),
        "sliced": base.view(-1)[7:19],
        "strided": base[1:, ::2, 1:],
        "element": base[1, 2, 3],  # 0-d with a storage offset
        "scalar": torch.tensor(3.5),
        "empty": torch.zeros(0, 3),
        "expanded": torch.tensor([1.0, 2.0]).expand(3, 2),  # stride 0
        "bf16_view": torch.randn(4, 6).bfloat16().t()[1:],
        "bool_view": (torch.arange(12) % 3 == 0).reshape(3, 4)[:, 1::2],
    }
    assert not obj["transposed"].is_contiguous() and obj["sliced"].storage_offset() == 7
    got = read_torch_checkpoint(save(torch, obj, tmp_path / "views.pt", fmt))
    for k, t in obj.items():
        assert_same(got[k], t)
        assert got[k].flags.c_contiguous and got[k].flags.writeable


@pytest.mark.parametrize("fmt", FORMATS)
def test_shared_storage_is_read_once(torch, tmp_path, fmt, monkeypatch):
    a = torch.randn(10)
    obj = {"a": a, "b": a[2:6], "c": a.view(2, 5), "a_again": a, "other": torch.randn(3)}
    path = save(torch, obj, tmp_path / "shared.pt", fmt)
    if fmt == "zip":
        with zipfile.ZipFile(path) as z:
            assert sum("/data/" in n and "/.data/" not in n for n in z.namelist()) == 2
        reads = []
        real_open = zipfile.ZipFile.open

        def counting_open(self, name, *args, **kwargs):
            reads.append(getattr(name, "filename", name))
            return real_open(self, name, *args, **kwargs)

        monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    got = read_torch_checkpoint(path)
    for k, t in obj.items():
        assert_same(got[k], t)
    assert got["a"] is got["a_again"]  # one tensor object saved twice stays one array
    got["b"][0] = 99.0  # views come out as independent copies
    assert got["a"][2] == a[2].item() and got["c"][0, 2] == a[2].item()
    if fmt == "zip":
        data_reads = [n for n in reads if "/data/" in n]
        assert len(data_reads) == len(set(data_reads)) == 2


def test_loads_in_a_process_where_torch_cannot_be_imported(torch, tmp_path):
    obj = {"params": Net.state_dict(torch, seed=4), "params_ema": Net.state_dict(torch, seed=5)}
    paths = [save(torch, obj, tmp_path / f"model_{fmt}.pth", fmt) for fmt in FORMATS]
    want = digest({k: {n: expected_array(t) for n, t in sd.items()} for k, sd in obj.items()})
    script = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # `import torch` now raises ImportError
        import hashlib, numpy as np
        from sr_native.checkpoints import read_torch_checkpoint
        for path in sys.argv[1:]:
            h = hashlib.sha256()
            def walk(prefix, o):
                if isinstance(o, dict):
                    for k in o:
                        walk(f"{prefix}/{k}", o[k])
                else:
                    a = np.ascontiguousarray(o)
                    h.update(f"{prefix}|{a.dtype.str}|{a.shape}|".encode())
                    h.update(a.tobytes())
            walk("", read_torch_checkpoint(path))
            print(h.hexdigest())
        try:
            import torch
        except ImportError:
            print("torch unavailable")
        assert sys.modules["torch"] is None
    """)
    env = subprocess_env()
    out = subprocess.run([sys.executable, "-c", script, *map(str, paths)], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [want, want, "torch", "unavailable"]


# ----------------------------------------------------------------------------
# hand-made files (no torch needed)
# ----------------------------------------------------------------------------

def test_hand_made_zip_and_legacy_files_read_correctly(tmp_path):
    got = read_torch_checkpoint(hand_made_zip(tmp_path / "ok.pt", offset=0))
    np.testing.assert_array_equal(got["w"], np.arange(6, dtype=np.float32).reshape(2, 3))
    # the archive folder's name does not matter, and a missing byteorder means little-endian
    pkl = program(dict_of(w=tensor_v2(storage_pid("k", 4, "LongStorage"), 1, (3,), (1,))))
    path = write_zip(tmp_path / "other.pt", pkl, [("k", np.array([5, 6, 7, 8], "<i8").tobytes())],
                     byteorder=None, folder="whatever_name")
    np.testing.assert_array_equal(read_torch_checkpoint(path)["w"], [6, 7, 8])
    raw = np.array([1.5, -2.0, 3.25], "<f4").tobytes()
    legacy = write_legacy(tmp_path / "legacy.pt",
                          program(dict_of(w=tensor_v2(storage_pid("1", 3), 0, (3,), (1,)))),
                          keys=["1"], raws=[(raw, 4)])
    np.testing.assert_array_equal(read_torch_checkpoint(legacy)["w"], [1.5, -2.0, 3.25])


def test_big_endian_files_are_byte_swapped(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 1e-3]], np.float32)
    pkl = program(dict_of(w=tensor_v2(storage_pid("0", 4), 0, (2, 2), (2, 1))))
    path = write_zip(tmp_path / "be.pt", pkl, [("0", values.astype(">f4").tobytes())], byteorder=b"big")
    got = read_torch_checkpoint(path)["w"]
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values)
    legacy = write_legacy(tmp_path / "be_legacy.pt", pkl, keys=["0"],
                          raws=[(values.astype(">f4").tobytes(), 4)], little_endian=False)
    np.testing.assert_array_equal(read_torch_checkpoint(legacy)["w"], values)


def test_legacy_storage_view_metadata(tmp_path):
    """Pre-0.4 files may reference a slice of a storage: (view_key, offset, size)."""
    raw = np.arange(10, dtype="<f8").tobytes()
    pid = storage_pid("root", 10, "DoubleStorage", view=("view", 4, 5))
    path = write_legacy(tmp_path / "view.pt", program(dict_of(w=tensor_v1(pid, 1, (2, 2), (1, 2)))),
                        keys=["root"], raws=[(raw, 8)])
    np.testing.assert_array_equal(read_torch_checkpoint(path)["w"], [[5, 7], [6, 8]])


class Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def evil_payloads(marker):
    import builtins
    return {
        "os.system": Evil(os.system, (f"touch {marker}",)),
        "builtins.eval": Evil(builtins.eval, (f"open({str(marker)!r}, 'w')",)),
        "subprocess.Popen": Evil(subprocess.Popen, (["touch", str(marker)],)),
    }


@pytest.mark.parametrize("name", ["os.system", "builtins.eval", "subprocess.Popen"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_malicious_pickles_are_refused_and_never_run(tmp_path, name, fmt, protocol):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"params": evil_payloads(marker)[name]}, protocol=protocol)
    if fmt == "zip":
        path = write_zip(tmp_path / "evil.pt", payload)
    else:
        path = write_legacy(tmp_path / "evil.pt", payload)
    with pytest.raises(UnsafeCheckpointError) as err:
        read_torch_checkpoint(path)
    names = {"os.system": ("os.system", "posix.system")}.get(name, (name,))
    assert any(n in str(err.value) for n in names), str(err.value)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ValueError) and isinstance(err.value, CheckpointError)
    assert not marker.exists()


@pytest.mark.parametrize("pkl", [
    b"(S'touch pwned'\nios\nsystem\n.",  # INST opcode (protocol 0)
    b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c\x0btouch pwned\x85R.",  # STACK_GLOBAL
    b"\x80\x02ctorch\nload\n.",  # torch names outside the allow-list
    b"\x80\x02ctorch.storage\n_load_from_bytes\n.",
    b"\x80\x02ctorch._utils\n_rebuild_tensor_v3\n.",
    b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n.",
    b"\x80\x02ctorch.serialization\n_get_layout\n.",
    b"\x80\x02c__builtin__\ngetattr\n.",  # Python 2 spelling, not mapped to builtins
], ids=["inst", "stack_global", "torch.load", "load_from_bytes", "v3", "from_type", "layout", "py2"])
def test_any_name_off_the_allow_list_is_refused(tmp_path, pkl):
    with pytest.raises(UnsafeCheckpointError, match=r"asks for \w"):
        read_torch_checkpoint(write_zip(tmp_path / "x.pt", pkl))
    with pytest.raises(UnsafeCheckpointError):
        read_torch_checkpoint(write_legacy(tmp_path / "x_legacy.pt", pkl))


NOT_A_STORAGE = frag("not a storage")
GOOD_PID = storage_pid("0", 6)


@pytest.mark.parametrize("body", [
    # _rebuild_tensor_v2 misused: a string, an int, a tensor-less parameter, bad shapes
    tensor_v2(NOT_A_STORAGE, 0, (2,), (1,)),
    tensor_v2(frag(12345), 0, (2,), (1,)),
    tensor_v2(GOOD_PID, -1, (2,), (1,)),
    tensor_v2(GOOD_PID, 0, (2, 3), (1,)),
    tensor_v2(GOOD_PID, 0, "23", (1,)),
    tensor_v2(GOOD_PID, 0, (2, -3), (3, 1)),
    tensor_v2(GOOD_PID, 0, (2.0,), (1,)),
    glob("torch._utils", "_rebuild_tensor_v2") + frag(()) + b"R",  # too few arguments
    glob("torch._utils", "_rebuild_parameter") + tup(frag([1, 2]), frag(False)) + b"R",
    # calling a storage type, BUILD on our functions, placeholders and OrderedDict
    glob("torch", "FloatStorage") + frag(()) + b"R",
    glob("torch._utils", "_rebuild_tensor_v2") + frag({"__defaults__": (1,)}) + b"b",
    glob("torch._utils", "_rebuild_tensor_v2") + frag((None, {"fn": 1})) + b"b",
    tensor_v2(GOOD_PID, 0, (6,), (1,)) + frag({"x": 1}) + b"b",
    glob("collections", "OrderedDict") + frag(()) + b"R" + frag({"__class__": 1}) + b"b",
    glob("collections", "OrderedDict") + frag(("a", "b")) + b"R",
    # a tensor as a dict key, NEWOBJ on a function, a persistent id that is not a storage
    b"}" + tensor_v2(GOOD_PID, 0, (6,), (1,)) + frag(1) + b"s",
    glob("torch._utils", "_rebuild_tensor") + frag(()) + b"\x81",
    tup(frag("module"), frag("x")) + b"Q",
    tup(frag("storage"), frag("FloatStorage"), frag("0"), frag("cpu"), frag(6)) + b"Q",
])
def test_allowed_names_misused_give_checkpoint_error(tmp_path, body):
    path = write_zip(tmp_path / "misuse.pt", program(body), [("0", bytes(24))])
    with pytest.raises(CheckpointError) as err:
        read_torch_checkpoint(path)
    assert not isinstance(err.value, UnsafeCheckpointError)
    # the functions handed to the unpickler are unchanged for the next file
    np.testing.assert_array_equal(read_torch_checkpoint(hand_made_zip(tmp_path / "ok.pt"))["w"],
                                  np.arange(6, dtype=np.float32).reshape(2, 3))


@pytest.mark.parametrize("kwargs,what", [
    # the storage record is shorter than the file says
    (dict(raw=np.arange(5, dtype="<f4").tobytes()), "holds 5 elements, the file declares 6"),
    (dict(offset=1), "needs 7"),  # offset pushes past the end
    (dict(stride=(4, 1)), "needs 7"),
    (dict(size=(2, 3), stride=(2**62, 1)), "needs"),
    (dict(size=(2**20, 2**20), stride=(0, 0)), "too large"),  # stride-0 bomb
])
def test_tensor_outside_its_storage_is_refused(tmp_path, kwargs, what):
    with pytest.raises(CheckpointError, match=what):
        read_torch_checkpoint(hand_made_zip(tmp_path / "oob.pt", **kwargs))


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_torch_checkpoint(tmp_path / "nope.pt")


def test_corrupt_and_truncated_files(tmp_path):
    good = hand_made_zip(tmp_path / "good.pt").read_bytes()
    legacy = write_legacy(tmp_path / "legacy.pt",
                          program(dict_of(w=tensor_v2(storage_pid("1", 3), 0, (3,), (1,)))),
                          keys=["1"], raws=[(bytes(12), 4)]).read_bytes()
    pos = good.find(b"_rebuild_tensor_v2")
    flipped = good[:pos] + b"X" + good[pos + 1:]  # CRC mismatch in data.pkl
    cases = {
        "empty": (b"", "not a PyTorch checkpoint"),
        "text": (b"hello, this is not a checkpoint\n", "not a PyTorch checkpoint"),
        "wrong_magic": (pickle.dumps(12345, protocol=2) + b"\x00" * 20, "magic"),
        "zip_cut": (good[: len(good) // 2], "zip"),
        "zip_crc": (flipped, "cannot read"),
        "legacy_cut_in_data": (legacy[:-5], "truncated"),
        "legacy_cut_in_pickle": (legacy[:60], "cannot read"),
    }
    with zipfile.ZipFile(io.BytesIO(good)) as z, zipfile.ZipFile(tmp_path / "nodata.pt", "w") as out:
        out.writestr("archive/data.pkl", z.read("archive/data.pkl"))
    cases["zip_without_storage"] = ((tmp_path / "nodata.pt").read_bytes(), "missing")
    with zipfile.ZipFile(tmp_path / "nopkl.pt", "w") as out:
        out.writestr("archive/version", b"3")
    cases["zip_without_pickle"] = ((tmp_path / "nopkl.pt").read_bytes(), "no data.pkl")
    tar_path = tmp_path / "old.tar"
    with tarfile.open(tar_path, "w") as t:
        t.add(__file__, arcname="pickle")
    cases["tar"] = (tar_path.read_bytes(), "tar")
    for name, (data, what) in cases.items():
        path = tmp_path / f"{name}.pt"
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match=what) as err:
            read_torch_checkpoint(path)
        assert str(path) in str(err.value), name
        assert not isinstance(err.value, UnsafeCheckpointError), name


@pytest.mark.parametrize("pkl,what", [
    # a short BYTEARRAY8 makes CPython 3.11's C unpickler free a bytearray with live exports
    (b"\x80\x05\x96" + struct.pack("<Q", 3 << 60) + b"abc.", "bytearray8"),
    (b"\x80\x05\x96\x03" + bytes(7) + b"abc\x98.", "BYTEARRAY8"),
    (b"\x80\x02N" + b"r" + struct.pack("<I", 2**31) + b".", "memo index"),  # LONG_BINPUT
    (b"\x80\x02\x82\x01.", "EXT1"),  # copyreg extension registry
    (b"\x80\x02}q\x00(X\x01\x00\x00\x00a" + b"K\x01" * 3, "cannot read"),  # no STOP
])
def test_opcodes_a_checkpoint_never_needs(tmp_path, pkl, what):
    for path in (write_zip(tmp_path / "op.pt", pkl), write_legacy(tmp_path / "op_legacy.pt", pkl)):
        with pytest.raises(CheckpointError, match=what):
            read_torch_checkpoint(path)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_files_fail_only_with_checkpoint_error(tmp_path, fmt):
    """Random byte flips, cuts and deletions: the reader either succeeds or raises CheckpointError."""
    raw = np.arange(12, dtype="<f4").tobytes()
    pkl = program(dict_of(
        w=tensor_v2(storage_pid("0", 12), 1, (2, 3), (1, 2)),
        m=glob("collections", "OrderedDict") + frag(()) + b"R" + frag({"_metadata": {"": 1}}) + b"b",
        n=frag([1, "x", (2.5, None)])))
    if fmt == "zip":
        good = write_zip(tmp_path / "good.pt", pkl, [("0", raw)]).read_bytes()
    else:
        good = write_legacy(tmp_path / "good.pt", pkl, keys=["0"], raws=[(raw, 4)]).read_bytes()
    rng = np.random.default_rng(7)
    path = tmp_path / "mutant.pt"
    outcomes = set()
    for _ in range(300):
        data = bytearray(good)
        for _ in range(int(rng.integers(1, 4))):
            pos = int(rng.integers(0, len(data)))
            kind = rng.random()
            if kind < 0.6:
                data[pos] = int(rng.integers(0, 256))
            elif kind < 0.8:
                del data[pos:pos + int(rng.integers(1, 16))]
            else:
                del data[pos:]
            if not data:
                break
        path.write_bytes(bytes(data))
        try:
            read_torch_checkpoint(path)
            outcomes.add("ok")
        except CheckpointError:
            outcomes.add("error")
    assert "error" in outcomes
