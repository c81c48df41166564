"""Notebook 10's real data: scikit-learn's bundled 8×8 handwritten digits, split and scaled.

``sklearn.datasets.load_digits`` reads 1797 images (8×8 pixels, values 0–16, ten classes) from a
file inside the scikit-learn wheel: nothing is downloaded. :func:`load_digits_split` shuffles
them with a seeded generator, keeps a fixed share for validation, and scales the pixels to
[0, 1] (divided by 16), so that every optimizer sees inputs of the same, modest size.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = ["Digits", "load_digits_split", "digits_file", "N_FEATURES", "N_CLASSES"]

N_FEATURES = 64
N_CLASSES = 10


@dataclass(frozen=True)
class Digits:
    """Train and validation tensors: ``x_*`` float32 ``(n, 64)`` in [0, 1], ``y_*`` int64 ``(n,)``."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor


def digits_file() -> Path:
    """The CSV inside the installed scikit-learn that ``load_digits`` reads.

    Found without importing scikit-learn (``find_spec`` of a top-level package does not run it):
    the import costs about a second, the file takes 50 ms to read.
    """
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("scikit-learn is not installed; run `make install`")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


@lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    # 1797 rows: 64 pixel values, then the label (the format load_digits parses; a test checks
    # that the two give the same arrays).
    table = np.loadtxt(digits_file(), delimiter=",", dtype=np.float32)
    return table[:, :-1], table[:, -1].astype(np.int64)


def load_digits_split(*, val_fraction: float = 0.25, seed: int = 0) -> Digits:
    """The digits, shuffled by ``seed``, with ``val_fraction`` of them held out for validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    pixels, labels = _raw()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed)).numpy()
    x = torch.from_numpy(pixels[order] / 16.0)
    y = torch.from_numpy(labels[order])
    n_val = round(val_fraction * len(y))
    return Digits(x[n_val:].contiguous(), y[n_val:].contiguous(), x[:n_val].contiguous(), y[:n_val].contiguous())
