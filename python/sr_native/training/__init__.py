"""Training: data pipeline (data.py) and the loop (loop.py)."""

from .data import DataWarning
from .loop import TrainConfig, train

__all__ = ["DataWarning", "TrainConfig", "train"]
