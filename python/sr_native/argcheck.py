"""Checks of plain Python arguments shared by every public function."""

import numpy as np


def require_bool(value, where, name):
    """value as a bool; TypeError for anything else: bool('False') is True,
    and 2 or None is no answer to a yes-or-no question. numpy.bool_ counts."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{where}: {name} must be a bool (True or False), got {type(value).__name__} {value!r}")
    return bool(value)


def float32_finite(value, where, name):
    """A real number as a float that stays finite once rounded to float32, the
    kernels' precision (1e39 would become inf there, and 10**400 does not even
    fit a float64): ValueError otherwise. The caller has checked the type."""
    try:
        as_float = float(value)
    except OverflowError:
        as_float = float("inf")
    with np.errstate(over="ignore"):
        finite = bool(np.isfinite(np.float32(as_float)))
    if not finite:
        raise ValueError(f"{where}: {name} must be finite in float32, got {value!r} (float32 holds |x| < 3.4e38)")
    return as_float
