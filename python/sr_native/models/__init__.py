"""The networks, composed in Python from the C++ kernels. Each is a forward
definition whose training gradients come from the tape (sr_native.autograd):
EDSR, WDSR, SRCNN, FSRCNN, ESPCN, VDSR, SRResNet, MSRResNet, BTSRN, RCAN,
PAN, RRDBNet and SRVGGNetCompact (EDSR and WDSR also keep an in-place
inference form). Adding one: a file here (see SRNetwork's docstring for what it provides) and a line in
ARCHITECTURES."""

from .base import DIV2K_MEAN, ModelInfo, Normalization, SRNetwork
from .btsrn import BTSRN
from .edsr import EDSR, PRESETS as EDSR_PRESETS
from .espcn import ESPCN
from .fsrcnn import FSRCNN
from .pan import PAN
from .rcan import RCAN
from .rrdbnet import RRDBNet
from .srcnn import SRCNN
from .srresnet import MSRResNet, SRResNet
from .srvgg import SRVGGNetCompact
from .vdsr import VDSR
from .wdsr import WDSR

ARCHITECTURES = {"edsr": EDSR, "wdsr": WDSR, "srcnn": SRCNN, "fsrcnn": FSRCNN, "espcn": ESPCN, "vdsr": VDSR,
                 "srresnet": SRResNet, "btsrn": BTSRN, "rcan": RCAN, "pan": PAN, "msrresnet": MSRResNet,
                 "rrdbnet": RRDBNet, "srvgg-compact": SRVGGNetCompact}


def foreign_layouts():
    """(architecture class, layout) for every foreign checkpoint layout an
    architecture accepts (models.foreign), in the order load_model tries them."""
    return [(cls, layout) for cls in ARCHITECTURES.values() for layout in cls.foreign_layouts]


def build(architecture, scale, **arch_args):
    """A network with zero weights from its architecture name and arguments."""
    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose from {sorted(ARCHITECTURES)}")
    return ARCHITECTURES[architecture](scale, **arch_args)


__all__ = ["ARCHITECTURES", "BTSRN", "DIV2K_MEAN", "EDSR", "EDSR_PRESETS", "ESPCN", "FSRCNN", "ModelInfo",
           "MSRResNet", "Normalization", "PAN", "RCAN", "RRDBNet", "SRCNN", "SRNetwork", "SRResNet",
           "SRVGGNetCompact", "VDSR", "WDSR", "build", "foreign_layouts"]
