"""Training: data pipeline (data.py) and the loop (loop.py)."""

from .loop import TrainConfig, train

__all__ = ["TrainConfig", "train"]
