"""The tape (sr_native.autograd): gradients of networks written as plain
forward code, against finite differences (EDSR's too, whose inference form
must equal its definition bit for bit); inference records nothing; in-place writes are refused under a tape.

Finite differences run the ops on the reference kernels (double accumulators)
in float32: central differences at eps 1e-3, 3e-4 and 1e-4, one of which must
agree within 2e-2 relative + 2e-2 absolute (the float32 rounding of ~700
outputs in each loss evaluation, over 2 eps; the gradients checked are of
order 1 to 10). Several step sizes because a ReLU or PReLU kink within eps of a
probed point bends one estimate (ggml's care at the kink).
"""

import numpy as np
import pytest

from sr_native import autograd, ops
from sr_native.layers import Conv2d, Module, PReLU
from sr_native.models import EDSR
from sr_native.models.edsr import upsample_factors


class TinyNet(Module):
    """Every taped op once: conv (+relu, +residual, res_scale), tanh, prelu,
    a shared conv used twice, scale, add, pixel shuffle."""

    def __init__(self, rng):
        self.conv1 = Conv2d(3, 8, 3)
        self.conv2 = Conv2d(8, 8, 3)
        self.shared = Conv2d(8, 8, 1)
        self.act = PReLU(8)
        self.conv3 = Conv2d(8, 12, 3)
        for _, p in self.named_parameters():
            p[...] = rng.standard_normal(p.shape) * 0.3
        self.act.weight[...] = rng.uniform(0.1, 0.4, 8)

    def __call__(self, x):
        h = autograd.tanh(self.conv1(x))
        r = self.conv2(h, relu=True, residual=h, res_scale=0.5)  # split into conv+relu and add under a tape
        r = self.act(r)
        r = self.shared(self.shared(r))  # one parameter, two uses: gradients add
        r = autograd.add(r, autograd.scale(h, 0.7), -0.3)
        return autograd.pixel_shuffle(self.conv3(r), 2)


def tape_grads(net, x, dy, watch_input=False):
    with autograd.Tape() as tape:
        if watch_input:
            tape.watch(x)
        y = net(x)
    tape.backward(y, dy)
    return y, tape.parameter_grads(net), (tape.input_grad(x) if watch_input else None)


def test_tape_matches_finite_differences(rng):
    net = TinyNet(rng)
    x = rng.standard_normal((2, 3, 5, 6)).astype(np.float32)
    weights = rng.standard_normal((2, 3, 10, 12))

    def loss(x_=None):
        return float((net(x if x_ is None else x_).astype(np.float64) * weights).sum())

    with ops.reference_mode():
        y, grads, dx = tape_grads(net, x, weights.astype(np.float32), watch_input=True)
        # The taped conv2 rounds its relu output before the residual add (the
        # reference kernel's fused epilogue adds in double): last-bit differences.
        np.testing.assert_allclose(y, net(x), rtol=1e-6, atol=1e-6)
        assert set(grads) == set(net.state_dict())
        checks = [(name, p, grads[name]) for name, p in net.named_parameters()] + [("input", x, dx)]
        for name, p, g in checks:
            flat = p.reshape(-1)
            for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
                keep = flat[i]
                estimates = []
                for eps in (1e-3, 3e-4, 1e-4):
                    flat[i] = keep + eps
                    up = loss()
                    flat[i] = keep - eps
                    down = loss()
                    flat[i] = keep
                    estimates.append((up - down) / (2 * eps))
                # A ReLU/PReLU kink within eps spoils one estimate; it cannot spoil both alike.
                assert any(g.reshape(-1)[i] == pytest.approx(fd, rel=2e-2, abs=2e-2) for fd in estimates), \
                    (name, i, g.reshape(-1)[i], estimates)


def test_inference_records_nothing_and_equals_taped_forward(rng):
    net = TinyNet(rng)
    x = rng.standard_normal((1, 3, 7, 5)).astype(np.float32)
    assert autograd.current_tape() is None
    y = net(x)
    with autograd.Tape() as tape:
        y_taped = net(x)
    assert autograd.current_tape() is None
    np.testing.assert_array_equal(y, y_taped)
    assert len(tape._records) > 0


def test_tape_refuses_in_place_writes(rng):
    conv = Conv2d(3, 3, 3)
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    with autograd.Tape(), pytest.raises(ValueError, match="out= .* not allowed while a Tape records"):
        conv(x, out=np.empty_like(x))


def test_backward_needs_a_recorded_output(rng):
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    with autograd.Tape() as tape:
        y = autograd.relu(x)  # x is a constant: nothing recorded
    with pytest.raises(ValueError, match="not produced by an op recorded"):
        tape.backward(y, np.ones_like(y))


def test_unused_parameter_gets_zero_gradient(rng):
    net = TinyNet(rng)
    net.unused = Conv2d(2, 2, 1)
    x = rng.standard_normal((1, 3, 4, 4)).astype(np.float32)
    y, grads, _ = tape_grads(net, x, np.ones((1, 3, 8, 8), np.float32))
    assert not grads["unused.weight"].any() and grads["unused.weight"].shape == (2, 2, 1, 1)


def edsr_forward_on_tape(net, x):
    """EDSR's definition (what training records); kept for the benches that compare forms."""
    return net.forward_definition(x)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_edsr_inference_form_equals_its_definition(scale, rng):
    """EDSR trains through the tape over forward_definition; its inference form
    (forward_raw, in-place buffers) must compute exactly the same, bit for bit,
    and the tape's gradients must be those of that definition by finite
    differences (PyTorch's are checked in test_model_gradients.py)."""
    net = EDSR(scale, n_feats=8, n_resblocks=2, res_scale=0.5)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    x = rng.standard_normal((2, 3, 9, 7)).astype(np.float32)
    names = ["head.weight", "body.1.conv1.weight", "body_conv.bias", "upsample.0.weight", "tail.weight"]
    check_definition_and_tape(net, x, rng, names)


# ------------------------------------------------------------------ tanh (ESPCN's activation)
# Reference: tanh in double, rounded once (within 0.5 ulp of float64 numpy);
# fast: a vectorised rational approximation, within 4e-7 absolute of the
# reference (up to 7 ulp near +-1, where the values crowd); exact at 0 and
# past +-7.9 (1), where it is clamped.

@pytest.mark.parametrize("shape", [(1,), (3, 5, 7), (2, 3, 17, 19), (1, 7, 129, 131)])
def test_tanh_forward_backward_against_numpy_and_reference(shape, rng):
    from sr_native import ref

    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    dy = rng.standard_normal(shape).astype(np.float32)
    want = np.tanh(x.astype(np.float64))
    y_ref = ref.tanh(x)
    np.testing.assert_array_equal(y_ref, want.astype(np.float32))
    np.testing.assert_allclose(ops.tanh(x), y_ref, rtol=0, atol=4e-7)
    dx_ref = ref.tanh_backward(y_ref, dy)
    np.testing.assert_allclose(dx_ref, dy * (1 - y_ref.astype(np.float64) ** 2), rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(ops.tanh_backward(y_ref, dy), dx_ref, rtol=1e-6, atol=1e-7)


def test_tanh_backward_by_finite_differences(rng):
    from sr_native import ref

    x = rng.standard_normal(40).astype(np.float32)
    dy = rng.standard_normal(40)
    dx = ref.tanh_backward(ref.tanh(x), dy.astype(np.float32))
    eps = 1e-3
    fd = [(float(ref.tanh(x + e)[i]) - float(ref.tanh(x - e)[i])) / (2 * eps) * dy[i]
          for i, e in ((i, np.eye(40, dtype=np.float32)[i] * eps) for i in range(40))]
    np.testing.assert_allclose(dx, fd, rtol=1e-3, atol=2e-4)


def test_tanh_nan_and_limits():
    x = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 30.0], np.float32)
    for mod in (ops, __import__("sr_native.ref", fromlist=["ref"])):
        y = mod.tanh(x)
        assert np.isnan(y[0]) and y[1] == 1 and y[2] == -1 and y[3] == 0 and np.signbit(y[4]) and y[5] == 1
        assert np.isnan(mod.tanh_backward(y, np.ones_like(y))[0])
    dense = np.linspace(-12, 12, 200_001, dtype=np.float32)  # every range of the approximation
    np.testing.assert_allclose(ops.tanh(dense), np.tanh(dense.astype(np.float64)), rtol=0, atol=4e-7)
    assert np.abs(ops.tanh(dense)).max() == 1.0


def test_tanh_matches_pytorch(torch, rng):
    x = (rng.standard_normal((2, 5, 9, 11)) * 2).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.tanh(xt)
    yt.backward(torch.from_numpy(dy))
    y = ops.tanh(x)
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=5e-7)
    np.testing.assert_allclose(ops.tanh_backward(y, dy), xt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_inference_recycles_memory_and_results_stay_put(rng):
    """A definition's __call__ reuses its layers' memory (Buffers.recycled):
    the kept bytes stop growing after the first call, and an earlier result
    is never overwritten by a later call."""
    from sr_native.models import VDSR

    net = VDSR(2, n_feats=8, n_layers=6)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    x1, x2 = (rng.random((1, 3, 12, 10)).astype(np.float32) for _ in range(2))
    y1 = net(x1)
    kept = net._buffers().nbytes()
    assert 0 < kept <= 4 * 4 * 8 * 24 * 20  # a few layers' worth, not one array per layer (6 layers)
    first = y1.copy()
    y2 = net(x2)
    np.testing.assert_array_equal(y1, first)
    assert net._buffers().nbytes() == kept
    np.testing.assert_array_equal(y2, net._from_net(net.forward_raw(net._to_net(x2))))  # no recycling: same bits
    net.release_buffers()
    assert net._buffers().nbytes() == 0


def test_recycled_buffer_is_not_reused_while_a_view_lives():
    from sr_native.layers import Buffers

    b = Buffers()
    a = b.recycled((2, 3))
    view = a[0]
    del a
    c = b.recycled((2, 3))
    assert not np.shares_memory(c, view)
    del view
    d = b.recycled((1, 3))
    assert len(b._recycled) == 2 and not np.shares_memory(d, c)


def check_definition_and_tape(net, x, rng, names):
    """The inference form equals the definition bit for bit; the tape's
    gradients of the definition agree with central differences (reference
    kernels, several steps: a ReLU kink spoils one estimate, not all)."""
    np.testing.assert_array_equal(net.forward_raw(x), net.forward_definition(x))
    y, cache = net.forward_raw_train(x)
    np.testing.assert_array_equal(y, net.forward_raw(x))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    with ops.reference_mode():
        y, cache = net.forward_raw_train(x)
        grads = {}
        net.backward_raw(dy, cache, grads)
        assert set(grads) == set(net.state_dict())
        for name in names:
            flat, g = net.state_dict()[name].reshape(-1), grads[name].reshape(-1)
            for i in rng.choice(flat.size, size=3, replace=False):
                keep, estimates = flat[i], []
                for eps in (1e-3, 3e-4, 1e-4):
                    flat[i] = keep + eps
                    up = float((net.forward_definition(x).astype(np.float64) * dy).sum())
                    flat[i] = keep - eps
                    down = float((net.forward_definition(x).astype(np.float64) * dy).sum())
                    flat[i] = keep
                    estimates.append((up - down) / (2 * eps))
                assert any(g[i] == pytest.approx(fd, rel=2e-2, abs=2e-2) for fd in estimates), (name, i, g[i], estimates)


@pytest.mark.parametrize("variant,scale", [("a", 2), ("b", 3)])
def test_wdsr_inference_form_equals_its_definition(variant, scale, rng):
    """WDSR trains through the tape over forward_definition; its inference form
    (in place, the B blocks' 1x1 pair fused) computes the same bits."""
    from sr_native.models import WDSR

    net = WDSR(scale, variant, n_feats=8, n_resblocks=2, res_scale=0.7)
    for _, p in net.named_parameters():
        p[...] = rng.standard_normal(p.shape) * 0.1
    x = rng.standard_normal((2, 3, 7, 9)).astype(np.float32)
    names = ["head.weight", "body.1.conv1.weight", "body.0.conv2.bias", "tail.weight", "skip.weight"]
    check_definition_and_tape(net, x, rng, names + (["body.1.conv3.weight"] if variant == "b" else []))


@pytest.mark.parametrize("r, shape", [(2, (1, 1, 2, 2)), (2, (3, 5, 6, 10)), (3, (2, 7, 9, 3)), (4, (1, 3, 8, 12))])
def test_pixel_unshuffle_on_the_tape_is_the_adjoint_of_shuffle(r, shape, rng):
    """Space to depth (Real-ESRGAN's x2/x1 inputs, strided convolutions): its
    gradient is pixel_shuffle, so <unshuffle(x), g> == <x, grad> exactly."""
    x = rng.standard_normal(shape).astype(np.float32)
    with autograd.Tape() as tape:
        tape.watch(x)
        y = autograd.pixel_unshuffle(x, r)
    n, c, h, w = shape
    assert y.shape == (n, c * r * r, h // r, w // r)
    np.testing.assert_array_equal(y, ops.pixel_unshuffle(x, r))
    g = rng.standard_normal(y.shape).astype(np.float32)
    tape.backward(y, g)
    dx = tape.input_grad(x)
    np.testing.assert_array_equal(dx, ops.pixel_shuffle(g, r))
    assert np.isclose(np.dot(y.ravel().astype(np.float64), g.ravel()), np.dot(x.ravel().astype(np.float64), dx.ravel()))
    np.testing.assert_array_equal(autograd.pixel_unshuffle(x, r), y)  # no tape: the same values


def test_pixel_unshuffle_gradient_matches_pytorch(rng, torch):
    x = rng.standard_normal((2, 3, 6, 8)).astype(np.float32)
    g = rng.standard_normal((2, 12, 3, 4)).astype(np.float32)
    with autograd.Tape() as tape:
        tape.watch(x)
        y = autograd.pixel_unshuffle(x, 2)
    tape.backward(y, g)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.nn.functional.pixel_unshuffle(xt, 2)
    yt.backward(torch.from_numpy(g))
    np.testing.assert_array_equal(y, yt.detach().numpy())
    np.testing.assert_array_equal(tape.input_grad(x), xt.grad.numpy())
