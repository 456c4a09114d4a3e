"""Shared fixtures: the shared data folder, PyTorch when installed, and a
fixture that runs a test once per instruction set this CPU supports."""

import os
from pathlib import Path

import numpy as np
import pytest

import sr_native

REPO_ROOT = Path(__file__).resolve().parents[1]


def subprocess_env(**extra):
    """Environment for a child Python that must import this same sr_native
    (installed or from a development tree), plus `extra` variables."""
    package_root = str(Path(sr_native.__file__).resolve().parents[1])
    return dict(os.environ, PYTHONPATH=package_root, **extra)


def shared_data_path():
    """../shared/data beside the checkout, or $SR_NATIVE_SHARED_DATA."""
    env = os.environ.get("SR_NATIVE_SHARED_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data():
    path = shared_data_path()
    if not (path / "set5").is_dir():
        pytest.skip(f"evaluation data not found at {path} (a fresh clone has no ../shared; "
                    "set SR_NATIVE_SHARED_DATA to point at it)")
    return path


@pytest.fixture(scope="session")
def torch():
    try:
        import torch as torch_module
    except ImportError:
        pytest.skip("PyTorch is not installed; this cross-check needs it (.ci/run installs torch==2.13.0)")
    torch_module.set_num_threads(2)
    return torch_module


@pytest.fixture(params=sr_native.supported_isas())
def isa(request):
    """Runs the test with the fast kernels on each instruction set this CPU has."""
    before = sr_native.get_isa()
    sr_native.set_isa(request.param)
    yield request.param
    sr_native.set_isa(before)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(scope="module")
def textured_hr_folder(tmp_path_factory):
    """Two small textured RGB photos (64x80 and 75x61, odd sides) for training runs."""
    from PIL import Image

    folder = tmp_path_factory.mktemp("hr")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(64, 80), (75, 61)]):
        yy, xx = np.mgrid[0:h, 0:w]
        base = 128 + 70 * np.sin(xx / (5 + i)) * np.cos(yy / (7 - i))
        img = np.stack([base, base[::-1], np.roll(base, 5, axis=1)], -1) + rng.normal(0, 5, (h, w, 3))
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(folder / f"img{i}.png")
    return folder
