"""A call strategy for optimizer update rules whose state holds accumulators (notebooks 05-06).

``in_place_state("state", "param", steps_over="grad")`` is :class:`in_place` plus two facts a
value comparison cannot see, recorded after every call as True/False observations:

* ``state tensors updated in place``: every tensor the state dict held before the call is still the
  same tensor object afterwards. ``state["sum"] = state["sum"] + grad**2`` computes the right
  numbers but swaps in a new tensor: anything else holding the old one (``optimizer.state_dict()``,
  a learner's own reference) silently stops seeing updates. torch updates its buffers in place.
* ``state shares no memory with grad``: no state tensor is (a view of) the gradient. A buffer
  that aliases ``grad`` is rewritten the next time autograd accumulates into ``param.grad``, and
  rewrites the gradient when the buffer is updated in place.

Both are True for the reference, so a learner's function that breaks either fails the check; a
known mistake that breaks it the same way supplies the hint.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ._framework import Observation, in_place

KEPT = "state tensors updated in place"
NO_ALIAS = "state shares no memory with grad"


def _shares_memory(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.numel() == 0 or b.numel() == 0:
        return False
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr()


class in_place_state(in_place):
    """:class:`in_place` that also observes whether the state was updated in place and whether it
    aliases ``grad`` (see the module docstring). The state dict is named ``state``."""

    def _one_call(self, fn: Callable[..., Any], inputs: dict[str, Any], suffix: str) -> Observation:
        state = inputs.get("state")
        grad = inputs.get("grad")
        before = ({key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
                  if isinstance(state, dict) else {})
        observation = super()._one_call(fn, inputs, suffix)
        if isinstance(state, dict):
            kept = all(state.get(key) is tensor for key, tensor in before.items())
            aliased = isinstance(grad, torch.Tensor) and any(
                isinstance(value, torch.Tensor) and _shares_memory(value, grad)
                for value in state.values())
            # after the values, so a wrong number is reported before a wrong habit
            observation.values[KEPT + suffix] = kept
            observation.values[NO_ALIAS + suffix] = not aliased
        return observation
