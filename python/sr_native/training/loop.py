"""sr_native.train: the training loop.

One iteration: a batch of random LR/HR patches -> forward_train -> L1 (or MSE)
loss -> backward -> optional global-norm gradient clipping -> Adam (PyTorch's
update) with a step or cosine learning-rate schedule. Every `val_every`
iterations the model is evaluated (PSNR on the Y channel, `scale` pixels shaved,
8-bit output, the published protocol); every `checkpoint_every` iterations a
checkpoint is written atomically (temporary file + rename), holding the
parameters, Adam's moments, the RNG state and the iteration, so `resume=True`
continues exactly: an interrupted and resumed run reaches the same parameters
as an uninterrupted one with the same seed and thread count.
"""

import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from .. import cuda, metrics, ops
from ..argcheck import float32_finite, require_bool
from ..colour import luma_nchw
from ..layers import BatchNorm2d, ConvTranspose2d, PReLU, walk_layers
from ..models import ModelInfo, Normalization, build
from ..upscaling import upscale
from ..weights import new_file_mode
from ..degradations import PRESETS as DEGRADATION_PRESETS, load_config as load_degradation, training_config
from .data import DegradingSampler, PairSet, PatchSampler, check_folder, resolve_folders

CHECKPOINT_FORMAT = "sr_native-checkpoint/1"

PRESETS = {
    "edsr-baseline": ("edsr", dict(n_feats=64, n_resblocks=16, res_scale=1.0)),
    "edsr": ("edsr", dict(n_feats=256, n_resblocks=32, res_scale=0.1)),
    "wdsr-a": ("wdsr", dict(variant="a", n_feats=32, n_resblocks=16)),
    "wdsr-b": ("wdsr", dict(variant="b", n_feats=32, n_resblocks=16)),
    # Every network trains through the tape (sr_native.autograd).
    "srcnn": ("srcnn", dict(n1=64, n2=32, k1=9, k2=1, k3=5)),
    "espcn": ("espcn", dict(n1=64, n2=32, k1=5, k2=3, k3=3)),
    "vdsr": ("vdsr", dict(n_feats=64, n_layers=20)),
    "fsrcnn": ("fsrcnn", dict(d=56, s=12, m=4)),
    "fsrcnn-s": ("fsrcnn", dict(d=32, s=5, m=1)),
    "srresnet": ("srresnet", dict(n_feats=64, n_blocks=16, batch_norm=True)),
    "srresnet-nobn": ("srresnet", dict(n_feats=64, n_blocks=16, batch_norm=False)),
    "btsrn": ("btsrn", dict(n_feats=64, n_proj=64, n_lr=6, n_hr=4)),
    "rcan": ("rcan", dict(n_feats=64, n_resgroups=10, n_resblocks=20, reduction=16)),
    "rcan-small": ("rcan", dict(n_feats=32, n_resgroups=3, n_resblocks=4, reduction=8)),
    "pan": ("pan", dict(nf=40, unf=24, n_blocks=16)),
    "msrresnet": ("msrresnet", dict(num_feat=64, num_block=16)),
    "rrdbnet": ("rrdbnet", dict(num_feat=64, num_block=23, num_grow_ch=32)),
    "srvgg-compact": ("srvgg-compact", dict(num_feat=64, num_conv=32, act_type="prelu")),
}


@dataclass
class TrainConfig:
    """Everything that defines a run (saved in every checkpoint)."""

    train_dir: str
    scale: int = 2
    model: str = "edsr-baseline"
    model_args: dict = field(default_factory=dict)
    iterations: int = 300_000
    batch_size: int = 16
    patch_size: int = 48
    lr: float = 1e-4
    lr_schedule: str = "step"  # "step" or "cosine"
    lr_step: int = 200_000
    lr_gamma: float = 0.5
    lr_min: float = 0.0
    loss: str = "l1"  # "l1" or "mse"
    clip_grad: float = 0.0  # global L2 norm; 0 = off
    val_dir: str = ""
    val_every: int = 1000
    checkpoint_every: int = 1000
    seed: int = 0
    lr_folder: str = ""
    init_from: str = ""
    # LR patches made from HR crops by sr_native.degradations (every field of
    # its config; a preset name is expanded by validate); {} = bicubic LR.
    degradation: dict = field(default_factory=dict)
    skip_init: str = "default"  # WDSR: "bicubic" starts the skip branch as bicubic, the tail at 0
    # Progressive patch sizes: [[start iteration, LR patch size], ...], each
    # size from its start on (patch_size before the first start).
    patch_schedule: list = field(default_factory=list)
    # Perceptual + adversarial fine-tuning (training.gan); the defaults leave a plain L1/MSE run.
    pixel_weight: float = 1.0
    perceptual: str = ""  # the VGG19 weight file (torchvision's vgg19-dcbb9e9d.pth); "" = off
    perceptual_layers: dict = field(default_factory=dict)  # {VGG layer: weight}; {} = conv5_4 alone
    perceptual_weight: float = 1.0
    gan: str = ""  # "" (off), "vanilla" or "ragan"
    gan_weight: float = 5e-3
    discriminator: str = "vgg"  # "vgg" (SRGAN) or "unet" (Real-ESRGAN, spectral norm)
    discriminator_args: dict = field(default_factory=dict)
    d_lr: float = 1e-4  # the discriminator's rate, on the generator's schedule

    def validate(self):
        """Check every field's type and range (TypeError, ValueError naming the
        option and the value), and normalise numbers to plain int/float so the
        config can be written to a checkpoint. Nothing is read from disk."""
        for name in ("train_dir", "val_dir", "lr_folder", "init_from"):
            value = getattr(self, name)
            if value is None and name != "train_dir":
                value = ""
            if not isinstance(value, (str, os.PathLike)) or isinstance(value, bytes):
                raise TypeError(f"train: {name} must be a path (str or os.PathLike), got {type(value).__name__} "
                                f"{value!r}")
            setattr(self, name, str(value))
        if self.train_dir == "":
            raise ValueError("train: train_dir is an empty path")
        for name in ("model", "lr_schedule", "loss", "skip_init"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(f"train: {name} must be a str, got {type(getattr(self, name)).__name__} "
                                f"{getattr(self, name)!r}")
        if self.model not in PRESETS:
            raise ValueError(f"train: model must be one of {sorted(PRESETS)}, got {self.model!r}")
        if self.lr_schedule not in ("step", "cosine"):
            raise ValueError(f"train: lr_schedule must be 'step' or 'cosine', got {self.lr_schedule!r}")
        if self.loss not in ("l1", "mse"):
            raise ValueError(f"train: loss must be 'l1' or 'mse', got {self.loss!r}")
        if self.skip_init not in ("default", "bicubic"):
            raise ValueError(f"train: skip_init must be 'default' or 'bicubic', got {self.skip_init!r}")
        if self.skip_init == "bicubic" and PRESETS[self.model][0] != "wdsr":
            raise ValueError(f"train: skip_init='bicubic' needs a WDSR model (it has a skip branch), "
                             f"got model {self.model!r}")
        if not isinstance(self.model_args, dict) or not all(isinstance(k, str) for k in self.model_args):
            raise TypeError(f"train: model_args must be a dict of keyword arguments, got {self.model_args!r}")
        self.scale = _checked_int("scale", self.scale, None)
        if self.scale not in (2, 3, 4):
            raise ValueError(f"train: scale must be 2, 3 or 4, got {self.scale!r}")
        for name in ("iterations", "batch_size", "patch_size", "lr_step", "val_every", "checkpoint_every"):
            setattr(self, name, _checked_int(name, getattr(self, name), 1))
        self.seed = _checked_int("seed", self.seed, 0)
        self.lr = _checked_float("lr", self.lr, ">= 0", lambda v: v >= 0)
        self.lr_gamma = _checked_float("lr_gamma", self.lr_gamma, "in (0, 1]", lambda v: 0 < v <= 1)
        self.lr_min = _checked_float("lr_min", self.lr_min, ">= 0", lambda v: v >= 0)
        if self.lr_schedule == "cosine" and self.lr_min > self.lr:
            raise ValueError(f"train: lr_min ({self.lr_min!r}) must not exceed lr ({self.lr!r}): the cosine "
                             "schedule goes from lr down to lr_min")
        self.clip_grad = _checked_float("clip_grad", self.clip_grad, ">= 0 (0: off)", lambda v: v >= 0)
        self.degradation = training_config(self.degradation, "train")
        if self.degradation and self.lr_folder:
            raise ValueError(f"train: degradation makes the LR images from the HR ones; lr_folder "
                             f"{self.lr_folder!r} would not be used (give one of the two)")
        self.patch_schedule = _checked_schedule(self.patch_schedule)
        from .gan import validate_config

        validate_config(self, _checked_float)


def _checked_schedule(schedule):
    """[[start, size], ...] with starts >= 0 strictly increasing and sizes >= 1, as plain ints."""
    if not isinstance(schedule, (list, tuple)):
        raise TypeError(f"train: patch_schedule must be a list of [start iteration, patch size] pairs, "
                        f"got {type(schedule).__name__} {schedule!r}")
    checked = []
    for entry in schedule:
        if not isinstance(entry, (list, tuple)) or len(entry) != 2:
            raise TypeError(f"train: patch_schedule entries must be [start iteration, patch size] pairs, "
                            f"got {entry!r}")
        start = _checked_int("patch_schedule start", entry[0], 0)
        size = _checked_int("patch_schedule patch size", entry[1], 1)
        if checked and start <= checked[-1][0]:
            raise ValueError(f"train: patch_schedule starts must increase, got {start} after {checked[-1][0]}")
        checked.append([start, size])
    return checked


def patch_size_at(cfg, iteration):
    """The LR patch size of the batch at this iteration (0-based)."""
    size = cfg.patch_size
    for start, scheduled in cfg.patch_schedule:
        if iteration >= start:
            size = scheduled
    return size


def largest_patch(cfg):
    return max([cfg.patch_size] + [size for _, size in cfg.patch_schedule])


def _checked_int(name, value, low):
    """value as an int >= low: TypeError for bool, float, str, None; ValueError below low."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"train: {name} must be an int, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"train: {name} must be >= {low}, got {value!r}")
    return int(value)


def _checked_float(name, value, rule, ok):
    """value as a float that stays finite in float32 (the kernels' precision:
    1e39 would become inf there) and satisfies ok; TypeError for bool, str, None."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"train: {name} must be a number, got {type(value).__name__} {value!r}")
    as_float = float32_finite(value, "train", name)
    if not ok(as_float):
        raise ValueError(f"train: {name} must be {rule}, got {value!r}")
    return as_float


def learning_rate(cfg, iteration):
    """The learning rate used for step `iteration` (counted from 0)."""
    if cfg.lr_schedule == "cosine":
        t = min(iteration / cfg.iterations, 1.0)
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))
    return cfg.lr * cfg.lr_gamma ** (iteration // cfg.lr_step)


def new_model(cfg):
    arch, args = PRESETS[cfg.model]
    try:
        model = build(arch, cfg.scale, **{**args, **cfg.model_args})
    except (TypeError, ValueError) as exc:  # an unknown or bad model_args entry
        raise type(exc)(f"train: model_args {cfg.model_args!r} for {cfg.model!r}: {exc}") from exc
    init_like_pytorch(model, np.random.default_rng(cfg.seed))
    if cfg.skip_init == "bicubic":
        model.init_skip_as_bicubic()
    return model


def init_like_pytorch(model, rng):
    """PyTorch's default initialisation, layer by layer in definition order:
    convolution weights and biases uniform in +-1/sqrt(fan_in) (a transposed
    convolution's fan-in as PyTorch counts it), a PReLU's slopes at 0.25,
    batch norm at gamma 1, beta 0 and running statistics 0 and 1."""
    for _, layer in walk_layers(model):
        if isinstance(layer, PReLU):
            layer.weight[...] = 0.25
        elif isinstance(layer, BatchNorm2d):
            layer.weight[...], layer.bias[...] = 1.0, 0.0
            layer.running_mean[...], layer.running_var[...] = 0.0, 1.0
        else:  # Conv2d, ConvTranspose2d
            w = layer.weight
            fan_in = layer.fan_in if isinstance(layer, ConvTranspose2d) else w.shape[1] * w.shape[2] * w.shape[3]
            bound = 1.0 / math.sqrt(fan_in)
            for p in (layer.weight, layer.bias):
                if p is not None:
                    p[...] = rng.uniform(-bound, bound, p.shape)


def copy_matching(model, source):
    """Copy every parameter of `source` whose name and shape match (an x2 model's
    body into an x3/x4 model); returns the names copied."""
    theirs = source.state_dict()
    copied = []
    for name, p in model.state_dict().items():
        if name in theirs and theirs[name].shape == p.shape:
            p[...] = theirs[name]
            copied.append(name)
    return copied


class Adam:
    """Adam moments for every parameter; the update itself is ops.adam_step."""

    def __init__(self, params):
        self.m = {k: _zeros_like(p) for k, p in params.items()}
        self.v = {k: _zeros_like(p) for k, p in params.items()}
        self.step = 0

    def to(self, device):
        """Move the moments to "cpu" or "cuda" (with the model they belong to)."""
        move = cuda.to_device if device == "cuda" else cuda.to_host
        self.m = {k: move(a) for k, a in self.m.items()}
        self.v = {k: move(a) for k, a in self.v.items()}
        return self

    def update(self, params, grads, lr):
        self.step += 1
        for k, p in params.items():
            ops.adam_step(p, grads[k], self.m[k], self.v[k], lr=lr, step=self.step)


def _zeros_like(p):
    return cuda.zeros(p.shape) if cuda.is_device_array(p) else np.zeros_like(p)


def clip_gradients(grads, max_norm):
    """Scale all gradients so their global L2 norm is at most max_norm; returns the norm."""
    norm = math.sqrt(sum(ops.sum_squares(g) for g in grads.values()))
    if max_norm > 0 and norm > max_norm:
        factor = np.float32(max_norm / (norm + 1e-6))
        for g in grads.values():
            g *= factor
    return norm


def training_step(model, adam, lr_batch, hr_batch, cfg, lr):
    """One forward/backward/update; returns the loss. On a network moved to
    the GPU, the (numpy) batches go up first."""
    if model.on_device == "cuda":
        lr_batch, hr_batch = cuda.to_device(lr_batch), cuda.to_device(hr_batch)
    y, cache = model.forward_train(lr_batch)
    if cfg.loss == "l1":
        loss, dy = ops.l1_loss(y, hr_batch), ops.l1_loss_backward(y, hr_batch)
    else:
        loss, dy = ops.mse_loss(y, hr_batch), ops.mse_loss_backward(y, hr_batch)
    grads = model.backward(dy, cache)
    if cfg.clip_grad > 0:
        clip_gradients(grads, cfg.clip_grad)
    adam.update(model.trainable(), grads, lr)
    return loss


def evaluate(model, pairs):
    """Mean PSNR (Y channel, `scale` pixels shaved, 8-bit output) over a PairSet."""
    values = [metrics.psnr(upscale(lr, pairs.scale, model=model), hr, crop_border=pairs.scale, y_channel=True)
              for hr, lr in zip(pairs.hr, pairs.lr)]
    return float(np.mean(values))


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path, model, adam, rng, iteration, cfg, history, extra=None):
    """Write the checkpoint atomically: a temporary file, fsync, rename. An
    exception (KeyboardInterrupt included) leaves the previous checkpoint and
    no temporary file behind. extra: (tensors, metadata) written with the
    rest (the discriminator's state, training.gan)."""
    from safetensors.numpy import save_file

    tensors = {}
    for k, p in model.state_dict().items():  # parameters and buffers (batch norm's running statistics)
        tensors[f"param/{k}"] = np.ascontiguousarray(cuda.to_host(p))
    for k in adam.m:  # the moments of the trained parameters
        tensors[f"adam_m/{k}"] = cuda.to_host(adam.m[k])
        tensors[f"adam_v/{k}"] = cuda.to_host(adam.v[k])
    info = model.info()
    metadata = {
        "format": CHECKPOINT_FORMAT,
        "iteration": str(iteration),
        "adam_step": str(adam.step),
        "rng": json.dumps(rng.bit_generator.state),
        "config": json.dumps(asdict(cfg)),
        "model": json.dumps({"architecture": info.architecture, "arch_args": info.arch_args,
                             "scale": info.scale, "normalization": info.normalization.to_dict()}),
        "history": json.dumps(history),
    }
    if extra is not None:
        tensors.update(extra[0])
        metadata.update(extra[1])
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        os.chmod(tmp, new_file_mode())
        with open(tmp, "rb+") as f:  # on disk before the rename makes it the checkpoint
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # no half-written file left beside the checkpoint
        raise


def load_checkpoint(path):
    """(model, adam, rng, iteration, config dict, history) from a checkpoint.

    FileNotFoundError when there is none; ValueError naming the file for
    anything else wrong with it (not safetensors, truncated, another format,
    missing or malformed metadata or tensors, NaN or infinity in the moments).
    """
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"train: no checkpoint at {str(path)!r}")
    try:
        with safe_open(str(path), framework="np") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"train: checkpoint {str(path)!r} is not a readable safetensors file ({exc})") from exc
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"train: {str(path)!r} is not an sr_native training checkpoint "
                         f"(format={meta.get('format')!r})")
    try:
        m = json.loads(meta["model"])
        info = ModelInfo(m["architecture"], m["arch_args"], m["scale"], Normalization.from_dict(m["normalization"]))
        model = build(info.architecture, info.scale, normalization=info.normalization, **info.arch_args)
        model.load_state_dict({k[len("param/"):]: v for k, v in tensors.items() if k.startswith("param/")},
                              source=str(path))
        adam = Adam(model.trainable())
        for k in adam.m:
            m_k, v_k = tensors[f"adam_m/{k}"], tensors[f"adam_v/{k}"]
            if not (np.isfinite(m_k).all() and np.isfinite(v_k).all() and (v_k >= 0).all()):
                raise ValueError(f"Adam moments of {k} hold NaN, infinity or a negative second moment")
            adam.m[k][...] = m_k
            adam.v[k][...] = v_k
        adam.step = int(meta["adam_step"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(meta["rng"])
        iteration = int(meta["iteration"])
        config, history = json.loads(meta["config"]), json.loads(meta["history"])
        if iteration < 0 or adam.step < 0 or not isinstance(config, dict) or not isinstance(history, list):
            raise ValueError(f"iteration {iteration}, adam_step {adam.step}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"train: checkpoint {str(path)!r} is damaged or incomplete ({type(exc).__name__}: "
                         f"{exc})") from exc
    return model, adam, rng, iteration, config, history


# ------------------------------------------------------------------- the loop

LOG_HEADER = "iteration,loss,lr,val_psnr,seconds\n"


def _check_run_folder(out_dir, resume):
    """The run folder as a Path, checked before any work: a new run needs a
    new or empty folder (FileExistsError otherwise: a second run would
    overwrite the first and append to its log), resume needs its checkpoint
    (FileNotFoundError); a file in the way is NotADirectoryError."""
    if not isinstance(out_dir, (str, os.PathLike)) or isinstance(out_dir, bytes):
        raise TypeError(f"train: out_dir must be a path (str or os.PathLike), got {type(out_dir).__name__}")
    out = Path(out_dir)
    if str(out_dir) == "":
        raise ValueError("train: out_dir is an empty path")
    ancestor = out
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if ancestor.exists() and not ancestor.is_dir():
        raise NotADirectoryError(f"train: out_dir {str(out)!r}: {str(ancestor)!r} is a file, not a folder")
    ckpt = out / "checkpoint.safetensors"
    if resume:
        if not ckpt.is_file():
            hint = (" (the run stopped before its first checkpoint: start it again in a new or empty folder)"
                    if out.is_dir() and any(out.iterdir()) else "")
            raise FileNotFoundError(f"train: resume=True but there is no checkpoint at {str(ckpt)!r}{hint}")
    elif out.is_dir():
        held = sorted(p.name for p in out.iterdir())
        if held:
            raise FileExistsError(f"train: run folder {str(out)!r} is not empty (it holds "
                                  f"{', '.join(held[:5])}{' ...' if len(held) > 5 else ''}); pass resume=True "
                                  "(sr-native train --resume) to continue its run, or choose a new or empty folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise PermissionError(f"train: cannot write in {str(ancestor)!r} (out_dir {str(out)!r})")
    return out


def _open_log(path, start, header=LOG_HEADER):
    """log.csv opened for appending. A resumed run keeps the rows up to its
    checkpoint's iteration and drops those written after it before the
    interruption (they are done again), so each iteration appears once."""
    kept = []
    if start > 0 and path.is_file():
        for line in path.read_text().splitlines()[1:]:
            try:
                if int(line.split(",", 1)[0]) <= start:
                    kept.append(line + "\n")
            except ValueError:  # a line cut short by a kill
                continue
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w") as f:
            f.write(header + "".join(kept))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return open(path, "a")


def _check_batch_memory(cfg):
    """MemoryError when one batch of patches alone cannot fit in memory."""
    from .. import _core

    batch_bytes = cfg.batch_size * 3 * largest_patch(cfg) ** 2 * (1 + cfg.scale ** 2) * 4
    available = _core.available_memory()
    if batch_bytes > available:
        raise MemoryError(f"train: a batch of {cfg.batch_size} LR patches of {largest_patch(cfg)} px at x{cfg.scale} "
                          f"needs {batch_bytes / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB available")


def train(train_dir, *, out_dir, scale=2, model="edsr-baseline", resume=False, progress=True, device="cpu",
          **options):
    """Train a network from a folder of HR images; returns the trained model.

    Writes to out_dir: checkpoint.safetensors (resumable), model.safetensors
    (the final weights in the package's format), log.csv, and curves.png
    (loss and validation PSNR, when matplotlib is installed). Options are the
    fields of TrainConfig (iterations, batch_size, patch_size, patch_schedule, lr, lr_schedule,
    lr_step, lr_gamma, lr_min, loss, clip_grad, val_dir, val_every,
    checkpoint_every, seed, lr_folder, init_from, skip_init, model_args,
    degradation).

    degradation: train on real-photo LR made from each HR crop by
    sr_native.degradations ("realesrgan", "light", "photo", a JSON file of fields,
    a dict or a DegradationConfig; recorded in full in the checkpoint and
    in the weight file's provenance); absent: bicubic LR, as before.

    Perceptual and adversarial fine-tuning (SRGAN/ESRGAN's second phase,
    training.gan): pixel_weight, perceptual (the VGG19 file) with
    perceptual_layers and perceptual_weight, gan ("vanilla" or "ragan") with
    gan_weight, discriminator ("vgg" or "unet"), discriminator_args and
    d_lr. Each iteration is then one generator step and one discriminator
    step; the discriminator and its Adam state are in the checkpoint, so
    resume stays exact. RGB networks on the CPU only (ValueError otherwise).

    device: "cpu" or "cuda" (the CUDA build and a GPU): where the network,
    its gradients and Adam's moments live; batches are cut on the CPU and
    uploaded each step. Not part of the run's definition: a run may resume on
    the other device (results then differ in the last bits, as the kernels
    sum in different orders).

    Everything is checked before any work, in this order, and nothing is
    written until the data is read: options (TypeError for a wrong type,
    ValueError for a bad value), the run folder (FileExistsError: not empty
    without resume; FileNotFoundError: resume without a checkpoint;
    ValueError: a damaged checkpoint), the data folders (FileNotFoundError,
    NotADirectoryError; ValueError when they hold no usable image), the
    weights of init_from. Unreadable image files and images smaller than one
    LR patch (patch_size px at the scale) are skipped with a
    training.data.DataWarning naming them. A KeyboardInterrupt propagates as
    it is, leaving the last checkpoint whole (resume=True continues it).
    """
    require_bool(resume, "train", "resume")
    require_bool(progress, "train", "progress")
    known = {f.name for f in fields(TrainConfig)} - {"train_dir", "scale", "model"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"train: unknown option(s) {', '.join(unknown)}; the options are {', '.join(sorted(known))}")
    degradation = options.get("degradation")
    if isinstance(degradation, (str, os.PathLike)) and degradation not in ("", *DEGRADATION_PRESETS):
        options["degradation"] = load_degradation(degradation).to_dict()  # a JSON file
    cfg = TrainConfig(train_dir=train_dir, scale=scale, model=model, **options)
    cfg.validate()
    if not isinstance(device, str):
        raise TypeError(f"train: device must be 'cpu' or 'cuda', got {type(device).__name__} {device!r}")
    device = cuda.check_device(device, "train")
    out = _check_run_folder(out_dir, resume)
    ckpt_path = out / "checkpoint.safetensors"
    if resume:
        net, adam, rng, start, saved_cfg, history = load_checkpoint(ckpt_path)
        # The run's definition comes from the checkpoint; only its length may grow.
        try:
            cfg = TrainConfig(**{**saved_cfg, "iterations": max(cfg.iterations, int(saved_cfg["iterations"]))})
            cfg.validate()
            if cfg.scale != net.scale:
                raise ValueError(f"its config says x{cfg.scale}, its network is x{net.scale}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"train: checkpoint {str(ckpt_path)!r} holds an invalid run configuration "
                             f"({exc})") from exc
    # The data folders (of the run being resumed, when resuming), before any model is built.
    resolve_folders(cfg.train_dir, cfg.scale, cfg.lr_folder or None)
    if cfg.val_dir:
        check_folder(cfg.val_dir, "val_dir")
    _check_batch_memory(cfg)
    if not resume:
        net = new_model(cfg)
        if cfg.init_from:
            from ..weights import load_model

            copied = copy_matching(net, load_model(cfg.init_from))
            print(f"train: initialised {len(copied)} tensors from {cfg.init_from}")
        adam, rng, start, history = Adam(net.trainable()), np.random.default_rng(cfg.seed), 0, []
    from .gan import LOG_TERMS, AdversarialTraining, uses_fine_tuning

    tuner = None  # the perceptual / adversarial phase: its losses, discriminator and the discriminator's Adam
    if uses_fine_tuning(cfg):
        tuner = AdversarialTraining.from_config(cfg, net, device)
        if resume:
            tuner.restore(ckpt_path)

    pairs = PairSet.from_folder(cfg.train_dir, cfg.scale, cfg.lr_folder or None, min_lr_size=largest_patch(cfg))
    if cfg.degradation:
        sampler = DegradingSampler(pairs, largest_patch(cfg), cfg.batch_size, cfg.degradation)
    else:
        sampler = PatchSampler(pairs, largest_patch(cfg), cfg.batch_size)
    # Validation PSNR shaves `scale` pixels from each border: an LR side of 3 leaves one HR pixel.
    val = PairSet.from_folder(cfg.val_dir, cfg.scale, min_lr_size=3, what="val_dir") if cfg.val_dir else None
    net.to(device)
    adam.to(device)

    out.mkdir(parents=True, exist_ok=True)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start, unit="it", desc=f"train {cfg.model} x{cfg.scale}")
    log = _open_log(out / "log.csv", start,
                    LOG_HEADER if tuner is None else LOG_HEADER.rstrip("\n") + "," + ",".join(LOG_TERMS) + "\n")
    t0 = time.perf_counter()
    val_psnr = history[-1].get("val_psnr") if history else None
    try:
        for it in range(start, cfg.iterations):
            lr = learning_rate(cfg, it)
            lr_batch, hr_batch = sampler.batch_arrays(rng, patch_size_at(cfg, it))
            if net.n_colors == 1:  # a luma network learns Y (MATLAB's BT.601), as it will run
                lr_batch, hr_batch = luma_nchw(lr_batch), luma_nchw(hr_batch)
            terms = {}
            if tuner is None:
                loss = training_step(net, adam, lr_batch, hr_batch, cfg, lr)
            else:  # the discriminator's rate follows the generator's schedule
                d_lr = cfg.d_lr * (lr / cfg.lr) if cfg.lr > 0 else cfg.d_lr
                loss, terms = tuner.step(net, adam, lr_batch, hr_batch, lr, d_lr)
            done = it + 1
            row = {"iteration": done, "loss": loss, "lr": lr, **terms}
            if val is not None and (done % cfg.val_every == 0 or done == cfg.iterations):
                val_psnr = evaluate(net, val)
                row["val_psnr"] = val_psnr
            if done % 10 == 0 or "val_psnr" in row or done == cfg.iterations:
                history.append(row)
                log.write(f"{done},{loss:.6f},{lr:.3e},{row.get('val_psnr', '')},"
                          f"{time.perf_counter() - t0:.1f}"
                          + "".join(f",{terms[k]:.6f}" for k in LOG_TERMS if terms) + "\n")
                log.flush()
            if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                save_checkpoint(ckpt_path, net, adam, rng, done, cfg, history,
                                extra=None if tuner is None else tuner.checkpoint_parts())
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", val_psnr="-" if val_psnr is None else f"{val_psnr:.2f}")
    finally:
        log.close()
        if bar is not None:
            bar.close()
    net.provenance = {"trained_by": "sr_native.train", "data": cfg.train_dir, "iterations": cfg.iterations,
                      "date": time.strftime("%Y-%m-%d"), "config": asdict(cfg),
                      "degradation": cfg.degradation or "bicubic"}
    net.save(out / "model.safetensors")  # weights come back from the GPU as they are written
    plot_history(history, out / "curves.png")
    return net


def plot_history(history, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"train: matplotlib not installed, no plot at {path}")
        return
    its = [h["iteration"] for h in history]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(its, [h["loss"] for h in history], lw=0.8, label="training loss")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    val = [(h["iteration"], h["val_psnr"]) for h in history if "val_psnr" in h]
    if val:
        ax2 = ax.twinx()
        ax2.plot(*zip(*val), "o-", color="C1", label="validation PSNR (dB)")
        ax2.set_ylabel("PSNR (dB)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


__all__ = ["TrainConfig", "train", "learning_rate", "load_checkpoint", "save_checkpoint"]
