"""A call strategy for optimizer update rules whose state holds accumulators (notebooks 05-06).

``in_place_state("state", "param", steps_over="grad")`` is :class:`in_place` (which already
reports a changed ``grad`` and a state that aliases it) plus one fact a value comparison cannot
see, recorded after every call as a True/False observation:

* ``state tensors updated in place``: every tensor the state dict held before the call is still the
  same tensor object afterwards. ``state["sum"] = state["sum"] + grad**2`` computes the right
  numbers but swaps in a new tensor: anything else holding the old one (``optimizer.state_dict()``,
  a learner's own reference) silently stops seeing updates. torch updates its buffers in place.

It is True for the reference, so a learner's function that rebinds a state entry fails the check;
a known mistake that rebinds the same way supplies the hint.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ._framework import Observation, in_place

KEPT = "state tensors updated in place"


class in_place_state(in_place):
    """:class:`in_place` that also observes whether the state's tensors were updated in place
    (see the module docstring). The state dict is named ``state``."""

    def _one_call(self, fn: Callable[..., Any], inputs: dict[str, Any], suffix: str) -> Observation:
        state = inputs.get("state")
        before = ({key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
                  if isinstance(state, dict) else {})
        observation = super()._one_call(fn, inputs, suffix)
        if isinstance(state, dict):
            # after the values, so a wrong number is reported before a wrong habit
            observation.values[KEPT + suffix] = all(state.get(key) is tensor
                                                    for key, tensor in before.items())
        return observation
