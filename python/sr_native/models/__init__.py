"""The networks: EDSR and WDSR, composed in Python from the C++ kernels."""

from .base import DIV2K_MEAN, ModelInfo, Normalization, SRNetwork
from .edsr import EDSR, PRESETS as EDSR_PRESETS
from .wdsr import WDSR

ARCHITECTURES = {"edsr": EDSR, "wdsr": WDSR}


def build(architecture, scale, **arch_args):
    """A network with zero weights from its architecture name and arguments."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](scale, **arch_args)


__all__ = ["ARCHITECTURES", "DIV2K_MEAN", "EDSR", "EDSR_PRESETS", "ModelInfo", "Normalization",
           "SRNetwork", "WDSR", "build"]
