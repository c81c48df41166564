"""A helper the theory tests share: what an optimizer does to a fixed stream of gradients."""

from __future__ import annotations

import numpy as np
import torch


def parameter_changes(optimizer_cls, stream, **hyper) -> np.ndarray:
    """Per-step parameter changes of an optimizer fed a fixed gradient stream (T, n), float64."""
    stream = torch.as_tensor(np.asarray(stream, dtype=np.float64))
    theta = torch.zeros(stream.shape[1:], dtype=torch.float64, requires_grad=True)
    opt = optimizer_cls([theta], **hyper)
    changes = []
    for g in stream:
        before = theta.detach().clone()
        theta.grad = g.clone()
        opt.step()
        changes.append((theta.detach() - before).numpy())
    return np.array(changes)
