"""What every optimizer offers the harness, and the pieces they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from torch import nn

from algorithms.config import accepts
from algorithms.objective import Objective

LR_SCHEDULES = ("constant", "linear")
MOMENTUM = accepts(lambda value: 0.0 <= value < 1.0, "a number in [0, 1)")


class Optimizer(Protocol):
    """Updates a model from one batch's objective and reports its diagnostics.

    ``step`` does every forward/backward pass it needs, changes the parameters
    (or leaves them untouched and reports ``skipped = 1`` when the update is not
    finite), and returns the same keys at every update.
    """

    def step(self, objective: Objective) -> dict[str, float]: ...

    def state_dict(self) -> dict[str, Any]:
        """Everything the next steps depend on besides the parameters (running averages, curvature,
        schedules, counters), as tensors and plain values: a checkpoint's part."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of an optimizer built the same way over the same model,
        so that the next steps are those the saved one would have taken."""


@dataclass(frozen=True)
class OptimizerEntry:
    """A registered optimizer: how to configure and build it.

    ``config_type`` is a dataclass of its settings (``--set optimizer.KEY=…``), built with its
    defaults; ``build(model, config, total_updates)`` makes the :class:`Optimizer`. ``presets``
    maps a domain (``atari``, ``mujoco``, ``classic``) to dotted settings (``optimizer.lr``,
    ``rollout.n_steps``, …) applied over the domain's defaults; the domain is absent where the
    optimizer does not apply. ``curvature`` and ``damping`` place one of our curvature
    optimizers in the 2 × 2 (None otherwise); ``origin`` says where it comes from (``built-in``,
    or the plug-in's package and version).
    """

    name: str
    summary: str
    config_type: type
    build: Callable[[nn.Module, Any, int], Optimizer]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    curvature: str | None = None
    damping: str | None = None
    origin: str = "built-in"


def lr_at(base_lr: float, schedule: str, update: int, total_updates: int) -> float:
    """Learning rate of update ``update`` (0-based): ``constant``, or ``linear`` decay to 0 at the end."""
    if schedule == "linear":
        return base_lr * (1.0 - update / max(total_updates, 1))
    return base_lr
