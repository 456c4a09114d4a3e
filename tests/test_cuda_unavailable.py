"""What the GPU path does where it cannot run (a CPU-only build, or no GPU or
driver): it says why, and asking for it raises a clear error. Runs everywhere;
where CUDA is available it checks the opposite."""

import numpy as np
import pytest

import sr_native
from sr_native import cuda
from sr_native.models import EDSR


def test_reason_matches_availability():
    reason = sr_native.cuda_unavailable_reason()
    assert isinstance(reason, str)
    assert sr_native.cuda_available() == (reason == "")
    if cuda._cuda is None:
        assert "SR_NATIVE_CUDA" in reason  # says how to get it


@pytest.mark.skipif(cuda.cuda_available(), reason="CUDA is available here: the errors below do not happen")
def test_asking_for_the_gpu_raises_with_the_reason():
    reason = sr_native.cuda_unavailable_reason()
    img = np.zeros((4, 4, 3), np.uint8)
    net = EDSR(2, n_feats=4, n_resblocks=1)
    with pytest.raises(cuda.CudaUnavailableError, match="upscale needs CUDA") as info:
        sr_native.upscale(img, 2, model=net, device="cuda")
    assert reason in str(info.value)
    with pytest.raises(cuda.CudaUnavailableError, match="EDSR.to needs CUDA"):
        net.to("cuda")
    assert net.on_device == "cpu"
    with pytest.raises(cuda.CudaUnavailableError):
        cuda.to_device(np.zeros(3, np.float32))
    if cuda._cuda is None:  # the placeholder type of a CPU-only build
        with pytest.raises(cuda.CudaUnavailableError):
            cuda.DeviceArray()


def test_bad_device_names():
    net = EDSR(2, n_feats=4, n_resblocks=1)
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        sr_native.upscale(np.zeros((4, 4, 3), np.uint8), 2, model=net, device="tpu")
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        net.to("metal")


def test_numpy_arrays_never_take_the_gpu_path():
    x = np.ones((1, 2, 3, 3), np.float32)
    assert not cuda.is_device_array(x)
    assert cuda.to_host(x) is not None
