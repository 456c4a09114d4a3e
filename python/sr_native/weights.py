"""Weight files: our safetensors format, and foreign checkpoints mapped onto our networks.

Our format is safetensors (a flat, non-executable tensor container that loads
with no code run and memory-maps well) with string metadata:

  format               "sr_native/1"
  architecture         a key of models.ARCHITECTURES ("edsr", "wdsr", "fsrcnn", ...)
  arch_args            JSON: the constructor arguments
  scale                "2" | "3" | "4"
  normalization        JSON: {"pixel_range", "mean", "std"} (see models.Normalization)
  pixel_shuffle_order  "CRD": out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w] (PyTorch's)
  provenance           JSON: where the weights came from (data, iterations, date, source file)

Foreign checkpoints (read without PyTorch, see checkpoints.py) in every
layout an architecture registers beside its definition (models.foreign;
known_layouts() lists them): EDSR-PyTorch and BasicSR files (`params` /
`params_ema`), the WDSR authors' (weight-normalised `weight_g` / `weight_v`),
and the common PyTorch layouts of the other networks. The layout and its
hyper-parameters are recognised from the keys and shapes alone.

Loading checks before it builds: only regular files are opened (a FIFO or a
device is refused, never waited on); the metadata's arguments are checked
(names, types, ranges) and the shapes they imply compared with every tensor
in the file, and a foreign checkpoint's layout and shapes are checked on the
reader's placeholders before any tensor data is read, so a file cannot make
us allocate more than a network of its own tensors' size. Then the values:
float dtypes only, and NaN or infinity in a tensor or in the normalisation is
refused. Every failure is a ValueError naming the file (MemoryError for a
network past the memory available).
"""

import inspect
import json
import math
import numbers
import os
from pathlib import Path

import numpy as np

from .checkpoints import open_regular_file, read_torch_checkpoint
from .cuda import to_host
from .layers import key_mismatch
from .models import ARCHITECTURES, Normalization

FORMAT = "sr_native/1"
SHUFFLE_ORDER = "CRD"
PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
# upscale() without model= uses this shipped model for the scale, when it ships.
DEFAULT_MODEL = "edsr-baseline-x{scale}"
# Our files' JSON header lists ~100-300 tensors in a few KB; safetensors itself allows 100 MB.
_MAX_HEADER_BYTES = 16 << 20
# Foreign checkpoints: the largest supported network (EDSR x4, 256 features,
# params and params_ema) holds under 400 MB; the reader refuses more.
_MAX_FOREIGN_BYTES = 2 << 30


def save_model(model, path, *, provenance=None):
    from safetensors.numpy import save_file

    info = model.info()
    prov = {**info.provenance, **(provenance or {})}
    metadata = {
        "format": FORMAT,
        "architecture": info.architecture,
        "arch_args": json.dumps(info.arch_args),
        "scale": str(info.scale),
        "normalization": json.dumps(info.normalization.to_dict()),
        "pixel_shuffle_order": SHUFFLE_ORDER,
        "provenance": json.dumps(prov),
    }
    tensors = {k: np.ascontiguousarray(to_host(v)) for k, v in model.state_dict().items()}
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        os.chmod(tmp, new_file_mode())  # safetensors writes 0o600
        tmp.replace(path)  # a crash never leaves a half-written file under the real name
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def new_file_mode():
    """The mode open() gives a new file: 0o666 less the umask (0o644 under
    umask 022). safetensors writes its files 0o600; weight and run files are
    no more private than the rest of the user's files. The umask is read from
    /proc, since os.umask can only be read by changing it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


# ------------------------------------------------------------ our format

# safetensors dtype names; only float tensors are weights.
_SAFETENSORS_FLOATS = {"F16": np.dtype("<f2"), "F32": np.dtype("<f4"), "F64": np.dtype("<f8"),
                       "BF16": np.dtype("<u2")}


def _read_safetensors_header(f, path, file_size):
    """The metadata and, per tensor, (dtype name, shape, begin, end) from an open
    safetensors file: an 8-byte little-endian header length, a JSON header, the data.
    Everything is checked against the file's size before any tensor is read."""
    head = f.read(8)
    if len(head) != 8:
        raise ValueError(f"{path}: not a safetensors file ({file_size} bytes, shorter than its header length)")
    n = int.from_bytes(head, "little")
    if n > min(_MAX_HEADER_BYTES, file_size - 8):
        raise ValueError(f"{path}: not a readable safetensors file (header length {n} in a file of "
                         f"{file_size} bytes)")
    raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file (its header is not JSON: {exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a readable safetensors file (its header is a {type(header).__name__})")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError(f"{path}: safetensors metadata must map names to strings")
    data_size = file_size - 8 - n
    entries = {}
    for key, entry in header.items():
        if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"{path}: malformed header entry for tensor {key!r}")
        dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _SAFETENSORS_FLOATS:
            raise ValueError(f"{path}: tensor {key!r} has dtype {dtype!r}, expected a float dtype "
                             f"({', '.join(_SAFETENSORS_FLOATS)})")
        ints = (int,)
        if (not isinstance(shape, list) or not all(isinstance(d, ints) and not isinstance(d, bool) and d >= 0
                                                   for d in shape)):
            raise ValueError(f"{path}: tensor {key!r} has a malformed shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, ints) and not isinstance(o, bool) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size):
            raise ValueError(f"{path}: tensor {key!r} has data offsets {offsets!r} outside the "
                             f"{data_size} bytes of data (truncated file?)")
        nbytes = math.prod(shape) * _SAFETENSORS_FLOATS[dtype].itemsize
        if offsets[1] - offsets[0] != nbytes:
            raise ValueError(f"{path}: tensor {key!r} of shape {tuple(shape)} needs {nbytes} bytes, "
                             f"its data offsets hold {offsets[1] - offsets[0]}")
        entries[key] = (dtype, tuple(shape), 8 + n + offsets[0], 8 + n + offsets[1])
    return meta, entries


def _read_safetensors_tensor(f, path, key, entry):
    dtype, shape, begin, end = entry
    stored = _SAFETENSORS_FLOATS[dtype]
    out = np.empty(shape, stored)
    if end > begin:
        f.seek(begin)
        got = f.readinto(memoryview(out.reshape(-1).view(np.uint8)))
        if got != end - begin:
            raise ValueError(f"{path}: truncated while reading tensor {key!r}")
    if dtype == "BF16":  # the upper half of a float32
        return (out.astype(np.uint32) << 16).view(np.float32)
    return out.astype(stored.newbyteorder("="), copy=False)


def _meta_json(meta, name, path, expected_type):
    try:
        value = json.loads(meta[name])
    except KeyError:
        raise ValueError(f"{path}: incomplete sr_native metadata (no {name!r})") from None
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"{path}: sr_native metadata {name!r} is not valid JSON ({exc})") from None
    if not isinstance(value, expected_type):
        raise ValueError(f"{path}: sr_native metadata {name!r} must be a JSON {expected_type.__name__}, "
                         f"got {type(value).__name__}")
    return value


def _arch_args_ok(cls, scale, args, path):
    """Check arch_args (names, types, ranges) and return the shapes they imply,
    before anything is built."""
    allowed = [name for name in inspect.signature(cls.parameter_shapes).parameters if name != "scale"]
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ValueError(f"{path}: unknown arch_args {unknown} for {cls.__name__} (it takes {allowed})")
    try:
        return cls.parameter_shapes(scale, **args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad arch_args {args}: {exc}") from None


def _compare_shapes(expected, found, source, what):
    """ValueError naming the keys or the tensor when found (key -> shape) does not match."""
    mismatch = key_mismatch(expected, found, "tensors")
    if mismatch:
        raise ValueError(f"{source}: the tensors do not fit {what}: {mismatch}")
    for key, shape in expected.items():
        if tuple(found[key]) != tuple(shape):
            raise ValueError(f"{source}: tensor {key!r} has shape {tuple(found[key])}, {what} expects {tuple(shape)}")


def _load_ours(path):
    path = str(path)
    with open_regular_file(path, "model file") as f:
        meta, entries = _read_safetensors_header(f, path, os.fstat(f.fileno()).st_size)
        if meta.get("format") != FORMAT:
            raise ValueError(f"{path}: safetensors file without sr_native metadata (format={meta.get('format')!r})")
        if meta.get("pixel_shuffle_order", SHUFFLE_ORDER) != SHUFFLE_ORDER:
            raise ValueError(f"{path}: pixel shuffle order {meta['pixel_shuffle_order']!r} is not supported")
        arch = meta.get("architecture")
        if arch not in ARCHITECTURES:
            raise ValueError(f"{path}: unknown architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
        cls = ARCHITECTURES[arch]
        args = _meta_json(meta, "arch_args", path, dict)
        try:
            scale = int(meta.get("scale", ""))
        except ValueError:
            raise ValueError(f"{path}: sr_native metadata 'scale' must be 2, 3 or 4, "
                             f"got {meta.get('scale')!r}") from None
        try:
            norm = Normalization.from_dict(_meta_json(meta, "normalization", path, dict))
        except TypeError as exc:
            raise ValueError(f"{path}: bad normalization metadata: {exc}") from None
        except ValueError as exc:
            raise ValueError(f"{path}: bad normalization metadata: {exc}") from None
        prov = _meta_json(meta, "provenance", path, dict) if "provenance" in meta else {}
        # Everything about the network is checked against the file's tensors
        # before the network is built: metadata cannot make us allocate more
        # than the file holds.
        expected = _arch_args_ok(cls, scale, args, path)
        _compare_shapes(expected, {k: e[1] for k, e in entries.items()}, path, f"{cls.__name__}({args})")
        tensors = {k: _read_safetensors_tensor(f, path, k, e) for k, e in entries.items()}
    try:
        model = cls(scale, normalization=norm, **args)
    except (TypeError, ValueError) as exc:  # the mean's length against n_colors, ...
        raise ValueError(f"{path}: {exc}") from None
    model.load_state_dict(tensors, source=path)
    model.provenance = prov
    return model


# ------------------------------------------------------------ foreign layouts

def _check_state(state, source):
    """state must be a dict of float tensors (arrays, or the reader's placeholders)
    with string keys."""
    if not isinstance(state, dict):
        raise ValueError(f"{source}: expected a state dict of tensors, got {type(state).__name__}")
    for key, value in state.items():
        if not isinstance(key, str):
            raise ValueError(f"{source}: state dict key {key!r} is a {type(key).__name__}, not a string")
        dtype = getattr(value, "dtype", None)
        if not (hasattr(value, "shape") and isinstance(dtype, np.dtype)):
            raise ValueError(f"{source}: {key!r} is a {type(value).__name__}, not a tensor")
        if dtype.kind != "f":
            raise ValueError(f"{source}: tensor {key!r} has dtype {dtype}, expected a float dtype")
    return state


def _strip_prefixes(sd):
    """Drop the 'module.' (DataParallel) and 'model.' (EDSR-PyTorch wrapper) prefixes."""
    for prefix in ("module.", "model."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def _weight_norm_pairs(sd, source):
    """stem -> (g key, v key) for weight-normalised convolutions; checks their shapes."""
    pairs = {}
    for key in sd:
        if key.endswith(".weight_v"):
            stem = key[: -len(".weight_v")]
            g = stem + ".weight_g"
            if g not in sd:
                raise ValueError(f"{source}: {key!r} has no {g!r} (weight normalisation needs both)")
            v_shape, g_shape = tuple(sd[key].shape), tuple(sd[g].shape)
            if len(v_shape) < 1 or math.prod(g_shape) != v_shape[0] or any(d != 1 for d in g_shape[1:]):
                raise ValueError(f"{source}: {g!r} has shape {g_shape}, which does not fit {key!r} of shape "
                                 f"{v_shape}")
            pairs[stem] = (g, key)
    return pairs


def _folded_shapes(sd, source):
    """key -> shape of the state dict once weight norm is folded."""
    pairs = _weight_norm_pairs(sd, source)
    used = {k for pair in pairs.values() for k in pair}
    shapes = {k: tuple(v.shape) for k, v in sd.items() if k not in used}
    for stem, (_g, v) in pairs.items():
        if stem + ".weight" in shapes:
            raise ValueError(f"{source}: {stem!r} has both a weight and weight_g/weight_v")
        shapes[stem + ".weight"] = tuple(sd[v].shape)
    return shapes


def _fold_weight_norm(sd, source="state dict"):
    """weight = g * v / ||v||, the norm over every axis but the first (PyTorch's dim=0)."""
    pairs = _weight_norm_pairs(sd, source)
    used = {k for pair in pairs.values() for k in pair}
    out = {k: v for k, v in sd.items() if k not in used}
    for stem, (g_key, v_key) in pairs.items():
        v = np.asarray(sd[v_key], np.float64)
        g = np.asarray(sd[g_key], np.float64).reshape(v.shape[0], *([1] * (v.ndim - 1)))
        with np.errstate(all="ignore"):  # a NaN or a zero norm is refused below, by name
            norm = np.sqrt((v * v).reshape(v.shape[0], -1).sum(axis=1)).reshape(g.shape)
            out[stem + ".weight"] = (g * v / norm).astype(np.float32)
        if not np.isfinite(out[stem + ".weight"]).all():
            raise ValueError(f"{source}: folding {g_key!r} and {v_key!r} gives NaN or infinity "
                             "(a NaN or infinity in them, or a filter whose weight_v is all zero)")
    return out


def known_layouts():
    """'name (keys)' of every foreign layout load_model reads."""
    from .models import foreign_layouts

    return [f"{layout.name} ({layout.keys})" for _, layout in foreign_layouts()]


def _plan_foreign(shapes, source, options):
    """From a foreign state dict's key -> shape (weight norm folded): the
    layout, the network class, the Plan (models.foreign) and our key -> their
    key. The first registered layout whose detect() accepts the keys is used.
    Every tensor's shape is checked here, before anything is built."""
    from .models import foreign_layouts

    found = [(cls, layout) for cls, layout in foreign_layouts() if layout.detect(shapes)]
    if not found:
        raise ValueError(f"{source}: unknown checkpoint layout (first keys: {sorted(shapes)[:6]}); "
                         f"known layouts: {'; '.join(known_layouts())}")
    cls, layout = found[0]
    plan = layout.plan(shapes, source, options)
    try:
        expected = cls.parameter_shapes(plan.scale, **plan.args)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{source}: the {layout.name} tensors give an unusable network: {exc}") from None
    keys = {}
    for ours in expected:
        prefix, leaf = ours.rsplit(".", 1)
        keys[ours] = f"{plan.mapping[prefix]}.{leaf}"
    missing = [theirs for theirs in keys.values() if theirs not in shapes]
    if missing:
        raise ValueError(f"{source}: a {layout.name} checkpoint without {missing[:8]}")
    used = set(keys.values())
    leftover = [k for k in shapes if k not in used and not k.startswith(plan.ignored)
                and not k.endswith(plan.ignored + (".num_batches_tracked",))]
    if leftover:
        raise ValueError(f"{source}: unexpected keys for a {layout.name} checkpoint: {leftover[:8]}")
    for ours, theirs in keys.items():
        if tuple(shapes[theirs]) != tuple(expected[ours]):
            raise ValueError(f"{source}: tensor {theirs!r} has shape {tuple(shapes[theirs])}, a {layout.name} "
                             f"network with {plan.args} expects {tuple(expected[ours])}")
    return layout, cls, plan, keys


def _select_state_dict(obj, path, param_key):
    """The state dict inside a checkpoint: BasicSR's params/params_ema, a 'state_dict'
    entry, or the object itself."""
    if isinstance(obj, dict) and ("params" in obj or "params_ema" in obj):
        key = param_key or ("params_ema" if "params_ema" in obj else "params")
        if key not in obj:
            raise ValueError(f"{path}: no {key!r} in the checkpoint (it has {sorted(map(str, obj))})")
        obj = obj[key]
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    return _check_state(_tensors_only(obj) if isinstance(obj, dict) else obj, path)


def _load_foreign(path, *, param_key=None, res_scale=None, scale=None):
    path = str(path)
    options = {"res_scale": res_scale, "scale": scale}

    def check(obj):  # on the tensors' shapes, before the reader allocates anything
        sd = _strip_prefixes(_select_state_dict(obj, path, param_key))
        _plan_foreign(_folded_shapes(_tensors_only(sd), path), path, options)

    obj = read_torch_checkpoint(path, check=check, max_bytes=_MAX_FOREIGN_BYTES)
    model, _ = from_foreign_state_dict(_select_state_dict(obj, path, param_key), source=path, **options)
    model.provenance["source_file"] = Path(path).name
    return model


def _tensors_only(sd):
    """The state dict without batch norm's num_batches_tracked counters (int64
    scalars in PyTorch files, not weights)."""
    return {k: v for k, v in sd.items() if not (isinstance(k, str) and k.endswith(".num_batches_tracked"))}


def from_foreign_state_dict(state, *, source="state dict", res_scale=None, scale=None):
    """A network from a foreign state dict of numpy arrays, in any layout an
    architecture registers (models.foreign; weights.known_layouts() lists
    them; weight norm folded). scale is for the layouts whose files do not
    record it (SRCNN, FSRCNN and VDSR re-implementations); where the file
    records one, a different scale is an error.

    Returns (model, mapping) where mapping takes each of our layer prefixes to the
    foreign one (e.g. 'body.0.conv1' -> 'body.0.body.0'), for comparing per-layer
    values such as gradients with the original.

    Raises ValueError naming source and the tensor for anything that does not fit:
    an unknown layout (the message lists the known ones), a missing or unexpected
    key, a wrong shape or dtype, NaN or infinity.
    """
    if isinstance(state, dict):
        state = _tensors_only(state)
    sd = _strip_prefixes(_check_state(dict(state) if isinstance(state, dict) else state, source))
    scale = _check_scale_option("from_foreign_state_dict", scale)
    layout, cls, plan, keys = _plan_foreign(_folded_shapes(sd, source), source,
                                            {"res_scale": res_scale, "scale": scale})
    if scale is not None and plan.scale != scale:
        raise ValueError(f"{source}: scale={scale} was asked for, but this {layout.name} checkpoint is x{plan.scale}")
    sd = _fold_weight_norm(sd, source)
    normalization = plan.normalization(sd) if plan.normalization is not None else None
    model = cls(plan.scale, normalization=normalization, **plan.args)
    model.load_state_dict({ours: sd[theirs] for ours, theirs in keys.items()},
                          source=f"{source} ({layout.name} layout)")
    model.provenance = {"source_layout": layout.name}
    return model, plan.mapping


def shipped_models():
    """Names of the weight files that ship with the package."""
    folder = Path(PACKAGE_WEIGHTS)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.safetensors"))


def _check_scale_option(owner, scale):
    """scale=None, or 2, 3 or 4 (an int)."""
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, numbers.Integral):
        raise TypeError(f"{owner}: scale must be an int (2, 3 or 4) or None, got {type(scale).__name__} {scale!r}")
    if scale not in (2, 3, 4):
        raise ValueError(f"{owner}: scale must be 2, 3 or 4, got {scale!r}")
    return int(scale)


def load_model(name_or_path, *, param_key=None, res_scale=None, scale=None):
    """A network from a shipped model's name, our .safetensors file, or a foreign checkpoint.

    Args:
        name_or_path: a name from shipped_models(), or a path.
        param_key: for BasicSR files, 'params' or 'params_ema' (default: params_ema if present).
        res_scale: EDSR-style checkpoints do not record it; by default 0.1 for 256
            features (the full EDSR), else 1.0.
        scale: 2, 3 or 4, for checkpoints that do not record it (SRCNN-pytorch,
            FSRCNN-pytorch, EDSR-PyTorch's VDSR: required there). Elsewhere
            optional; a file of another scale is then a ValueError.
    """
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"load_model: name_or_path must be a model name or a path, "
                        f"got {type(name_or_path).__name__}")
    if param_key is not None and not isinstance(param_key, str):
        raise TypeError(f"load_model: param_key must be a str or None, got {type(param_key).__name__}")
    if res_scale is not None:
        from .models.base import check_float

        res_scale = check_float("load_model", "res_scale", res_scale)
    scale = _check_scale_option("load_model", scale)
    if isinstance(name_or_path, str) and name_or_path in shipped_models():
        return _scale_as_asked(_load_ours(Path(PACKAGE_WEIGHTS) / f"{name_or_path}.safetensors"), scale,
                               name_or_path)
    if not os.fspath(name_or_path):  # Path("") would be the current folder
        raise ValueError("load_model: empty path given for the model file")
    path = Path(name_or_path)
    if not path.exists():
        names = shipped_models()
        raise FileNotFoundError(f"no model file at {path}" + (f"; shipped models: {names}" if names else
                                                              "; no trained weights ship with this version yet"))
    with open_regular_file(path, "model file") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return _scale_as_asked(_load_ours(path), scale, path)
    return _load_foreign(path, param_key=param_key, res_scale=res_scale, scale=scale)


def _scale_as_asked(model, scale, source):
    """Our files record their scale: scale= may only confirm it."""
    if scale is not None and model.scale != scale:
        raise ValueError(f"{source}: scale={scale} was asked for, but the model in this file is x{model.scale}")
    return model
