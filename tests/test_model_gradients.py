"""Backward passes of whole networks: every parameter gradient of an L1 loss
against PyTorch autograd on the same weights and batch, and a finite-difference
check that needs no PyTorch.

Tolerance: per tensor, |ours - torch| <= 1e-4 * max|torch| + 1e-3 * |torch|
(float32 sums over a batch, in a different order).
"""

import numpy as np
import pytest

from sr_native import ops, weights
from sr_native.models import EDSR, WDSR


def to_numpy_state(net):
    return {k: v.detach().numpy().copy() for k, v in net.state_dict().items()}


def ours_from_torch(net, res_scale):
    """Our network with the torch network's weights, and our-prefix -> their-prefix.
    (Checkpoints do not record res_scale, so it is passed on.)"""
    return weights.from_foreign_state_dict(to_numpy_state(net), res_scale=res_scale)


RES_SCALE = {"edsr": 0.5, "wdsr-a": 0.7, "wdsr-b": 0.7}


def build_torch(kind, scale, torch):
    import torch_reference_models as T

    if kind == "edsr":
        net = T.EdsrPytorch(scale, n_feats=8, n_resblocks=2, res_scale=RES_SCALE[kind])
    else:
        net = T.Wdsr(scale, variant=kind[-1], n_feats=8, n_resblocks=2, res_scale=RES_SCALE[kind])
    T.randomize(net, seed=scale, std=0.1)
    if kind != "edsr":  # plain weights, so torch reports gradients of what we hold
        for m in net.modules():
            if hasattr(m, "weight_g"):
                torch.nn.utils.remove_weight_norm(m)
    return net


@pytest.mark.parametrize("kind,scale", [("edsr", 2), ("edsr", 3), ("edsr", 4), ("wdsr-a", 2), ("wdsr-b", 3)])
def test_gradients_match_pytorch(kind, scale, torch, rng):
    net = build_torch(kind, scale, torch)
    model, mapping = ours_from_torch(net, RES_SCALE[kind])
    x = rng.random((3, 3, 11, 13)).astype(np.float32)
    target = rng.random((3, 3, 11 * scale, 13 * scale)).astype(np.float32)

    y, cache = model.forward_train(x)
    loss = ops.l1_loss(y, target)
    grads = model.backward(ops.l1_loss_backward(y, target), cache)

    yt = net(torch.from_numpy(x * 255)) / 255
    lt = torch.nn.functional.l1_loss(yt, torch.from_numpy(target))
    lt.backward()
    assert loss == pytest.approx(lt.item(), rel=1e-5)
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-5)
    params = dict(net.named_parameters())
    assert set(grads) == set(model.state_dict())
    for ours_prefix, their_prefix in mapping.items():
        for leaf in ("weight", "bias"):
            want = params[f"{their_prefix}.{leaf}"].grad.numpy()
            got = grads[f"{ours_prefix}.{leaf}"]
            tol = 1e-4 * np.abs(want).max() + 1e-3 * np.abs(want)
            assert np.all(np.abs(got - want) <= tol), f"{ours_prefix}.{leaf}"


@pytest.mark.parametrize("model", [EDSR(2, n_feats=4, n_resblocks=1, res_scale=0.5),
                                   WDSR(2, "b", n_feats=4, n_resblocks=1)], ids=["edsr", "wdsr-b"])
def test_gradients_by_finite_differences(model, rng):
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.2
    x = rng.random((1, 3, 5, 6)).astype(np.float32)
    target = rng.random((1, 3, 10, 12))
    y, cache = model.forward_train(x)
    grads = model.backward(ops.mse_loss_backward(y, target.astype(np.float32)), cache)

    def loss():
        return float(((model(x).astype(np.float64) - target) ** 2).mean())

    eps = 1e-3  # small enough that few ReLU inputs cross zero, large against float32 noise
    for name, p in model.named_parameters():
        flat = p.reshape(-1)
        for i in rng.choice(flat.size, size=min(3, flat.size), replace=False):
            keep = flat[i]
            flat[i] = keep + eps
            up = loss()
            flat[i] = keep - eps
            down = loss()
            flat[i] = keep
            fd = (up - down) / (2 * eps)
            assert grads[name].reshape(-1)[i] == pytest.approx(fd, rel=2e-2, abs=2e-4), name
