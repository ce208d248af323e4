"""``acktr`` and ``kfac``: one K-FAC step, two ways of sizing it.

Both optimizers share every stage (DESIGN §3–§5):

1. one forward of the objective, captured; every ``stats_every`` updates the
   Fisher statistics are taken from that same forward (sampled or exact mode);
2. the gradient of the loss; during the first ``cold_start`` updates the step
   is plain momentum SGD on it (clipped to ``max_grad_norm``) at ``cold_lr``,
   while the statistics accumulate (OpenAI Baselines' cold start);
3. afterwards the direction Δ = (F̂ + λI)⁻¹∇ from the K-FAC blocks, with their
   decompositions refreshed every ``refresh_every`` updates;
4. the step size: ``acktr`` scales Δ by ν = min(1, √(δ / (η² Δᵀ∇))), the KL
   trust region of Wu et al. 2017 as OpenAI Baselines computes it; ``kfac``
   keeps ν = 1 and adapts λ by Levenberg–Marquardt instead (Martens & Grosse);
5. momentum as in Baselines' K-FAC: v ← μ v + νΔ, θ ← θ − η (1 − μ) v.

Nothing non-finite reaches the parameters: a non-finite gradient, direction or
failed decomposition leaves θ and v unchanged and reports ``skipped = 1``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import torch
from torch import nn

from algorithms.kfac import KroneckerFisher
from algorithms.kfac.damped_inverse import PRECONDITIONERS
from algorithms.kfac.engine import FISHER_MODES
from algorithms.objective import ActorCriticObjective
from algorithms.optim.base import lr_at
from algorithms.optim.lm_damping import LevenbergMarquardt


@dataclass
class KroneckerConfig:
    """Settings shared by ``acktr`` and ``kfac``; defaults are ACKTR's Atari ones (DESIGN §5)."""

    lr: float = 0.25
    lr_schedule: str = field(default="linear", metadata={"choices": ("constant", "linear")})
    momentum: float = 0.9
    damping: float = 0.01
    """λ added to the Kronecker-factored Fisher (initial value for ``kfac``)."""
    fisher: str = field(default="sampled", metadata={"choices": FISHER_MODES})
    """``sampled``: one model sample per datum (true Fisher, ACKTR); ``exact``: closed-form expectation."""
    preconditioner: str = field(default="eigen", metadata={"choices": PRECONDITIONERS})
    stat_decay: float = 0.99
    stats_every: int = 1
    """T_stats: updates between factor statistics."""
    refresh_every: int = 10
    """T_inv: updates between decompositions of the factors."""
    cold_start: int = 10
    """Updates of plain momentum SGD at ``cold_lr`` while the first statistics accumulate."""
    cold_lr: float = 0.25
    max_grad_norm: float = 0.5
    """Global-norm clip of the cold-start gradient; 0 disables it."""


@dataclass
class ACKTRConfig(KroneckerConfig):
    kl_clip: float = 0.001
    """δ: the trust region bounds η²ν² Δᵀ∇ (Baselines' quadratic KL estimate) by δ."""


@dataclass
class KFACConfig(KroneckerConfig):
    damping: float = 1.0
    cold_start: int = 0
    lm_every: int = 5
    """T₁: updates between Levenberg–Marquardt adaptations of λ."""
    damping_min: float = 0.01
    """λ stays ≥ ACKTR's fixed damping: with no trust region, ρ on the RL surrogate stays
    near 1, λ fell to 2e-4 and CartPole-v1's policy collapsed (seed 0, λ_min 1e-4)."""
    damping_max: float = 1e4


def _dot(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(xs, ys, strict=True))


def _global_norm(tensors: list[torch.Tensor]) -> float:
    """‖concat(tensors)‖₂; NaN or inf when any entry is (or when it overflows: also a skip)."""
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors))))


class KroneckerOptimizer:
    """The ``acktr`` (trust region) and ``kfac`` (Levenberg–Marquardt) optimizers; see the module doc."""

    def __init__(self, model: nn.Module, config: ACKTRConfig | KFACConfig, total_updates: int) -> None:
        self.config = config
        self.total_updates = total_updates
        self.curvature = KroneckerFisher(model, config.fisher, config.preconditioner, config.stat_decay)
        self.params = self.curvature.params
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.lm = (
            LevenbergMarquardt(config.damping, config.lm_every, config.damping_min, config.damping_max)
            if isinstance(config, KFACConfig)
            else None
        )
        self.updates = 0
        self._cold = True

    @property
    def damping(self) -> float:
        return self.lm.damping if self.lm is not None else self.config.damping

    def _natural_direction(
        self, grads: list[torch.Tensor], lr: float
    ) -> tuple[list[torch.Tensor], float, float]:
        """(νΔ, ν, η²ν²Δᵀ∇); raises ``_Skip`` when the curvature cannot be used."""
        cfg = self.config
        refresh_due = (self.updates - cfg.cold_start) % cfg.refresh_every == 0
        if (refresh_due or not self.curvature.ready) and not self.curvature.refresh(self.damping):
            raise _Skip
        direction = self.curvature.precondition(grads, self.damping)
        quadratic = float(_dot(direction, grads)) * lr * lr
        if not math.isfinite(quadratic):
            raise _Skip
        scale = 1.0
        if isinstance(cfg, ACKTRConfig) and quadratic > cfg.kl_clip:
            scale = math.sqrt(cfg.kl_clip / quadratic)
        return [d * scale for d in direction], scale, quadratic * scale * scale

    def step(self, objective: ActorCriticObjective) -> dict[str, float]:
        cfg = self.config
        start = time.perf_counter()
        collect = self.updates % cfg.stats_every == 0
        with self.curvature.capturing(collect):
            loss, sampled_nll = objective.evaluate()
        stats_ok = True
        if collect:
            dist, values = objective.outputs
            stats_ok = self.curvature.update_statistics(sampled_nll, dist, values)
        grads = list(torch.autograd.grad(loss, self.params))
        grad_norm = _global_norm(grads)
        lr = lr_at(cfg.lr, cfg.lr_schedule, self.updates, self.total_updates)
        cold = self.updates < cfg.cold_start or self.curvature.stat_updates == 0
        if self._cold and not cold:
            self.velocity = [torch.zeros_like(p) for p in self.params]  # Baselines: separate optimizers
        self._cold = cold
        scale, kl_estimate, rho = 1.0, math.nan, math.nan
        skipped = not math.isfinite(grad_norm)
        if not skipped:
            try:
                if cold:
                    clip = cfg.max_grad_norm / grad_norm if 0 < cfg.max_grad_norm < grad_norm else 1.0
                    step, step_size = [g * clip for g in grads], cfg.cold_lr
                else:
                    step, scale, kl_estimate = self._natural_direction(grads, lr)
                    step_size = lr * (1.0 - cfg.momentum)
                skipped = not math.isfinite(_global_norm(step))
            except _Skip:
                skipped = True
        if not skipped:
            rho = self._apply(step, step_size, grads, loss, objective, measure=not cold)
        self.updates += 1
        timings = self.curvature.pop_timings()
        return {
            "lr": lr,
            "damping": self.damping,
            "grad_norm": grad_norm,
            "step_scale": scale,
            "kl_estimate": kl_estimate,
            "rho": rho,
            "cold_start": float(cold),
            "stats_skipped": float(not stats_ok),
            "skipped": float(skipped),
            "time_stats_s": timings["stats"],
            "time_refresh_s": timings["refresh"],
            "time_precondition_s": timings["precondition"],
            "time_step_s": time.perf_counter() - start,
        }

    @torch.no_grad()
    def _apply(
        self,
        step: list[torch.Tensor],
        step_size: float,
        grads: list[torch.Tensor],
        loss: torch.Tensor,
        objective: ActorCriticObjective,
        measure: bool,
    ) -> float:
        """Momentum update of the parameters; with LM due, adapt λ and return ρ (else NaN)."""
        momentum = self.config.momentum
        torch._foreach_mul_(self.velocity, momentum)
        torch._foreach_add_(self.velocity, step)
        delta = torch._foreach_mul(self.velocity, -step_size)
        torch._foreach_add_(self.params, delta)
        if self.lm is None or not measure or not self.lm.due(self.updates):
            return math.nan
        predicted = float(_dot(grads, delta) + 0.5 * self.curvature.quadratic_form(delta))
        actual = float(objective.loss_at_current_params() - loss.detach())
        return self.lm.adapt(actual, predicted)


class _Skip(Exception):
    """The curvature could not produce a usable direction this update."""
