"""The optimizer registry: names used by the CLI, suites and reports (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from algorithms.config import ConfigError
from algorithms.optim.base import Optimizer
from algorithms.optim.first_order import FirstOrder, FirstOrderConfig


@dataclass(frozen=True)
class OptimizerEntry:
    """A registered optimizer: how to configure and build it.

    ``presets`` maps a domain (``atari``, ``mujoco``, ``classic``) to dotted
    settings (``optimizer.lr``, ``rollout.n_steps``, …) applied over the domain's
    defaults; the domain is absent where the optimizer does not apply.
    """

    name: str
    summary: str
    config_type: type
    build: Callable[[nn.Module, Any, int], Optimizer]
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "sgd": OptimizerEntry(
        name="sgd",
        summary="first-order A2C baseline (TF-style RMSprop by default; sgd, momentum, adam)",
        config_type=FirstOrderConfig,
        build=FirstOrder,
        presets={"atari": {}, "mujoco": {}, "classic": {}},
    ),
}


def optimizer_entry(name: str) -> OptimizerEntry:
    """The registry entry for ``name``; raises :class:`ConfigError` listing the accepted names."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; accepted: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def build_optimizer(name: str, model: nn.Module, config: Any, total_updates: int) -> Optimizer:
    return optimizer_entry(name).build(model, config, total_updates)
