"""A call strategy for optimizer update rules whose state holds accumulators (notebooks 05-06).

``in_place_state("state", "param", steps_over="grad")`` is :class:`in_place` (which already
reports a changed ``grad`` and a state that aliases it) plus one fact a value comparison cannot
see, recorded after every call as an observation:

* ``state entries replaced by new tensors``: the keys whose tensor is no longer the object the
  state dict held before the call (``"none"`` when every entry was updated in place). ``state["sum"] = state["sum"] + grad**2`` computes the right
  numbers but swaps in a new tensor: anything else holding the old one (``optimizer.state_dict()``,
  a learner's own reference) silently stops seeing updates. torch updates its buffers in place.

It is ``"none"`` for the reference, so a learner's function that rebinds a state entry fails the
check, naming the entry; a known mistake that rebinds the same entry supplies the hint.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ._framework import Observation, in_place

REPLACED = "state entries replaced by new tensors"


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
            replaced = [repr(key) for key, tensor in before.items() if state.get(key) is not tensor]
            observation.values[REPLACED + suffix] = ", ".join(replaced) or "none"
        return observation
