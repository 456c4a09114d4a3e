"""The networks, composed in Python from the C++ kernels: EDSR and WDSR (with
hand-written backward passes), SRCNN, ESPCN and VDSR (forward definitions
whose training gradients come from the tape, sr_native.autograd). Adding one:
a file here (see SRNetwork's docstring for what it provides) and a line in
ARCHITECTURES."""

from .base import DIV2K_MEAN, ModelInfo, Normalization, SRNetwork
from .edsr import EDSR, PRESETS as EDSR_PRESETS
from .espcn import ESPCN
from .srcnn import SRCNN
from .vdsr import VDSR
from .wdsr import WDSR

ARCHITECTURES = {"edsr": EDSR, "wdsr": WDSR, "srcnn": SRCNN, "espcn": ESPCN, "vdsr": VDSR}


def build(architecture, scale, **arch_args):
    """A network with zero weights from its architecture name and arguments."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](scale, **arch_args)


__all__ = ["ARCHITECTURES", "DIV2K_MEAN", "EDSR", "EDSR_PRESETS", "ESPCN", "ModelInfo", "Normalization",
           "SRCNN", "SRNetwork", "VDSR", "WDSR", "build"]
