"""Perceptual loss on VGG19 features (SRGAN, ESRGAN, Real-ESRGAN), without PyTorch.

The network is torchvision's ``vgg19`` feature stack, with its state-dict
names: sixteen 3 x 3 convolutions (stride 1, padding 1), each followed by a
ReLU, and 2 x 2 max pooling at stride 2 after each of the five blocks::

    features.0  conv1_1   3 -> 64      features.19 conv4_1 256 -> 512
    features.2  conv1_2  64 -> 64      features.21 conv4_2 512 -> 512
    features.4  pool                   features.23 conv4_3
    features.5  conv2_1  64 -> 128     features.25 conv4_4
    features.7  conv2_2 128 -> 128     features.27 pool
    features.9  pool                   features.28 conv5_1 512 -> 512
    features.10 conv3_1 128 -> 256     features.30 conv5_2
    features.12 conv3_2 256 -> 256     features.32 conv5_3
    features.14 conv3_3                features.34 conv5_4
    features.16 conv3_4                features.36 pool
    features.18 pool

(the odd indices in between are the ReLUs). Conventions, as BasicSR's
``VGGFeatureExtractor`` with ``use_input_norm=True, range_norm=False``:

* Input: RGB in [0, 1], normalised per channel with ImageNet's mean
  (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) before conv1_1.
* A feature named ``convB_L`` is that convolution's output BEFORE its ReLU
  (ESRGAN's choice: after the ReLU most deep activations are zero, which
  weakens the loss and darkens textures). The ReLU is still applied for the
  layers that follow.
* Only the layers up to the deepest feature asked for are built, loaded and run.

Weights: torchvision's ImageNet file ``vgg19-dcbb9e9d.pth`` (548 MiB, 471 MiB
of it the classifier), read torch-free by ``checkpoints.read_torch_checkpoint``,
of which only the ``features.*`` tensors needed are read from disk; or our
safetensors export of the features (76 MiB, :func:`export_vgg19_features`).
The reader's memory check still counts the whole file's tensors (about
1.1 GiB must be available), although only the features are read.
We never download it: the user does (:data:`VGG19_URL`).

:class:`PerceptualLoss` is BasicSR's ``PerceptualLoss`` (without its
``perceptual_weight``, which is the caller's loss weight): the sum over
layers of ``layer_weights[name] * criterion(vgg(sr)[name], vgg(hr)[name])``,
the criterion a mean over elements (L1 or MSE), with the gradient with
respect to sr. The network runs as a plain chain of kernel calls, with its
backward written out here rather than through autograd.Tape: several
features feed the loss at different depths, and a tape's backward starts
from one output. The VGG weights are frozen: the backward needs only input
gradients, but the conv backward kernel computes dw and db too (there is no
dx-only kernel), which is about a third of the call's work, thrown away.
"""

import math
import numbers
import os

import numpy as np

from . import layers, ops
from .checkpoints import open_regular_file, read_torch_checkpoint

__all__ = ["VGG19_LAYERS", "VGG19_URL", "VGG19Features", "PerceptualLoss", "load_vgg19_state",
           "export_vgg19_features"]

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Real-ESRGAN's (and ESRGAN's) training options.
REAL_ESRGAN_LAYER_WEIGHTS = {"conv1_2": 0.1, "conv2_2": 0.1, "conv3_4": 1.0, "conv4_4": 1.0, "conv5_4": 1.0}
_EXPORT_FORMAT = "sr_native/vgg19-features/1"


def _vgg19_layers():
    """{name: (index in torchvision's features, in channels, out channels, poolings before it)}."""
    table, index, channels = {}, 0, 3
    for block, (width, convs) in enumerate([(64, 2), (128, 2), (256, 4), (512, 4), (512, 4)], start=1):
        for layer in range(1, convs + 1):
            table[f"conv{block}_{layer}"] = (index, channels, width, block - 1)
            channels = width
            index += 2  # the conv, then its ReLU
        index += 1  # the block's max pooling
    return table


VGG19_LAYERS = _vgg19_layers()
_POOL_INDICES = (4, 9, 18, 27, 36)


def _expected_shapes(deepest):
    shapes = {}
    for index, cin, cout, _ in VGG19_LAYERS.values():
        if index <= VGG19_LAYERS[deepest][0]:
            shapes[f"features.{index}.weight"] = (cout, cin, 3, 3)
            shapes[f"features.{index}.bias"] = (cout,)
    return shapes


def _check_layer_name(name, where):
    if not isinstance(name, str):
        raise TypeError(f"{where}: layer names must be strings, got {type(name).__name__} {name!r}")
    if name not in VGG19_LAYERS:
        raise ValueError(f"{where}: unknown VGG19 layer {name!r}; the layers are {', '.join(VGG19_LAYERS)}")
    return name


def _missing_file(path, where):
    given = "no path was given" if path is None else f"{os.fsdecode(os.fspath(path))} does not exist"
    return FileNotFoundError(
        f"{where}: the VGG19 weights are needed and {given}. The perceptual loss uses torchvision's "
        f"ImageNet VGG19, vgg19-dcbb9e9d.pth (548 MiB); download it yourself from {VGG19_URL} "
        "(sr_native never downloads anything) and pass its path. export_vgg19_features() can then write "
        "the 76 MiB of it that the loss uses to a safetensors file.")


def _is_safetensors(path):
    """True for a safetensors file: an 8-byte header length, then the JSON header's '{'.
    (torch.save files start with a zip's 'PK' or a pickle's 0x80.)"""
    with open_regular_file(path, "VGG19 weights file") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{"


def load_vgg19_state(path, deepest="conv5_4"):
    """The ``features.*`` tensors of torchvision's VGG19 up to layer `deepest`, from
    torchvision's ``vgg19-dcbb9e9d.pth`` or our safetensors export of it.

    Args:
        path: the file (str or os.PathLike). None or a missing file: FileNotFoundError
            saying where to download it.
        deepest: the deepest layer needed ("conv1_1" ... "conv5_4").

    Returns:
        {"features.<i>.weight" / ".bias": float32 array} for exactly those layers.

    Raises:
        FileNotFoundError: no file (the message names VGG19_URL).
        ValueError: the file is not VGG19 (a tensor missing or of the wrong shape,
            listed), not a checkpoint, or not our export.
    """
    where = "load_vgg19_state"
    deepest = _check_layer_name(deepest, where)
    if path is None:
        raise _missing_file(None, where)
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"{where}: path must be a str or os.PathLike, got {type(path).__name__}")
    if not os.path.exists(path):
        raise _missing_file(path, where)
    shown = os.fsdecode(os.fspath(path))
    expected = _expected_shapes(deepest)
    if _is_safetensors(path):
        return _load_export(path, shown, expected, deepest)

    def keep_features(obj):
        # Sees the tensors as placeholders before any data is read: the shapes
        # are checked, and every other entry (the classifier's 471 MiB) is dropped
        # from the dict, so its storage is never read.
        if not isinstance(obj, dict):
            raise ValueError(f"{shown}: expected torchvision's VGG19 state dict, got a {type(obj).__name__}")
        _check_shapes({k: getattr(v, "shape", None) for k, v in obj.items()}, expected, shown, deepest)
        for key in expected:
            dtype = obj[key].dtype
            if dtype.kind != "f":
                raise ValueError(f"{shown}: tensor {key!r} has dtype {dtype}, expected a float dtype")
        for key in [k for k in obj if k not in expected]:
            del obj[key]

    state = read_torch_checkpoint(path, check=keep_features)
    return {k: np.ascontiguousarray(state[k], dtype=np.float32) for k in expected}


def _check_shapes(found, expected, source, deepest):
    """found: {key: shape}; ValueError naming the missing keys or the first wrong shape."""
    missing = [k for k in expected if k not in found]
    if missing:
        more = " ..." if len(missing) > 8 else ""
        raise ValueError(f"{source}: not torchvision's VGG19 features up to {deepest} (vgg19, not vgg16 or vgg19_bn): "
                         f"missing tensors {missing[:8]}{more}")
    for key, shape in expected.items():
        got = found[key]
        if got is None or tuple(got) != shape:
            raise ValueError(f"{source}: tensor {key!r} has shape {got}, VGG19 has {shape}")


def _load_export(path, shown, expected, deepest):
    from .weights import _read_safetensors_header, _read_safetensors_tensor

    with open_regular_file(path, "VGG19 weights file") as f:
        meta, entries = _read_safetensors_header(f, shown, os.fstat(f.fileno()).st_size)
        if meta.get("format") != _EXPORT_FORMAT:
            raise ValueError(f"{shown}: a safetensors file but not sr_native's VGG19 features export "
                             f"(format={meta.get('format')!r}, expected {_EXPORT_FORMAT!r})")
        _check_shapes({k: e[1] for k, e in entries.items()}, expected, shown, deepest)
        return {k: _read_safetensors_tensor(f, shown, k, entries[k]).astype(np.float32) for k in expected}


def export_vgg19_features(src, dst):
    """Write the 16 convolutions of VGG19 (all of ``features.*``: 20.0 M floats,
    76 MiB) from torchvision's ``vgg19-dcbb9e9d.pth`` (548 MiB) to a safetensors file that
    PerceptualLoss and load_vgg19_state read in its place.

    Args:
        src: torchvision's file (or an export). dst: the file to write (replaced
            atomically: a crash never leaves a half-written file under its name).
    """
    from safetensors.numpy import save_file

    from .weights import new_file_mode

    state = load_vgg19_state(src, "conv5_4")
    dst = os.fspath(dst)
    tmp = dst + ".tmp"
    try:
        save_file(state, tmp, metadata={"format": _EXPORT_FORMAT, "source": os.path.basename(os.fspath(src)),
                                        "layout": "torchvision vgg19 features.<i>.weight/bias"})
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, dst)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


class VGG19Features(layers.Module):
    """torchvision's VGG19 feature stack up to layer `deepest` (state-dict keys
    ``features.<i>.weight/bias`` as torchvision's), frozen: it has no trainable role.

    Args:
        deepest: the last convolution built ("conv5_4" builds all sixteen).
    """

    def __init__(self, deepest="conv5_4"):
        self.deepest = _check_layer_name(deepest, "VGG19Features")
        last = VGG19_LAYERS[deepest][0]
        self.features = [None] * (last + 1)
        for index, cin, cout, _ in VGG19_LAYERS.values():
            if index <= last:
                self.features[index] = layers.Conv2d(cin, cout, 3)
        self.mean = np.array(IMAGENET_MEAN, np.float32).reshape(1, 3, 1, 1)
        self.std = np.array(IMAGENET_STD, np.float32).reshape(1, 3, 1, 1)

    @classmethod
    def from_state_dict(cls, state, deepest="conv5_4", *, source="state dict"):
        """Built and loaded from torchvision's (or our) state dict; keys past
        `deepest` (and the classifier's) are ignored."""
        net = cls(deepest)
        if not isinstance(state, dict):
            raise TypeError(f"{source}: expected a dict of arrays, got {type(state).__name__}")
        expected = _expected_shapes(deepest)
        _check_shapes({k: getattr(v, "shape", None) for k, v in state.items()}, expected, source, deepest)
        net.load_state_dict({k: state[k] for k in expected}, source=source)
        return net

    def _plan(self, names):
        """The layer sequence up to the deepest of names: ("conv", name, layer) and ("pool",)."""
        last = max(VGG19_LAYERS[n][0] for n in names)
        plan = []
        for name, (index, *_) in VGG19_LAYERS.items():
            if index > last:
                break
            if index > 0 and index - 1 in _POOL_INDICES:
                plan.append(("pool",))
            plan.append(("conv", name, self.features[index]))
        return plan

    def normalise(self, images):
        """(images - ImageNet mean) / std per channel: what VGG19 was trained on."""
        return (images - self.mean) / self.std

    def __call__(self, images, names):
        """{name: feature (N, O, H >> p, W >> p)} for RGB images (N, 3, H, W) float32
        in [0, 1], each the named convolution's output before its ReLU (p: the
        poolings before it, each flooring the size)."""
        where = "VGG19Features"
        if isinstance(names, str) or not names:
            raise ValueError(f"{where}: names must be a non-empty list of layer names, got {names!r}")
        for name in names:
            _check_layer_name(name, where)
            if VGG19_LAYERS[name][0] > VGG19_LAYERS[self.deepest][0]:
                raise ValueError(f"{where}: {name} is deeper than {self.deepest}, the deepest layer built")
        if not isinstance(images, np.ndarray) or images.dtype != np.float32:
            raise TypeError(f"{where}: images must be a float32 numpy array (N, 3, H, W), got "
                            f"{getattr(images, 'dtype', type(images).__name__)}")
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"{where}: images must be (N, 3, H, W) RGB, got shape {images.shape}")
        features, _ = self._forward(self.normalise(images), names, keep=False)
        return features

    def _forward(self, x, names, *, keep):
        """features, and with keep the activations the backward needs: per plan
        step, its input (and for a feature layer its output before the ReLU)."""
        wanted = set(names)
        plan = self._plan(names)
        features, saved = {}, []
        for step_index, step in enumerate(plan):
            last = step_index == len(plan) - 1
            if step[0] == "pool":
                y = ops.max_pool2d(x, 2, 2)
                saved.append((x,))
            elif step[1] in wanted:
                _, name, conv = step
                f = ops.conv2d(x, conv.weight, conv.bias)
                features[name] = f
                y = None if last else ops.relu(f)  # the deepest feature's ReLU feeds nothing
                saved.append((x, f, y))
            else:
                conv = step[2]
                y = ops.conv2d(x, conv.weight, conv.bias, relu=True)
                saved.append((x, y))
            if not keep:
                saved.clear()
            x = y
        return features, (plan, saved)

    def _backward(self, record, feature_grads):
        """d(normalised input) from the loss gradients of the features (a dict by name)."""
        plan, saved = record
        g = None  # gradient of the current step's output (after its ReLU)
        for step, kept in zip(reversed(plan), reversed(saved)):
            if step[0] == "pool":
                g = ops.max_pool2d_backward(kept[0], g, 2, 2)
                continue
            _, name, conv = step
            if name in feature_grads:
                x, f, y = kept
                g_f = feature_grads[name]
                if g is not None:
                    g_f = ops.add_scaled(g_f, ops.relu_backward(f, g), 1.0)
            else:
                x, y = kept
                g_f = ops.relu_backward(y, g)  # y > 0 exactly where the pre-activation was
            # dw and db come along (the conv backward kernel always computes them): frozen, dropped.
            g, _, _ = ops.conv2d_backward(x, conv.weight, g_f)
        return g


def _criterion_name(criterion):
    if not isinstance(criterion, str):
        raise TypeError(f"PerceptualLoss: criterion must be 'l1' or 'mse', got {type(criterion).__name__}")
    if criterion not in ("l1", "mse"):
        raise ValueError(f"PerceptualLoss: criterion must be 'l1' or 'mse', got {criterion!r}")
    return criterion


def _checked_weights(layer_weights):
    where = "PerceptualLoss"
    if not isinstance(layer_weights, dict):
        raise TypeError(f"{where}: layer_weights must be a dict {{layer name: weight}}, "
                        f"got {type(layer_weights).__name__}")
    if not layer_weights:
        raise ValueError(f"{where}: layer_weights is empty; name at least one of {', '.join(VGG19_LAYERS)}")
    checked = {}
    for name, weight in layer_weights.items():
        _check_layer_name(name, where)
        if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
            raise TypeError(f"{where}: the weight of {name} must be a real number, got {type(weight).__name__}")
        if not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{where}: the weight of {name} must be finite and >= 0, got {weight!r}")
        checked[name] = float(weight)
    return checked


class PerceptualLoss:
    """BasicSR's PerceptualLoss on VGG19 features, value and gradient.

    ``loss(sr, hr) -> (value, d_sr)``: value = sum over layers of
    ``layer_weights[name] * mean(criterion(vgg(sr)[name] - vgg(hr)[name]))``
    (criterion |.| for "l1", (.)^2 for "mse"), d_sr = d value / d sr.

    Args:
        vgg_path: torchvision's ``vgg19-dcbb9e9d.pth`` or our safetensors export
            (see the module docstring). None or missing: FileNotFoundError saying
            where to download it.
        layer_weights: {layer name: weight >= 0}; names from VGG19_LAYERS
            (conv1_1 ... conv5_4, taken before their ReLU). None means
            {"conv5_4": 1.0}. Real-ESRGAN's: REAL_ESRGAN_LAYER_WEIGHTS.
        criterion: "l1" or "mse", each a mean over a layer's elements.
    """

    def __init__(self, vgg_path, layer_weights=None, criterion="l1"):
        weights, criterion = self._options(layer_weights, criterion)
        deepest = max(weights, key=lambda n: VGG19_LAYERS[n][0])
        state = load_vgg19_state(vgg_path, deepest)
        self._setup(VGG19Features.from_state_dict(state, deepest, source=os.fsdecode(os.fspath(vgg_path))),
                    weights, criterion)

    @classmethod
    def from_weights(cls, state_dict, layer_weights=None, criterion="l1"):
        """From a state dict already in memory (torchvision's keys; extra keys ignored)."""
        weights, criterion = cls._options(layer_weights, criterion)
        deepest = max(weights, key=lambda n: VGG19_LAYERS[n][0])
        loss = cls.__new__(cls)
        loss._setup(VGG19Features.from_state_dict(state_dict, deepest), weights, criterion)
        return loss

    @staticmethod
    def _options(layer_weights, criterion):
        weights = _checked_weights({"conv5_4": 1.0} if layer_weights is None else layer_weights)
        return weights, _criterion_name(criterion)

    def _setup(self, vgg, weights, criterion):
        self.vgg = vgg
        self.layer_weights = weights
        self.criterion = criterion
        # Each pooling halves the size: conv{b}_* needs 2^(b-1) x 2^(b-1) pixels at least.
        self.min_size = 2 ** max(VGG19_LAYERS[n][3] for n in weights)

    def _check_images(self, sr, hr):
        where = "PerceptualLoss"
        for name, a in (("sr", sr), ("hr", hr)):
            if not isinstance(a, np.ndarray) or a.dtype != np.float32:
                what = f"{a.dtype} array" if isinstance(a, np.ndarray) else type(a).__name__
                raise TypeError(f"{where}: {name} must be a float32 numpy array (N, 3, H, W), got {what}")
            if a.ndim != 4 or a.shape[1] != 3 or a.size == 0:
                raise ValueError(f"{where}: {name} must be (N, 3, H, W) RGB with N, H, W >= 1, got shape {a.shape}")
        if sr.shape != hr.shape:
            raise ValueError(f"{where}: sr and hr must have the same shape, got {sr.shape} and {hr.shape}")
        if min(sr.shape[2:]) < self.min_size:
            raise ValueError(f"{where}: the images must be at least {self.min_size} x {self.min_size} for the "
                             f"layers {sorted(self.layer_weights)} (one 2 x 2 pooling per block before them), "
                             f"got shape {sr.shape}")

    def __call__(self, sr, hr):
        """(value, d_sr) for sr, hr (N, 3, H, W) float32 RGB in [0, 1]; d_sr has sr's shape.
        A NaN in sr or hr makes value NaN (it is not hidden)."""
        self._check_images(sr, hr)
        names = list(self.layer_weights)
        vgg = self.vgg
        hr_features, _ = vgg._forward(vgg.normalise(hr), names, keep=False)  # a constant: nothing kept
        sr_features, record = vgg._forward(vgg.normalise(sr), names, keep=True)
        loss_fn, grad_fn = ((ops.l1_loss, ops.l1_loss_backward) if self.criterion == "l1"
                            else (ops.mse_loss, ops.mse_loss_backward))
        value, grads = 0.0, {}
        for name, weight in self.layer_weights.items():
            value += weight * loss_fn(sr_features[name], hr_features[name])
            grads[name] = grad_fn(sr_features[name], hr_features[name], weight)
        del hr_features, sr_features
        d_input = vgg._backward(record, grads)
        return float(value), d_input / vgg.std  # through (sr - mean) / std
