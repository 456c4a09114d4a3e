"""Networks keep their activation buffers per thread between calls: results
must not depend on what ran before (other sizes, other threads), threads may
share one network, and release_buffers() frees the memory."""

import threading

import numpy as np
import pytest

from sr_native.layers import Buffers
from sr_native.models import EDSR, WDSR


def randomize(model, seed=0, std=0.05):
    rng = np.random.default_rng(seed)
    for _, p in model.named_parameters():
        p[...] = rng.standard_normal(p.shape) * std
    return model


def fresh_copy(model):
    other = type(model)(model.scale, **model.arch_args())
    other.load_state_dict({k: v.copy() for k, v in model.state_dict().items()})
    return other


NETS = {
    "edsr-x4": lambda: randomize(EDSR(4, n_feats=16, n_resblocks=2)),
    "edsr-x3": lambda: randomize(EDSR(3, n_feats=8, n_resblocks=0)),
    "wdsr-b-x2": lambda: randomize(WDSR(2, variant="b", n_feats=8, n_resblocks=2)),
    "wdsr-a-x3": lambda: randomize(WDSR(3, variant="a", n_feats=8, n_resblocks=1)),
}


@pytest.mark.parametrize("name", sorted(NETS))
def test_results_do_not_depend_on_earlier_calls(rng, name):
    model = NETS[name]()
    sizes = [(1, 3, 17, 23), (2, 3, 9, 31), (1, 3, 17, 23), (1, 3, 40, 6)]
    inputs = [rng.random(s, dtype=np.float32) for s in sizes]
    got = [model(x) for x in inputs]  # big, other shape, same again, odd
    for x, y in zip(inputs, got):
        np.testing.assert_array_equal(y, fresh_copy(model)(x))
    # The returned arrays are the caller's: the next call must not overwrite them.
    before = got[0].copy()
    model(inputs[1])
    np.testing.assert_array_equal(got[0], before)


def test_threads_share_a_network(rng):
    model = NETS["edsr-x4"]()
    inputs = [rng.random((1, 3, 12 + i, 15 + 2 * i), dtype=np.float32) for i in range(4)]
    want = [fresh_copy(model)(x) for x in inputs]
    results = {}

    def work(i):
        for _ in range(3):
            results[i] = model(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(4):
        np.testing.assert_array_equal(results[i], want[i])


def test_release_buffers_frees_this_threads_memory(rng):
    model = NETS["edsr-x4"]()
    model(rng.random((1, 3, 20, 20), dtype=np.float32))
    assert model._buffers().nbytes() > 0
    model.release_buffers()
    assert model._buffers().nbytes() == 0


def test_buffers_grow_and_reuse_by_name():
    b = Buffers()
    a = b.get("a", (2, 3))
    assert a.shape == (2, 3) and a.flags.c_contiguous
    small = b.get("a", (5,))
    assert np.shares_memory(a, small)  # same name: the same memory
    big = b.get("a", (4, 4))
    assert big.shape == (4, 4) and not np.shares_memory(big, a)  # grown: new memory
    other = b.get("b", (4, 4))
    assert not np.shares_memory(other, big)  # names never share
    assert b.nbytes() == (16 + 16) * 4
