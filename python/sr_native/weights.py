"""Weight files: our safetensors format, and foreign checkpoints mapped onto our networks.

Our format is safetensors (a flat, non-executable tensor container that loads
with no code run and memory-maps well) with string metadata:

  format               "sr_native/1"
  architecture         "edsr" | "wdsr"
  arch_args            JSON: the constructor arguments
  scale                "2" | "3" | "4"
  normalization        JSON: {"pixel_range", "mean", "std"} (see models.Normalization)
  pixel_shuffle_order  "CRD": out[c, h*r+i, w*r+j] = in[c*r*r + i*r + j, h, w] (PyTorch's)
  provenance           JSON: where the weights came from (data, iterations, date, source file)

Foreign checkpoints (read without PyTorch, see checkpoints.py): EDSR-PyTorch
`.pt` state dicts (EDSR and EDSR-baseline), BasicSR `.pth` EDSR files
(`params` / `params_ema`), and WDSR files in the layout of the WDSR authors'
EDSR-PyTorch-based code (weight-normalised `weight_g` / `weight_v`).
"""

import json
from pathlib import Path

import numpy as np

from .cuda import to_host
from .models import ARCHITECTURES, DIV2K_MEAN, EDSR, WDSR, Normalization

FORMAT = "sr_native/1"
SHUFFLE_ORDER = "CRD"
PACKAGE_WEIGHTS = Path(__file__).resolve().parent / "weights"
# upscale() without model= uses this shipped model for the scale, when it ships.
DEFAULT_MODEL = "edsr-baseline-x{scale}"


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
    save_file(tensors, str(tmp), metadata=metadata)
    tmp.replace(path)  # a crash never leaves a half-written file under the real name


def _load_ours(path):
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable safetensors file ({exc})") from exc
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path}: safetensors file without sr_native metadata (format={meta.get('format')!r})")
    if meta.get("pixel_shuffle_order", SHUFFLE_ORDER) != SHUFFLE_ORDER:
        raise ValueError(f"{path}: pixel shuffle order {meta['pixel_shuffle_order']!r} is not supported")
    try:
        arch = meta["architecture"]
        args = json.loads(meta["arch_args"])
        scale = int(meta["scale"])
        norm = Normalization.from_dict(json.loads(meta["normalization"]))
        prov = json.loads(meta.get("provenance", "{}"))
    except (KeyError, ValueError, TypeError) as exc:
        raise ValueError(f"{path}: incomplete sr_native metadata ({exc!r})") from exc
    if arch not in ARCHITECTURES:
        raise ValueError(f"{path}: unknown architecture {arch!r}")
    model = ARCHITECTURES[arch](scale, normalization=norm, **args)
    model.load_state_dict(tensors, source=str(path))
    model.provenance = prov
    return model


# ------------------------------------------------------------ foreign layouts

def _strip_prefixes(sd):
    """Drop the 'module.' (DataParallel) and 'model.' (EDSR-PyTorch wrapper) prefixes."""
    for prefix in ("module.", "model."):
        if sd and all(k.startswith(prefix) for k in sd):
            sd = {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def _fold_weight_norm(sd):
    """weight = g * v / ||v||, the norm over every axis but the first (PyTorch's dim=0)."""
    out = {}
    for key, value in sd.items():
        if key.endswith(".weight_v"):
            stem = key[: -len(".weight_v")]
            v = np.asarray(value, np.float64)
            g = np.asarray(sd[stem + ".weight_g"], np.float64).reshape(v.shape[0], *([1] * (v.ndim - 1)))
            norm = np.sqrt((v * v).reshape(v.shape[0], -1).sum(axis=1)).reshape(g.shape)
            out[stem + ".weight"] = (g * v / norm).astype(np.float32)
        elif not key.endswith(".weight_g"):
            out[key] = value
    return out


def _count(sd, pattern):
    i = 0
    while pattern.format(i) in sd:
        i += 1
    return i


def _edsr_scale(sd, upsampler_prefix, n_feats, path):
    """x2: one conv to 4n channels; x4: two of them; x3: one conv to 9n."""
    convs = [k for k in sorted(sd) if k.startswith(upsampler_prefix) and k.endswith(".weight")]
    first = sd[convs[0]].shape[0] // n_feats if convs else 0
    scale = {4: 2 if len(convs) == 1 else 4, 9: 3}.get(first)
    if scale is None:
        raise ValueError(f"{path}: upsampler {upsampler_prefix!r} is not an EDSR x2, x3 or x4 upsampler")
    return scale


def _from_edsr_pytorch(sd, path, res_scale):
    """EDSR-PyTorch (thstkdgus35): head.0, body.{i}.body.{0,2}, body.{n}, tail.0.{0,2}, tail.1,
    sub_mean/add_mean 1x1 convs with rgb_range 255."""
    n_blocks = _count(sd, "body.{}.body.0.weight")
    n_feats = sd["head.0.weight"].shape[0]
    scale = _edsr_scale(sd, "tail.0.", n_feats, path)
    if res_scale is None:
        res_scale = 0.1 if n_feats == 256 else 1.0  # EDSR's published choice for each size
    n_colors = sd["head.0.weight"].shape[1]
    mean = DIV2K_MEAN
    if "add_mean.bias" in sd:  # add_mean: bias = rgb_range * mean / std, with std 1
        mean = tuple(float(b) / 255.0 for b in np.asarray(sd["add_mean.bias"]).reshape(-1))
    model = EDSR(scale, n_feats=n_feats, n_resblocks=n_blocks, res_scale=res_scale, n_colors=n_colors,
                 normalization=Normalization(255.0, mean, 1.0))
    mapping = {"head": "head.0", "body_conv": f"body.{n_blocks}", "tail": "tail.1"}
    for i in range(n_blocks):
        mapping[f"body.{i}.conv1"] = f"body.{i}.body.0"
        mapping[f"body.{i}.conv2"] = f"body.{i}.body.2"
    for j in range(len(model.upsample)):
        mapping[f"upsample.{j}"] = f"tail.0.{2 * j}"
    ignored = ("sub_mean.", "add_mean.")
    return model, mapping, ignored


def _from_basicsr(sd, path, res_scale):
    """BasicSR EDSR: conv_first, body.{i}.conv{1,2}, conv_after_body, upsample.{0,2}, conv_last;
    img_range 255 and DIV2K mean, so the same normalisation as EDSR-PyTorch."""
    n_blocks = _count(sd, "body.{}.conv1.weight")
    n_feats = sd["conv_first.weight"].shape[0]
    scale = _edsr_scale(sd, "upsample.", n_feats, path)
    if res_scale is None:
        res_scale = 0.1 if n_feats == 256 else 1.0
    model = EDSR(scale, n_feats=n_feats, n_resblocks=n_blocks, res_scale=res_scale,
                 n_colors=sd["conv_first.weight"].shape[1], normalization=Normalization(255.0, DIV2K_MEAN, 1.0))
    mapping = {"head": "conv_first", "body_conv": "conv_after_body", "tail": "conv_last"}
    for i in range(n_blocks):
        mapping[f"body.{i}.conv1"] = f"body.{i}.conv1"
        mapping[f"body.{i}.conv2"] = f"body.{i}.conv2"
    for j in range(len(model.upsample)):
        mapping[f"upsample.{j}"] = f"upsample.{2 * j}"
    return model, mapping, ()


def _from_wdsr(sd, path, res_scale):
    """WDSR authors' code: head.0, body.{i}.body.{0,2} (A) or {0,2,3} (B), tail.0, skip.0,
    weight-normalised; input (x - 255 * mean) / 127.5."""
    n_blocks = _count(sd, "body.{}.body.0.weight")
    variant = "b" if "body.0.body.3.weight" in sd else "a"
    n_feats, n_colors = sd["head.0.weight"].shape[:2]
    expansion = sd["body.0.body.0.weight"].shape[0] // n_feats
    linear = 0.8
    if variant == "b":  # the low-rank width is int(n_feats * linear); recover a linear that gives it
        low = sd["body.0.body.2.weight"].shape[0]
        linear = 0.8 if int(n_feats * 0.8) == low else (low + 0.5) / n_feats
    out = sd["skip.0.weight"].shape[0]
    scale = int(round((out / n_colors) ** 0.5))
    model = WDSR(scale, variant, n_feats=n_feats, n_resblocks=n_blocks, expansion=expansion,
                 linear=linear, res_scale=1.0 if res_scale is None else res_scale, n_colors=n_colors,
                 normalization=Normalization(255.0, DIV2K_MEAN, 127.5))
    mapping = {"head": "head.0", "tail": "tail.0", "skip": "skip.0"}
    convs = ["conv1", "conv2"] if variant == "a" else ["conv1", "conv2", "conv3"]
    idx = [0, 2] if variant == "a" else [0, 2, 3]
    for i in range(n_blocks):
        for ours, theirs in zip(convs, idx):
            mapping[f"body.{i}.{ours}"] = f"body.{i}.body.{theirs}"
    return model, mapping, ()


def _detect_layout(sd):
    if "conv_first.weight" in sd:
        return "basicsr", _from_basicsr
    if "skip.0.weight" in sd:
        return "wdsr", _from_wdsr
    if "head.0.weight" in sd and "body.0.body.0.weight" in sd:
        return "edsr-pytorch", _from_edsr_pytorch
    return None, None


def _load_foreign(path, *, param_key=None, res_scale=None):
    from .checkpoints import read_torch_checkpoint

    obj = read_torch_checkpoint(path)
    if isinstance(obj, dict) and ("params" in obj or "params_ema" in obj):
        key = param_key or ("params_ema" if "params_ema" in obj else "params")
        if key not in obj:
            raise KeyError(f"{path}: no {key!r} in the checkpoint (it has {sorted(obj)})")
        obj = obj[key]
    elif isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, np.ndarray) for v in obj.values()):
        raise ValueError(f"{path}: expected a state dict of tensors, got {type(obj).__name__}")
    model, _ = from_foreign_state_dict(obj, source=str(path), res_scale=res_scale)
    model.provenance["source_file"] = Path(path).name
    return model


def from_foreign_state_dict(state, *, source="state dict", res_scale=None):
    """A network from a foreign state dict of numpy arrays (EDSR-PyTorch, BasicSR or
    WDSR layout; weight norm folded).

    Returns (model, mapping) where mapping takes each of our layer prefixes to the
    foreign one (e.g. 'body.0.conv1' -> 'body.0.body.0'), for comparing per-layer
    values such as gradients with the original.
    """
    sd = _fold_weight_norm(_strip_prefixes(dict(state)))
    layout, convert = _detect_layout(sd)
    if layout is None:
        raise ValueError(f"{source}: unknown checkpoint layout (first keys: {sorted(sd)[:6]}); "
                         "supported: EDSR-PyTorch, BasicSR EDSR, WDSR")
    model, mapping, ignored = convert(sd, source, res_scale)
    ours = {}
    for our_prefix, their_prefix in mapping.items():
        for leaf in ("weight", "bias"):
            if f"{their_prefix}.{leaf}" in sd:
                ours[f"{our_prefix}.{leaf}"] = sd[f"{their_prefix}.{leaf}"]
    used = {f"{t}.{leaf}" for t in mapping.values() for leaf in ("weight", "bias")}
    leftover = [k for k in sd if k not in used and not k.startswith(ignored)]
    if leftover:
        raise KeyError(f"{source}: unexpected keys for a {layout} checkpoint: {leftover[:8]}")
    model.load_state_dict(ours, source=f"{source} ({layout} layout)")
    model.provenance = {"source_layout": layout}
    return model, mapping


def shipped_models():
    """Names of the weight files that ship with the package."""
    folder = Path(PACKAGE_WEIGHTS)
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.safetensors"))


def load_model(name_or_path, *, param_key=None, res_scale=None):
    """A network from a shipped model's name, our .safetensors file, or a foreign checkpoint.

    Args:
        name_or_path: a name from shipped_models(), or a path.
        param_key: for BasicSR files, 'params' or 'params_ema' (default: params_ema if present).
        res_scale: EDSR-style checkpoints do not record it; by default 0.1 for 256
            features (the full EDSR), else 1.0.
    """
    if isinstance(name_or_path, str) and name_or_path in shipped_models():
        return _load_ours(Path(PACKAGE_WEIGHTS) / f"{name_or_path}.safetensors")
    path = Path(name_or_path)
    if not path.exists():
        names = shipped_models()
        raise FileNotFoundError(f"no model file at {path}" + (f"; shipped models: {names}" if names else
                                                              "; no trained weights ship with this version yet"))
    with open(path, "rb") as f:
        head = f.read(9)
    # safetensors: an 8-byte little-endian header length, then the JSON header.
    if path.suffix == ".safetensors" or head[8:9] == b"{":
        return _load_ours(path)
    return _load_foreign(path, param_key=param_key, res_scale=res_scale)
