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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .. import cuda, metrics, ops
from ..models import ModelInfo, Normalization, build
from ..upscaling import upscale
from .data import PairSet, PatchSampler

CHECKPOINT_FORMAT = "sr_native-checkpoint/1"

PRESETS = {
    "edsr-baseline": ("edsr", dict(n_feats=64, n_resblocks=16, res_scale=1.0)),
    "edsr": ("edsr", dict(n_feats=256, n_resblocks=32, res_scale=0.1)),
    "wdsr-a": ("wdsr", dict(variant="a", n_feats=32, n_resblocks=16)),
    "wdsr-b": ("wdsr", dict(variant="b", n_feats=32, n_resblocks=16)),
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
    skip_init: str = "default"  # WDSR: "bicubic" starts the skip branch as bicubic, the tail at 0

    def validate(self):
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
        for name in ("iterations", "batch_size", "patch_size", "val_every", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"train: {name} must be >= 1, got {getattr(self, name)!r}")


def learning_rate(cfg, iteration):
    """The learning rate used for step `iteration` (counted from 0)."""
    if cfg.lr_schedule == "cosine":
        t = min(iteration / cfg.iterations, 1.0)
        return cfg.lr_min + 0.5 * (cfg.lr - cfg.lr_min) * (1 + math.cos(math.pi * t))
    return cfg.lr * cfg.lr_gamma ** (iteration // cfg.lr_step)


def new_model(cfg):
    arch, args = PRESETS[cfg.model]
    model = build(arch, cfg.scale, **{**args, **cfg.model_args})
    init_like_pytorch(model, np.random.default_rng(cfg.seed))
    if cfg.skip_init == "bicubic":
        model.init_skip_as_bicubic()
    return model


def init_like_pytorch(model, rng):
    """PyTorch's default Conv2d init: weights and biases uniform in +-1/sqrt(fan_in)."""
    state = model.state_dict()
    for name, p in state.items():
        layer = state[name.rsplit(".", 1)[0] + ".weight"]  # a bias uses its weight's fan-in
        bound = 1.0 / math.sqrt(layer.shape[1] * layer.shape[2] * layer.shape[3])
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
    adam.update(model.state_dict(), grads, lr)
    return loss


def evaluate(model, pairs):
    """Mean PSNR (Y channel, `scale` pixels shaved, 8-bit output) over a PairSet."""
    values = [metrics.psnr(upscale(lr, pairs.scale, model=model), hr, crop_border=pairs.scale, y_channel=True)
              for hr, lr in zip(pairs.hr, pairs.lr)]
    return float(np.mean(values))


# ---------------------------------------------------------------- checkpoints

def save_checkpoint(path, model, adam, rng, iteration, cfg, history):
    from safetensors.numpy import save_file

    tensors = {}
    for k, p in model.state_dict().items():
        tensors[f"param/{k}"] = np.ascontiguousarray(cuda.to_host(p))
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
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, str(tmp), metadata=metadata)
    with open(tmp, "rb+") as f:  # on disk before the rename makes it the checkpoint
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path}: not an sr_native training checkpoint")
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    m = json.loads(meta["model"])
    info = ModelInfo(m["architecture"], m["arch_args"], m["scale"], Normalization.from_dict(m["normalization"]))
    model = build(info.architecture, info.scale, normalization=info.normalization, **info.arch_args)
    model.load_state_dict({k[len("param/"):]: v for k, v in tensors.items() if k.startswith("param/")},
                          source=str(path))
    adam = Adam(model.state_dict())
    for k in adam.m:
        adam.m[k][...] = tensors[f"adam_m/{k}"]
        adam.v[k][...] = tensors[f"adam_v/{k}"]
    adam.step = int(meta["adam_step"])
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(meta["rng"])
    return model, adam, rng, int(meta["iteration"]), json.loads(meta["config"]), json.loads(meta["history"])


# ------------------------------------------------------------------- the loop

def train(train_dir, *, out_dir, scale=2, model="edsr-baseline", resume=False, progress=True, device="cpu",
          **options):
    """Train a network from a folder of HR images; returns the trained model.

    Writes to out_dir: checkpoint.safetensors (resumable), model.safetensors
    (the final weights in the package's format), log.csv, and curves.png
    (loss and validation PSNR, when matplotlib is installed). Options are the
    fields of TrainConfig (iterations, batch_size, patch_size, lr, lr_schedule,
    lr_step, lr_gamma, lr_min, loss, clip_grad, val_dir, val_every,
    checkpoint_every, seed, lr_folder, init_from, skip_init, model_args).

    device: "cpu" or "cuda" (the CUDA build and a GPU): where the network,
    its gradients and Adam's moments live; batches are cut on the CPU and
    uploaded each step. Not part of the run's definition: a run may resume on
    the other device (results then differ in the last bits, as the kernels
    sum in different orders).
    """
    device = cuda.check_device(device, "train")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / "checkpoint.safetensors"
    cfg = TrainConfig(train_dir=str(train_dir), scale=scale, model=model, **options)
    cfg.validate()
    if resume and ckpt_path.exists():
        net, adam, rng, start, saved_cfg, history = load_checkpoint(ckpt_path)
        # The run's definition comes from the checkpoint; only its length may grow.
        cfg = TrainConfig(**{**saved_cfg, "iterations": max(cfg.iterations, saved_cfg["iterations"])})
    else:
        net = new_model(cfg)
        if cfg.init_from:
            from ..weights import load_model

            copied = copy_matching(net, load_model(cfg.init_from))
            print(f"train: initialised {len(copied)} tensors from {cfg.init_from}")
        adam, rng, start, history = Adam(net.state_dict()), np.random.default_rng(cfg.seed), 0, []

    net.to(device)
    adam.to(device)
    pairs = PairSet.from_folder(cfg.train_dir, cfg.scale, cfg.lr_folder or None, min_lr_size=cfg.patch_size)
    sampler = PatchSampler(pairs, cfg.patch_size, cfg.batch_size)
    val = PairSet.from_folder(cfg.val_dir, cfg.scale) if cfg.val_dir else None

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.iterations, initial=start, unit="it", desc=f"train {cfg.model} x{cfg.scale}")
    log = open(out / "log.csv", "a")
    if start == 0:
        log.write("iteration,loss,lr,val_psnr,seconds\n")
    t0 = time.perf_counter()
    val_psnr = history[-1].get("val_psnr") if history else None
    try:
        for it in range(start, cfg.iterations):
            lr = learning_rate(cfg, it)
            lr_batch, hr_batch = sampler.batch_arrays(rng)
            loss = training_step(net, adam, lr_batch, hr_batch, cfg, lr)
            done = it + 1
            row = {"iteration": done, "loss": loss, "lr": lr}
            if val is not None and (done % cfg.val_every == 0 or done == cfg.iterations):
                val_psnr = evaluate(net, val)
                row["val_psnr"] = val_psnr
            if done % 10 == 0 or "val_psnr" in row or done == cfg.iterations:
                history.append(row)
                log.write(f"{done},{loss:.6f},{lr:.3e},{row.get('val_psnr', '')},"
                          f"{time.perf_counter() - t0:.1f}\n")
                log.flush()
            if done % cfg.checkpoint_every == 0 or done == cfg.iterations:
                save_checkpoint(ckpt_path, net, adam, rng, done, cfg, history)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", val_psnr="-" if val_psnr is None else f"{val_psnr:.2f}")
    finally:
        log.close()
        if bar is not None:
            bar.close()
    net.provenance = {"trained_by": "sr_native.train", "data": cfg.train_dir, "iterations": cfg.iterations,
                      "date": time.strftime("%Y-%m-%d"), "config": asdict(cfg)}
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
