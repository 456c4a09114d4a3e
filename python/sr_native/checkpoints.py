"""Read PyTorch checkpoints (``.pt`` / ``.pth``) into NumPy arrays without PyTorch.

Formats
-------
* **Zip** (``torch.save`` since PyTorch 1.6): a zip archive whose single folder
  (its name varies) holds ``data.pkl`` (the pickled object), ``data/<key>`` (one
  raw storage per key), ``byteorder`` (``little``/``big``, absent in old files)
  and ``version``. ``data.pkl`` refers to storages by persistent id
  ``('storage', storage_type, key, location, numel)``.
* **Legacy** (PyTorch < 1.6, or ``_use_new_zipfile_serialization=False``): one
  stream of consecutive pickles: the magic number, the protocol version (1001),
  a sys-info dict (byte order, type sizes), the object itself with persistent ids
  ``('storage', storage_type, key, location, numel, view_metadata)``, the list of
  storage keys; then, for each key in that order, an 8-byte little-endian
  element count and the raw elements. The tar-based format of PyTorch before
  0.1.10 is refused with a message.

Safety model
------------
Pickle is a small program, and the standard unpickler runs whatever callable the
file names. Here ``find_class`` answers only an allow-list of names
(``collections.OrderedDict``, ``torch._utils._rebuild_tensor[_v2]``,
``torch._utils._rebuild_parameter[_with_state]``, ``torch.<T>Storage``) and maps
each to a function of this module; the real callables are never imported, and
any other name raises :class:`UnsafeCheckpointError` naming it. The allowed
functions only record what the file describes (placeholder objects that refuse
``BUILD``/``__setstate__``); the arrays are built afterwards, with every shape,
stride and offset checked against the storage length, so a malformed file gives
:class:`CheckpointError`, never an out-of-bounds read. Before a pickle is loaded
its opcodes are walked (``pickletools.genops``, which runs nothing) to refuse
opcodes a checkpoint never uses (copyreg extensions, protocol-5 buffers) and
absurd memo indices; the file is read through a read-only ``mmap``, so a corrupt
length field means a short read rather than a huge allocation. Nothing here
uses ``eval``/``exec`` or imports ``torch``.

Resource limits
---------------
A small file must not buy a large amount of work or memory. ``data.pkl`` is
decompressed as a stream and refused past 16 MiB, and every pickle is refused
past 2 million opcodes (both about 50 times what a state dict of 1,000 tensors
takes: some 200 bytes and 25 opcodes per tensor), before it is unpickled. The
bytes a file may make us allocate follow from the tensors its pickle declares:
each storage is read only as far as the tensors that use it reach (a record's
own length is never trusted beyond that), and the total (storages plus the
arrays built from them) is refused past ``max_bytes`` (4 GiB by default) with
:class:`CheckpointError`, or past the memory available with ``MemoryError``,
before any record is read. A caller may also pass ``check``, which sees the
object with tensor placeholders (``.shape``, ``.dtype``) before anything is
read and may refuse it. Small records (``byteorder``) are read up to 16 bytes.
Only regular files are opened (see :func:`open_regular_file`): a FIFO or a
device never blocks the reader.

Tensors come back as fresh C-contiguous arrays with the same dtype, except
bfloat16, which NumPy lacks, and comes back as float32 (exactly). Parameters
become plain arrays (``requires_grad`` and hooks are dropped).
"""

import _compat_pickle  # the stdlib's Python 2 <-> 3 name table, for error messages
import collections
import fcntl
import io
import mmap
import os
import pickle
import pickletools
import stat
import struct
import zipfile

import numpy as np

__all__ = ["read_torch_checkpoint", "open_regular_file", "CheckpointError", "UnsafeCheckpointError"]

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# A tensor whose strides overlap (stride 0, as from ``expand``) can be larger than
# its storage; above this size such a tensor is refused instead of materialised.
_MAX_EXPANSION_BYTES = 1 << 30
# data.pkl of a zip checkpoint holds no tensor data: some 200 bytes and 25 opcodes
# per tensor, so these allow about 80,000 tensors; more is refused unread.
_MAX_PICKLE_BYTES = 16 << 20
_MAX_PICKLE_OPCODES = 2_000_000
# All tensor data a checkpoint may make us allocate (storages read plus arrays built).
MAX_BYTES = 4 << 30
# byteorder holds "little" or "big".
_MAX_SMALL_RECORD = 16


class CheckpointError(ValueError):
    """The file is not a readable PyTorch checkpoint (corrupt, truncated, unsupported)."""


class UnsafeCheckpointError(CheckpointError):
    """The file's pickle names a callable outside the allow-list; nothing was run."""


class _RefusedByCaller(Exception):
    """Carries the exception of the caller's ``check`` through the reader unchanged."""


_FILE_KINDS = [(stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
               (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
               (stat.S_ISBLK, "a block device")]


def _not_regular(path, mode, what):
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return ValueError(f"{path}: is {kind}, not a {what} (only regular files are read)")


def open_regular_file(path, what="file"):
    """Open path for binary reading, refusing anything but a regular file.

    A FIFO would block open() until a writer comes, a device may never end;
    both are refused with ValueError naming the path. The path is checked
    with stat before opening (devices are never opened), then opened with
    O_NONBLOCK (opening a FIFO that replaced the file meanwhile returns at
    once) and checked again on the open descriptor, so no swap between the
    two can slip through. An empty path is a ValueError, a missing one
    FileNotFoundError.
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        name = os.fspath(path)
    else:
        raise TypeError(f"expected a path (str or os.PathLike) for the {what}, got {type(path).__name__}")
    if not name:
        raise ValueError(f"empty path given for the {what}")
    shown = os.fsdecode(name)
    try:
        mode = os.stat(name).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"no {what} at {shown}") from None
    if not stat.S_ISREG(mode):
        raise _not_regular(shown, mode, what)
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(shown, mode, what)
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


# storage type name -> (dtype of the stored elements, little-endian)
_STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "BFloat16Storage": np.dtype("<u2"),  # widened to float32 when the tensor is built
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("u1"),  # normalised to bool (byte != 0) when built
}


def _output_dtype(type_name):
    """The dtype of the array a storage type becomes."""
    if type_name == "BFloat16Storage":
        return np.dtype(np.float32)
    if type_name == "BoolStorage":
        return np.dtype(np.bool_)
    return _STORAGE_DTYPES[type_name].newbyteorder("=")


# ---------------------------------------------------------------------------
# Placeholders the unpickler builds. They refuse BUILD (``__setstate__``), are
# unhashable (so they cannot become dict keys) and carry no callables.
# ---------------------------------------------------------------------------

class _Placeholder:
    __slots__ = ()
    __hash__ = None

    def __setstate__(self, state):
        raise CheckpointError(f"the pickle tries to set the state of a {type(self).__name__}")


class _StorageType(_Placeholder):
    """What ``torch.FloatStorage`` etc. resolve to: just a name."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __call__(self, *args, **kwargs):
        raise CheckpointError(f"the pickle calls torch.{self.name}, which a checkpoint never does")


class _StorageRef(_Placeholder):
    """One persistent storage reference: elements [start, start + count) of storage ``key``."""
    __slots__ = ("key", "type_name", "dtype", "numel", "start", "count")

    def __init__(self, key, type_name, numel, start=0, count=None):
        self.key = key
        self.type_name = type_name
        self.dtype = _STORAGE_DTYPES[type_name]
        self.numel = numel
        self.start = start
        self.count = numel if count is None else count


class _TensorRef(_Placeholder):
    """A tensor the pickle declares; ``shape``, ``ndim`` and ``dtype`` are those of the
    array it will become, for a caller's ``check`` before anything is read."""
    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage, offset, size, stride):
        self.storage = storage
        self.offset = offset
        self.size = size
        self.stride = stride

    @property
    def shape(self):
        return self.size

    @property
    def ndim(self):
        return len(self.size)

    @property
    def dtype(self):
        return _output_dtype(self.storage.type_name)

    def numel(self):
        n = 1
        for s in self.size:
            n *= s
        return n

    def reach(self):
        """Elements of the storage view this tensor needs (0 when empty)."""
        if self.numel() == 0:
            return 0
        return self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride)) + 1


class _PickledOrderedDict(collections.OrderedDict):
    """``collections.OrderedDict`` while unpickling; BUILD may only set ``_metadata``."""

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]
        if not isinstance(state, dict) or any(k != "_metadata" for k in state):
            raise CheckpointError("the pickle sets unexpected state on an OrderedDict")
        self.__dict__["_sr_native_metadata"] = state.get("_metadata")


class _Allowed(_Placeholder):
    """A callable the unpickler may hand out: one of this module's own functions."""
    __slots__ = ("qualname", "fn")

    def __init__(self, qualname, fn):
        self.qualname = qualname
        self.fn = fn

    def __call__(self, *args, **kwargs):
        try:
            return self.fn(*args, **kwargs)
        except CheckpointError:
            raise
        except TypeError as exc:
            raise CheckpointError(f"bad arguments to {self.qualname}: {exc}") from None


# ---------------------------------------------------------------------------
# Our stand-ins for the allowed torch functions.
# ---------------------------------------------------------------------------

def _is_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _check_int_tuple(name, value, where):
    if not isinstance(value, (tuple, list)) or not all(_is_int(v) for v in value):
        raise CheckpointError(f"{where}: {name} must be a tuple of ints, got {repr(value)[:80]}")
    if any(v < 0 for v in value):
        raise CheckpointError(f"{where}: negative {name} {tuple(value)}")
    return tuple(value)


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    where = "torch._utils._rebuild_tensor"
    if not isinstance(storage, _StorageRef):
        raise CheckpointError(f"{where}: expected a storage reference, got {type(storage).__name__}")
    if not _is_int(storage_offset) or storage_offset < 0:
        raise CheckpointError(f"{where}: bad storage offset {storage_offset!r}")
    size = _check_int_tuple("size", size, where)
    stride = _check_int_tuple("stride", stride, where)
    if len(size) != len(stride):
        raise CheckpointError(f"{where}: size {size} and stride {stride} differ in length")
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None, state=None):
    if not isinstance(data, _TensorRef):
        raise CheckpointError("torch._utils._rebuild_parameter: expected a tensor, "
                              f"got {type(data).__name__}")
    return data


def _ordered_dict(*args):
    if args and not (len(args) == 1 and isinstance(args[0], (list, tuple))):
        raise CheckpointError("collections.OrderedDict called with unexpected arguments")
    return _PickledOrderedDict(*args)


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}
_ALLOWED = {k: _Allowed(f"{k[0]}.{k[1]}", fn) for k, fn in _ALLOWED.items()}
_ALLOWED.update({("torch", name): _StorageType(name) for name in _STORAGE_DTYPES})


class _RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only allow-listed names, to our own functions."""

    def __init__(self, file, path, storage_ids=None):
        super().__init__(file, encoding="utf-8")
        self._path = path
        self._storage_ids = storage_ids  # None: the stream may not reference storages

    def find_class(self, module, name):
        found = _ALLOWED.get((module, name))
        if found is None:
            spelled = f"{module}.{name}"
            py3 = _compat_pickle.NAME_MAPPING.get((module, name))
            if py3 is None and module in _compat_pickle.IMPORT_MAPPING:
                py3 = (_compat_pickle.IMPORT_MAPPING[module], name)
            if py3 is not None:
                spelled += f" (Python 3: {py3[0]}.{py3[1]})"
            raise UnsafeCheckpointError(
                f"{self._path}: the checkpoint asks for {spelled}, which is not on the "
                "allow-list of tensor-rebuilding functions; refusing to load it (nothing was run)")
        return found

    def persistent_load(self, pid):
        if self._storage_ids is None:
            raise CheckpointError("a storage reference where none is allowed")
        if not isinstance(pid, tuple) or not pid:
            raise CheckpointError(f"unexpected persistent id of type {type(pid).__name__}")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind != "storage" or len(pid) not in (5, 6):
            raise CheckpointError(f"unsupported persistent id {kind!r} (only storages are)")
        storage_type, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"storage reference without a storage type: {storage_type!r}")
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not isinstance(key, str) or not _is_int(numel) or numel < 0:
            raise CheckpointError(f"malformed storage reference {pid!r}")
        known = self._storage_ids.setdefault(key, (storage_type.name, numel))
        if known[0] != storage_type.name:
            raise CheckpointError(f"storage {key!r} is referenced as both {known[0]} and "
                                  f"{storage_type.name}")
        if view is None:
            return _StorageRef(key, storage_type.name, numel)
        if (not isinstance(view, tuple) or len(view) != 3 or not _is_int(view[1])
                or not _is_int(view[2]) or view[1] < 0 or view[2] < 0):
            raise CheckpointError(f"malformed storage view {view!r}")
        return _StorageRef(key, storage_type.name, numel, view[1], view[2])


# Opcodes torch never writes and a checkpoint never needs: the copyreg extension
# registry and protocol 5's out-of-band buffers.
_FORBIDDEN_OPCODES = {"EXT1", "EXT2", "EXT4", "BYTEARRAY8", "NEXT_BUFFER", "READONLY_BUFFER"}
_MEMO_OPCODES = {"PUT", "BINPUT", "LONG_BINPUT"}


def _check_opcodes(file):
    """Walk one pickle's opcodes without running them; refuse what loading need not do.

    Catches truncation early, and memo indices far beyond what a pickler writes
    (the C unpickler would size its memo table to the index)."""
    start = file.tell()
    count = 0
    for count, (op, arg, _pos) in enumerate(pickletools.genops(file), 1):
        if count > _MAX_PICKLE_OPCODES:
            raise CheckpointError(f"the pickle has more than {_MAX_PICKLE_OPCODES:,} opcodes, "
                                  "far more than a checkpoint needs; refusing to load it")
        if op.name in _FORBIDDEN_OPCODES:
            raise CheckpointError(f"the pickle uses the {op.name} opcode, which checkpoints never need")
        if op.name in _MEMO_OPCODES and arg > 2 * count + 1024:
            raise CheckpointError(f"the pickle stores memo index {arg} after {count} opcodes")
    file.seek(start)


def _unpickle(file, path, storage_ids=None):
    _check_opcodes(file)
    return _RestrictedUnpickler(file, path, storage_ids).load()


# ---------------------------------------------------------------------------
# Turning placeholders into arrays.
# ---------------------------------------------------------------------------

class _StorageReader:
    """Reads each storage's bytes once, on first use, and forgets it after its last use."""

    def __init__(self, path, read_bytes, big_endian, uses, wanted):
        self._path = path
        self._read_bytes = read_bytes  # key, nbytes wanted -> bytes (may be shorter)
        self._big_endian = big_endian
        self._uses = uses
        self._wanted = wanted  # key -> elements to read: as far as its tensors reach
        self._cache = {}

    def elements(self, ref):
        """The 1-D array of storage ``ref.key`` (only the ``ref`` view of it, up to
        where the tensors of the file reach)."""
        wanted = self._wanted[ref.key]
        if ref.key not in self._cache:
            raw = self._read_bytes(ref.key, wanted * ref.dtype.itemsize)
            dtype = ref.dtype.newbyteorder(">") if self._big_endian else ref.dtype
            n = len(raw) // dtype.itemsize
            self._cache[ref.key] = np.frombuffer(raw, dtype=dtype, count=n)
        data = self._cache[ref.key]
        left = self._uses.get(ref.key, 0) - 1
        self._uses[ref.key] = left
        if left <= 0:
            del self._cache[ref.key]
        if wanted > data.size:
            raise CheckpointError(f"{self._path}: storage {ref.key!r} holds {data.size} elements, "
                                  f"the file declares {wanted}")
        return data[ref.start:ref.start + ref.count]

    def tensor(self, t):
        storage = self.elements(t.storage)
        numel = 1
        for s in t.size:
            numel *= s
        if numel:
            last = t.offset + sum((s - 1) * st for s, st in zip(t.size, t.stride))
            if last >= storage.size:
                raise CheckpointError(
                    f"{self._path}: a tensor of size {t.size}, stride {t.stride}, offset {t.offset} "
                    f"needs {last + 1} elements of storage {t.storage.key!r}, which holds "
                    f"{storage.size}")
            if numel * storage.itemsize > max(storage.nbytes, _MAX_EXPANSION_BYTES):
                raise CheckpointError(f"{self._path}: a tensor of size {t.size} with overlapping "
                                      "strides is too large to materialise")
            view = np.lib.stride_tricks.as_strided(
                storage[t.offset:], shape=t.size,
                strides=tuple(st * storage.itemsize for st in t.stride), writeable=False)
        else:
            view = np.empty(t.size, dtype=storage.dtype)
        name = t.storage.type_name
        if name == "BFloat16Storage":
            return (np.array(view, dtype=np.uint32, order="C") << 16).view(np.float32)
        if name == "BoolStorage":
            return np.array(view, dtype=np.uint8, order="C") != 0
        return np.array(view, dtype=storage.dtype.newbyteorder("="), order="C")


def _count_storage_uses(obj, uses, seen, wanted, refs):
    """Per storage key: how many placeholders use it (uses) and how many elements
    they reach (wanted: never more than the storage declares). Every placeholder
    goes into refs."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        if isinstance(o, (_TensorRef, _StorageRef)):
            ref = o.storage if isinstance(o, _TensorRef) else o
            # A view's own reach, capped to the view: reaching past it is refused when built.
            reach = ref.start + min(o.reach(), ref.count) if isinstance(o, _TensorRef) else ref.start + ref.count
            uses[ref.key] = uses.get(ref.key, 0) + 1
            wanted[ref.key] = max(wanted.get(ref.key, 0), min(reach, ref.numel) if o is not ref else reach)
            refs.append(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
            meta = o.__dict__.get("_sr_native_metadata") if hasattr(o, "__dict__") else None
            if meta is not None:
                stack.append(meta)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)


def _resolve(obj, reader, memo):
    """Replace placeholders by arrays. Lists and dicts are updated in place."""
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, _TensorRef):
        out = reader.tensor(obj)
    elif isinstance(obj, _StorageRef):
        out = reader.tensor(_TensorRef(obj, 0, (obj.count,), (1,)))
    elif isinstance(obj, _PickledOrderedDict):
        out = collections.OrderedDict()
        memo[key] = out
        for k, v in obj.items():
            out[k] = _resolve(v, reader, memo)
        meta = obj.__dict__.get("_sr_native_metadata")
        if meta is not None:
            out._metadata = _resolve(meta, reader, memo)
    elif isinstance(obj, dict):
        memo[key] = obj
        for k in obj:
            obj[k] = _resolve(obj[k], reader, memo)
        out = obj
    elif isinstance(obj, list):
        memo[key] = obj
        for i, v in enumerate(obj):
            obj[i] = _resolve(v, reader, memo)
        out = obj
    elif isinstance(obj, tuple):
        out = tuple(_resolve(v, reader, memo) for v in obj)
    elif isinstance(obj, _Placeholder):
        raise CheckpointError(f"the checkpoint returns a bare {type(obj).__name__}")
    else:
        out = obj
    memo[key] = out
    return out


def _check_budget(path, refs, wanted, max_bytes):
    """Refuse, before reading anything, a file whose tensors need more memory than
    max_bytes or than is available: the storages read plus the arrays built."""
    types = {}
    for o in refs:
        ref = o.storage if isinstance(o, _TensorRef) else o
        types[ref.key] = ref.dtype.itemsize
    total = sum(wanted[k] * size for k, size in types.items())
    for o in refs:
        if isinstance(o, _TensorRef):
            total += o.numel() * o.dtype.itemsize
        else:
            total += o.count * _output_dtype(o.type_name).itemsize
    if total > max_bytes:
        raise CheckpointError(f"{path}: the checkpoint's tensors are too large: they need {total:,} bytes, "
                              f"more than the limit of {max_bytes:,}; refusing to read them")
    from . import _core

    available = _core.available_memory()
    if total > available:
        raise MemoryError(f"{path}: the checkpoint declares tensors needing {total / 2**30:.1f} GiB, "
                          f"{available / 2**30:.1f} GiB of memory is available")


def _finish(obj, path, read_bytes, big_endian, check=None, max_bytes=MAX_BYTES):
    uses, wanted, refs = {}, {}, []
    _count_storage_uses(obj, uses, set(), wanted, refs)
    if check is not None:
        try:
            check(obj)
        except Exception as exc:
            raise _RefusedByCaller(exc) from exc
    _check_budget(path, refs, wanted, max_bytes)
    reader = _StorageReader(path, read_bytes, big_endian, uses, wanted)
    return _resolve(obj, reader, {})


# ---------------------------------------------------------------------------
# The two container formats.
# ---------------------------------------------------------------------------

class _SeekableMap:
    """The file-object face zipfile wants (``seekable``) on an mmap."""

    def __init__(self, mm):
        self._mm = mm

    def seekable(self):
        return True

    def __getattr__(self, name):
        return getattr(self._mm, name)


def _read_capped(zf, info, limit):
    """At most limit bytes of a record, decompressed as a stream: the header's
    sizes are never trusted for how much to read. A record read to its end has
    its CRC checked by zipfile."""
    with zf.open(info) as record:
        return record.read(limit)


def _read_zip(path, f, check, max_bytes):
    with zipfile.ZipFile(_SeekableMap(f)) as zf:
        names = zf.namelist()
        pkls = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
        if len(pkls) != 1:
            what = "no data.pkl" if not pkls else f"several data.pkl ({pkls})"
            raise CheckpointError(f"{path}: zip archive with {what}; not a torch.save checkpoint")
        prefix = pkls[0][:-len("data.pkl")]
        big_endian = False
        if prefix + "byteorder" in names:
            order = _read_capped(zf, zf.getinfo(prefix + "byteorder"), _MAX_SMALL_RECORD)
            order = order.decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise CheckpointError(f"{path}: unknown byteorder record {order!r}")
            big_endian = order == "big"
        info = zf.getinfo(pkls[0])
        pickled = _read_capped(zf, info, _MAX_PICKLE_BYTES + 1) if info.file_size <= _MAX_PICKLE_BYTES else b""
        if info.file_size > _MAX_PICKLE_BYTES or len(pickled) > _MAX_PICKLE_BYTES:
            raise CheckpointError(f"{path}: {pkls[0]} is larger than {_MAX_PICKLE_BYTES >> 20} MiB, far more "
                                  "than a checkpoint's pickle needs; refusing to load it")
        storage_ids = {}
        obj = _unpickle(io.BytesIO(pickled), path, storage_ids)

        def read_bytes(key, nbytes):
            name = f"{prefix}data/{key}"
            try:
                info = zf.getinfo(name)
            except KeyError:
                raise CheckpointError(f"{path}: storage record {name!r} is missing") from None
            with zf.open(info) as record:
                # Whole records are CRC-checked; a longer one (never written by torch, but a
                # compressed one could be a zip bomb) is read only as far as needed.
                return record.read() if info.file_size <= nbytes else record.read(nbytes)

        return _finish(obj, path, read_bytes, big_endian, check, max_bytes)


def _read_legacy(path, f, file_size, check, max_bytes):
    try:
        magic = _unpickle(f, path)
    except UnsafeCheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a "
                              f"legacy torch.save stream: {type(exc).__name__}: {exc})") from exc
    if magic != _LEGACY_MAGIC:
        raise CheckpointError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor a "
                              "legacy torch.save stream: wrong magic number)")
    protocol = _unpickle(f, path)
    if protocol != _LEGACY_PROTOCOL:
        raise CheckpointError(f"{path}: unsupported legacy protocol version {protocol!r}")
    sys_info = _unpickle(f, path)
    if not isinstance(sys_info, dict):
        raise CheckpointError(f"{path}: malformed sys-info record")
    big_endian = not sys_info.get("little_endian", True)
    storage_ids = {}
    obj = _unpickle(f, path, storage_ids)
    keys = _unpickle(f, path)
    if not isinstance(keys, list) or not all(isinstance(k, (str, bytes)) for k in keys):
        raise CheckpointError(f"{path}: malformed storage key list")
    keys = [k.decode("ascii") if isinstance(k, bytes) else k for k in keys]

    # Locate every storage: an 8-byte element count, then the elements.
    pos = f.tell()
    located = {}
    for key in keys:
        if key not in storage_ids:
            raise CheckpointError(f"{path}: storage {key!r} is listed but never referenced")
        f.seek(pos)
        header = f.read(8)
        if len(header) != 8:
            raise CheckpointError(f"{path}: truncated before the data of storage {key!r}")
        (count,) = struct.unpack("<q", header)
        nbytes = count * _STORAGE_DTYPES[storage_ids[key][0]].itemsize
        if count < 0 or pos + 8 + nbytes > file_size:
            raise CheckpointError(f"{path}: truncated: storage {key!r} claims {count} elements "
                                  f"({nbytes} bytes) at offset {pos + 8}, the file has {file_size} bytes")
        located[key] = (pos + 8, nbytes)
        pos += 8 + nbytes

    def read_bytes(key, wanted):
        if key not in located:
            raise CheckpointError(f"{path}: storage {key!r} has no data in the file")
        offset, nbytes = located[key]
        f.seek(offset)
        return f.read(min(nbytes, wanted))  # only as far as the tensors reach

    return _finish(obj, path, read_bytes, big_endian, check, max_bytes)


def _read_mapped(path, f, file_size, check, max_bytes):
    """Dispatch on the format; every failure becomes a CheckpointError naming the path."""
    head = f[:512]
    try:
        if head.startswith(b"PK"):
            if not zipfile.is_zipfile(_SeekableMap(f)):
                raise CheckpointError(f"{path}: truncated or corrupt zip archive")
            f.seek(0)
            return _read_zip(path, f, check, max_bytes)
        if len(head) >= 262 and head[257:262] == b"ustar":
            raise CheckpointError(f"{path}: tar-format checkpoint (PyTorch < 0.1.10) is not "
                                  "supported; re-save it with a newer PyTorch")
        return _read_legacy(path, f, file_size, check, max_bytes)
    except _RefusedByCaller as exc:
        raise exc.args[0] from None
    except MemoryError:
        raise
    except CheckpointError as exc:
        if str(exc).startswith(path):
            raise
        raise type(exc)(f"{path}: {exc}") from None
    except Exception as exc:  # corrupt pickle, bad zip (zipfile may raise OSError on a bad
        # offset), ...: one error type for callers; the file itself was opened above
        raise CheckpointError(f"{path}: cannot read the checkpoint "
                              f"({type(exc).__name__}: {exc})") from exc


def read_torch_checkpoint(path, *, check=None, max_bytes=MAX_BYTES):
    """Load a PyTorch checkpoint as plain Python containers holding NumPy arrays.

    Args:
        path: a ``.pt``/``.pth`` file written by ``torch.save`` (zip or legacy format).
        check: optional; called with the unpickled object, whose tensors are still
            placeholders with ``shape``, ``ndim`` and ``dtype``, before any tensor data
            is read or allocated. Whatever it raises is raised unchanged.
        max_bytes: refuse files whose tensors need more memory than this.

    Returns:
        The saved object (dict, OrderedDict, list, tuple, str, int, float, bool, None)
        with every tensor or ``nn.Parameter`` replaced by a fresh C-contiguous
        ``np.ndarray`` of the same shape and dtype (bfloat16 becomes float32).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: ``path`` is empty, a directory, a FIFO or a device.
        UnsafeCheckpointError: the pickle names a callable outside the allow-list.
        CheckpointError: the file is not a checkpoint, is truncated or corrupt, a
            tensor does not fit in its storage, or the file needs more than the
            limits (pickle size and opcodes, max_bytes).
        MemoryError: the tensors the file declares need more than the available memory.
    """
    with open_regular_file(path, "PyTorch checkpoint") as file:
        path = os.fsdecode(os.fspath(path))
        file_size = os.fstat(file.fileno()).st_size
        if file_size == 0:
            raise CheckpointError(f"{path}: empty file, not a PyTorch checkpoint")
        # Reading through a read-only map: a corrupt length field in the pickle or the
        # zip directory then gives a short read, never a huge allocation.
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as f:
            return _read_mapped(path, f, file_size, check, max_bytes)
