"""GAN losses and the perceptual + adversarial training step (SRGAN, ESRGAN).

Losses take the discriminator's logits (any shape, float32; the U-Net's
per-pixel logits or the VGG discriminator's one per image) and return the
loss value and its gradient with respect to the logits. Every mean is over
all elements, as PyTorch's BCEWithLogitsLoss(reduction="mean").

- "vanilla" (SRGAN): binary cross-entropy on logits in its stable form
  max(x, 0) - x t + log(1 + exp(-|x|)). Discriminator: BCE(real, 1) +
  BCE(fake, 0); generator (the non-saturating form): BCE(fake, 1).
- "ragan" (ESRGAN's relativistic average GAN): with a = real - mean(fake)
  and b = fake - mean(real), discriminator: (BCE(a, 1) + BCE(b, 0)) / 2;
  generator: (BCE(a, 0) + BCE(b, 1)) / 2. The discriminator's gradient is the
  full gradient of that loss (the means included, as the paper defines it;
  BasicSR detaches each mean in its discriminator step, a slightly different
  gradient). The generator's loss sees the real logits as constants.

AdversarialTraining is one iteration of the fine-tuning phase: a generator
step on pixel_weight * pixel loss + perceptual_weight * perceptual loss +
gan_weight * generator GAN loss (the adversarial gradient flows through the
discriminator into the generator's output; the discriminator's parameter
gradients of that pass are dropped), then a discriminator step on the real
HR batch and the generator's output of this iteration (a constant), each with
its own Adam. The discriminator and the perceptual network see RGB in [0, 1]:
the generator's output after its de-normalisation (SRNetwork.forward_train).
"""

import json
import os

import numpy as np

from .. import ops
from ..autograd import Tape

GAN_KINDS = ("vanilla", "ragan")
DEFAULT_PERCEPTUAL_LAYERS = {"conv5_4": 1.0}


# ------------------------------------------------------------------- losses

def _logits(owner, name, x):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{owner}: {name} must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"{owner}: {name} must be float32, got {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{owner}: {name} is empty (shape {x.shape})")
    return x.astype(np.float64)


def _sigmoid(x):
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _bce_sum(x, target):
    """sum of BCE(x, target) over elements (float64) and its per-element gradient (not divided by the count)."""
    value = (np.maximum(x, 0.0) - x * target + np.log1p(np.exp(-np.abs(x)))).sum()
    return float(value), _sigmoid(x) - target


def bce_with_logits(logits, target):
    """Mean binary cross-entropy of logits against a constant target in [0, 1]:
    (value, d_logits), the stable form (PyTorch's BCEWithLogitsLoss)."""
    x = _logits("bce_with_logits", "logits", logits)
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, float, np.integer, np.floating)):
        raise TypeError(f"bce_with_logits: target must be a number in [0, 1], got {type(target).__name__}")
    if not 0.0 <= float(target) <= 1.0:
        raise ValueError(f"bce_with_logits: target must be in [0, 1], got {target!r}")
    value, g = _bce_sum(x, float(target))
    return value / x.size, (g / x.size).astype(np.float32)


def _pair(owner, real, fake):
    r, f = _logits(owner, "real", real), _logits(owner, "fake", fake)
    if real.shape != fake.shape:
        raise ValueError(f"{owner}: real and fake logits must have the same shape, got {real.shape} and "
                         f"{fake.shape}")
    return r, f


def discriminator_loss(kind, real, fake):
    """The discriminator's loss on real and fake logits (same shape):
    (value, d_real, d_fake)."""
    _check_kind("discriminator_loss", kind)
    r, f = _pair("discriminator_loss", real, fake)
    n = r.size
    if kind == "vanilla":
        vr, gr = _bce_sum(r, 1.0)
        vf, gf = _bce_sum(f, 0.0)
        return (vr + vf) / n, (gr / n).astype(np.float32), (gf / n).astype(np.float32)
    va, ga = _bce_sum(r - f.mean(), 1.0)
    vb, gb = _bce_sum(f - r.mean(), 0.0)
    ga, gb = ga / (2 * n), gb / (2 * n)
    # a = r - mean(f), b = f - mean(r): each mean spreads its term's gradient over the other side
    d_real = ga - gb.sum() / n
    d_fake = gb - ga.sum() / n
    return (va + vb) / (2 * n), d_real.astype(np.float32), d_fake.astype(np.float32)


def generator_loss(kind, fake, real=None):
    """The generator's adversarial loss on the fake logits (real logits, a
    constant, for "ragan"): (value, d_fake)."""
    _check_kind("generator_loss", kind)
    if kind == "vanilla":
        return bce_with_logits(fake, 1.0)
    if real is None:
        raise ValueError("generator_loss: 'ragan' needs the real logits (real=...)")
    r, f = _pair("generator_loss", real, fake)
    n = r.size
    va, ga = _bce_sum(r - f.mean(), 0.0)
    vb, gb = _bce_sum(f - r.mean(), 1.0)
    d_fake = gb / (2 * n) - ga.sum() / (2 * n * n)
    return (va + vb) / (2 * n), d_fake.astype(np.float32)


def _check_kind(owner, kind):
    if kind not in GAN_KINDS:
        raise ValueError(f"{owner}: kind must be one of {list(GAN_KINDS)}, got {kind!r}")


# ------------------------------------------------------------ configuration

def uses_fine_tuning(cfg):
    """Whether a TrainConfig asks for this module's step (a perceptual or GAN
    loss, or a pixel weight other than 1)."""
    return bool(cfg.gan or cfg.perceptual or cfg.pixel_weight != 1.0)


def discriminator_multiple(kind, args):
    """The side every HR patch must be a multiple of for this discriminator."""
    if kind == "vgg":
        return 2 ** len(args.get("channels", (64, 128, 256, 512)))
    return 8


def validate_config(cfg, checked_float):
    """Check and normalise the fine-tuning fields of a TrainConfig (called by
    TrainConfig.validate with its float checker)."""
    for name in ("gan", "discriminator"):
        if not isinstance(getattr(cfg, name), str):
            raise TypeError(f"train: {name} must be a str, got {type(getattr(cfg, name)).__name__} "
                            f"{getattr(cfg, name)!r}")
    if cfg.perceptual is None:
        cfg.perceptual = ""
    if not isinstance(cfg.perceptual, (str, os.PathLike)) or isinstance(cfg.perceptual, bytes):
        raise TypeError(f"train: perceptual must be a path (str or os.PathLike), got "
                        f"{type(cfg.perceptual).__name__} {cfg.perceptual!r}")
    cfg.perceptual = str(cfg.perceptual)
    if cfg.gan not in ("",) + GAN_KINDS:
        raise ValueError(f"train: gan must be '' (off), 'vanilla' or 'ragan', got {cfg.gan!r}")
    from .discriminators import DISCRIMINATORS

    if cfg.discriminator not in DISCRIMINATORS:
        raise ValueError(f"train: discriminator must be one of {sorted(DISCRIMINATORS)}, got {cfg.discriminator!r}")
    if not isinstance(cfg.discriminator_args, dict) or not all(isinstance(k, str) for k in cfg.discriminator_args):
        raise TypeError(f"train: discriminator_args must be a dict of keyword arguments, got "
                        f"{cfg.discriminator_args!r}")
    layers = cfg.perceptual_layers
    if not isinstance(layers, dict) or not all(isinstance(k, str) for k in layers):
        raise TypeError(f"train: perceptual_layers must be a dict {{layer name: weight}}, got {layers!r}")
    cfg.perceptual_layers = {k: checked_float(f"perceptual_layers[{k!r}]", v, ">= 0", lambda x: x >= 0)
                             for k, v in layers.items()}
    if layers and not cfg.perceptual:
        raise ValueError("train: perceptual_layers is set but perceptual (the VGG19 weight file) is not")
    sizes = sorted({cfg.patch_size} | {size for _, size in cfg.patch_schedule})
    if cfg.perceptual:
        from ..perceptual import VGG19_LAYERS

        unknown = sorted(set(layers) - set(VGG19_LAYERS))
        if unknown:
            raise ValueError(f"train: perceptual_layers {unknown} are not VGG19 layers; the names are "
                             f"{', '.join(VGG19_LAYERS)}")
        # each VGG block before a layer halves the image once
        need = 2 ** max(VGG19_LAYERS[n][3] for n in (layers or DEFAULT_PERCEPTUAL_LAYERS))
        if sizes[0] * cfg.scale < need:
            raise ValueError(f"train: the perceptual layers need HR patches of at least {need} px; LR patch size "
                             f"{sizes[0]} at x{cfg.scale} gives {sizes[0] * cfg.scale}")
    for name in ("pixel_weight", "perceptual_weight", "gan_weight", "d_lr"):
        setattr(cfg, name, checked_float(name, getattr(cfg, name), ">= 0", lambda x: x >= 0))
    if cfg.gan:
        multiple = discriminator_multiple(cfg.discriminator, cfg.discriminator_args)
        bad = [s for s in sizes if (s * cfg.scale) % multiple]
        if bad:
            raise ValueError(f"train: the {cfg.discriminator!r} discriminator needs HR patches that are multiples "
                             f"of {multiple} px; LR patch size(s) {bad} at x{cfg.scale} give "
                             f"{[s * cfg.scale for s in bad]}")


# ------------------------------------------------------------ the training step

class AdversarialTraining:
    """What the fine-tuning phase adds to a run: the perceptual loss, the
    discriminator and its Adam, and the weights of each loss term.

    Args:
        cfg: the run's TrainConfig (pixel loss kind, weights, gan kind, clip_grad).
        perceptual: None or a callable (sr, hr) -> (value, d_sr) on (N, 3, H, W)
            RGB in [0, 1] (perceptual.PerceptualLoss).
        discriminator: None (no GAN loss) or a network from
            training.discriminators (logits from RGB in [0, 1]).
    """

    def __init__(self, cfg, perceptual=None, discriminator=None):
        from .loop import Adam

        if cfg.gan and discriminator is None:
            raise ValueError(f"AdversarialTraining: gan={cfg.gan!r} needs a discriminator")
        if cfg.perceptual_weight > 0 and cfg.perceptual and perceptual is None:
            raise ValueError("AdversarialTraining: perceptual is set in the config but no loss was given")
        self.cfg = cfg
        self.perceptual = perceptual
        self.discriminator = discriminator if cfg.gan else None
        self.d_adam = Adam(self.discriminator.trainable()) if self.discriminator is not None else None

    @classmethod
    def from_config(cls, cfg, net, device="cpu"):
        """Build the perceptual loss (from cfg.perceptual, the VGG19 file) and a
        freshly initialised discriminator (seeded from cfg.seed, apart from the
        patch sampler's generator). ValueError for a network that is not RGB
        or a run on the GPU."""
        if net.n_colors != 3:
            raise ValueError(f"train: perceptual and adversarial losses need an RGB network (VGG and the "
                             f"discriminator see RGB); {cfg.model!r} here has {net.n_colors} channel(s)"
                             f"{' (--luma)' if net.n_colors == 1 else ''}")
        if device != "cpu":
            raise ValueError(f"train: perceptual and adversarial training run on the CPU only, got "
                             f"device={device!r}")
        perceptual = None
        if cfg.perceptual:
            from ..perceptual import PerceptualLoss

            perceptual = PerceptualLoss(cfg.perceptual, layer_weights=dict(cfg.perceptual_layers or
                                                                           DEFAULT_PERCEPTUAL_LAYERS),
                                        criterion="l1")
        discriminator = None
        if cfg.gan:
            from .discriminators import build_discriminator

            try:
                discriminator = build_discriminator(cfg.discriminator, np.random.default_rng([cfg.seed, 1]),
                                                    **cfg.discriminator_args)
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"train: discriminator_args {cfg.discriminator_args!r}: {exc}") from exc
        return cls(cfg, perceptual, discriminator)

    def step(self, net, adam, lr_batch, hr_batch, lr, d_lr):
        """One generator step then one discriminator step. Returns (generator
        loss, {term: value}) with the terms pixel, perceptual, gan_g, gan_d
        (unweighted; 0 where a term is off)."""
        from .loop import clip_gradients

        cfg, disc = self.cfg, self.discriminator
        terms = {"pixel": 0.0, "perceptual": 0.0, "gan_g": 0.0, "gan_d": 0.0}
        sr, cache = net.forward_train(lr_batch)
        dy = np.zeros_like(sr)
        if cfg.pixel_weight > 0:
            if cfg.loss == "l1":
                terms["pixel"] = ops.l1_loss(sr, hr_batch)
                dy += ops.l1_loss_backward(sr, hr_batch, cfg.pixel_weight)
            else:
                terms["pixel"] = ops.mse_loss(sr, hr_batch)
                dy += ops.mse_loss_backward(sr, hr_batch, cfg.pixel_weight)
        if self.perceptual is not None and cfg.perceptual_weight > 0:
            value, d_sr = self.perceptual(sr, hr_batch)
            terms["perceptual"] = float(value)
            dy += np.float32(cfg.perceptual_weight) * d_sr
        if disc is not None:
            real = None
            if cfg.gan == "ragan":
                with Tape():  # training mode (batch norm's batch statistics, a power iteration); no backward
                    real = disc(hr_batch)
            with Tape() as tape:
                tape.watch(sr)
                fake = disc(sr)
            terms["gan_g"], d_fake = generator_loss(cfg.gan, fake, real)
            if cfg.gan_weight > 0:
                tape.backward(fake, d_fake * np.float32(cfg.gan_weight))
                dy += tape.input_grad(sr)
            del tape  # the discriminator's parameter gradients of this pass are not used
        grads = net.backward(dy, cache)
        if cfg.clip_grad > 0:
            clip_gradients(grads, cfg.clip_grad)
        adam.update(net.trainable(), grads, lr)
        loss = (cfg.pixel_weight * terms["pixel"] + cfg.perceptual_weight * terms["perceptual"]
                + cfg.gan_weight * terms["gan_g"])
        if disc is not None:
            terms["gan_d"] = self.discriminator_step(hr_batch, sr, d_lr)
        return float(loss), terms

    def discriminator_step(self, hr_batch, sr, d_lr):
        """One Adam step of the discriminator on real (hr_batch) and fake (sr,
        a constant) images; returns its loss."""
        disc = self.discriminator
        with Tape() as tape_real:
            real = disc(hr_batch)
        with Tape() as tape_fake:
            fake = disc(sr)
        value, d_real, d_fake = discriminator_loss(self.cfg.gan, real, fake)
        tape_real.backward(real, d_real)
        tape_fake.backward(fake, d_fake)
        grads_real, grads_fake = tape_real.parameter_grads(disc), tape_fake.parameter_grads(disc)
        grads = {k: ops.add_scaled(g, grads_fake[k], 1.0) for k, g in grads_real.items()}
        self.d_adam.update(disc.trainable(), grads, d_lr)
        return value

    # -------------------------------------------------------- checkpoints

    def checkpoint_parts(self):
        """(tensors, metadata) to add to the run's checkpoint: the
        discriminator's parameters and buffers (batch norm statistics,
        spectral norm's u and v), its Adam moments and step."""
        if self.discriminator is None:
            return {}, {}
        tensors = {}
        for k, p in self.discriminator.state_dict().items():
            tensors[f"disc/param/{k}"] = np.ascontiguousarray(p)
        for k in self.d_adam.m:
            tensors[f"disc/adam_m/{k}"] = self.d_adam.m[k]
            tensors[f"disc/adam_v/{k}"] = self.d_adam.v[k]
        meta = {"disc_adam_step": str(self.d_adam.step),
                "discriminator": json.dumps({"kind": self.discriminator.kind, "args": self.discriminator.args})}
        return tensors, meta

    def restore(self, path):
        """Load the discriminator's state from a checkpoint written with
        checkpoint_parts (ValueError naming the file when it lacks it)."""
        if self.discriminator is None:
            return
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="np") as f:
                meta = f.metadata() or {}
                keys = set(f.keys())
                state = {k[len("disc/param/"):]: f.get_tensor(k) for k in keys if k.startswith("disc/param/")}
                saved = json.loads(meta["discriminator"])
                if saved["kind"] != self.discriminator.kind:
                    raise ValueError(f"it holds a {saved['kind']!r} discriminator, the run a "
                                     f"{self.discriminator.kind!r} one")
                self.discriminator.load_state_dict(state, source=str(path))
                for k in self.d_adam.m:
                    m_k, v_k = f.get_tensor(f"disc/adam_m/{k}"), f.get_tensor(f"disc/adam_v/{k}")
                    if not (np.isfinite(m_k).all() and np.isfinite(v_k).all() and (v_k >= 0).all()):
                        raise ValueError(f"Adam moments of {k} hold NaN, infinity or a negative second moment")
                    self.d_adam.m[k][...] = m_k
                    self.d_adam.v[k][...] = v_k
                self.d_adam.step = int(meta["disc_adam_step"])
        except (KeyError, TypeError, ValueError, SafetensorError, OSError) as exc:
            raise ValueError(f"train: checkpoint {str(path)!r} lacks a usable discriminator state "
                             f"({type(exc).__name__}: {exc})") from exc


LOG_TERMS = ("pixel", "perceptual", "gan_g", "gan_d")

__all__ = ["bce_with_logits", "discriminator_loss", "generator_loss", "AdversarialTraining", "GAN_KINDS",
           "validate_config", "uses_fine_tuning"]
