"""A diagonal natural gradient in ACKTR's KL trust region: an optimizer of the ``step(objective)``
protocol, registered with acktr-bench through the entry point ``diag-ng`` (this package's
pyproject.toml) as :data:`ENTRY`, with its presets per domain.

Each update, on the batch's B transitions:

- F̂ = the mean over the batch of the squared per-transition gradients of the sampled NLL
  (−log π(a_b|s_b) + ½ (y_b − V(s_b))², y_b = V(s_b) + ε, a_b drawn by the current policy): the
  true Fisher's diagonal, by ``torch.func`` (one extra vectorized forward and backward), kept
  as a running average with decay ``stat_decay``;
- Δ = g / (F̂ + λ), g the gradient of the batch's loss;
- the trust region of Wu et al. 2017: ν = min(1, √(2δ / (η² Δᵀg))); θ ← θ − ν η Δ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from algorithms.objective import ActorCriticObjective
from algorithms.optim import STEP_PRESETS, OptimizerEntry


@dataclass
class DiagonalNaturalGradientConfig:
    """Its settings (``--set optimizer.KEY=…``)."""

    lr: float = 0.25
    """η."""
    kl_clip: float = 0.01
    """δ: the trust region's bound on the quadratic model of the KL."""
    damping: float = 0.01
    """λ added to every diagonal entry."""
    stat_decay: float = 0.99
    """Weight of the running average's past; the first batch sets it."""


def _sampled_nll_of_one(
    model: nn.Module,
    parameters: dict[str, torch.Tensor],
    obs: torch.Tensor,
    action: torch.Tensor,
    target: torch.Tensor,
) -> torch.Tensor:
    """The sampled NLL of one transition (obs [...], action [] or [d], target []) at ``parameters``."""
    dist, value = functional_call(model, parameters, (obs.unsqueeze(0),))
    return -dist.log_prob(action.unsqueeze(0)).sum() + 0.5 * (target - value).pow(2).sum()


class DiagonalNaturalGradient:
    """The step of the module doc over the model's trainable parameters."""

    def __init__(self, model: nn.Module, config: DiagonalNaturalGradientConfig, total_updates: int) -> None:
        self.model = model
        self.config = config
        self.names = [name for name, p in model.named_parameters() if p.requires_grad]
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.fisher: list[torch.Tensor] | None = None

    def _fisher_diagonal(self, objective: ActorCriticObjective, values: torch.Tensor) -> list[torch.Tensor]:
        parameters = {name: p.detach() for name, p in zip(self.names, self.params, strict=True)}
        targets = values.detach() + torch.randn_like(values)
        per_transition = vmap(
            grad(lambda ps, o, a, y: _sampled_nll_of_one(self.model, ps, o, a, y)), in_dims=(None, 0, 0, 0)
        )(parameters, objective.obs, objective.actions, targets)
        return [per_transition[name].pow(2).mean(0) for name in self.names]

    def step(self, objective: ActorCriticObjective) -> dict[str, float]:
        loss, _ = objective.evaluate()
        grads = torch.autograd.grad(loss, self.params)
        batch_fisher = self._fisher_diagonal(objective, objective.outputs[1])
        if self.fisher is None:
            self.fisher = batch_fisher
        else:
            decay = self.config.stat_decay
            self.fisher = [
                decay * f + (1 - decay) * b for f, b in zip(self.fisher, batch_fisher, strict=True)
            ]
        direction = [g / (f + self.config.damping) for g, f in zip(grads, self.fisher, strict=True)]
        quadratic = (
            float(sum((d * g).sum() for d, g in zip(direction, grads, strict=True))) * self.config.lr**2
        )
        grad_norm = float(torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])))
        skipped = not (math.isfinite(quadratic) and math.isfinite(grad_norm))
        scale = 1.0 if skipped or quadratic <= 0 else min(1.0, math.sqrt(2 * self.config.kl_clip / quadratic))
        if not skipped:
            with torch.no_grad():
                torch._foreach_add_(self.params, direction, alpha=-scale * self.config.lr)
        return {"lr": self.config.lr, "grad_norm": grad_norm, "scale": scale, "skipped": float(skipped)}

    def state_dict(self) -> dict[str, Any]:
        return {"fisher": self.fisher}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.fisher = state["fisher"]


def _presets(domain: str) -> dict[str, Any]:
    """acktr's batch shape and returns on ``domain`` (its optimizer's own settings left out)."""
    return {key: value for key, value in STEP_PRESETS[domain].items() if not key.startswith("optimizer.")}


ENTRY = OptimizerEntry(
    name="diag-ng",
    summary="diagonal true-Fisher natural gradient in ACKTR's KL trust region (an example plug-in)",
    config_type=DiagonalNaturalGradientConfig,
    build=DiagonalNaturalGradient,
    presets={domain: _presets(domain) for domain in ("classic", "mujoco")},
)
"""What the entry point ``diag-ng`` registers: its name is taken from the entry point."""
