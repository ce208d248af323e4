"""``acktr``, ``kfac``, ``ng`` and ``lm``: one natural-gradient step composed of a curvature, a damping
rule and the KL trust region.

Every update:

1. one forward of the objective, captured; every ``stats_every`` updates the curvature's
   statistics come from that same forward (:class:`algorithms.curvature.Curvature`);
2. the gradient of the loss; during the first ``cold_start`` updates the step is plain momentum
   SGD on it (clipped to ``max_grad_norm``) at ``cold_lr`` while the statistics accumulate
   (OpenAI Baselines' cold start);
3. afterwards the direction Δ = (F̂ + λI)⁻¹∇, the decompositions refreshed every
   ``refresh_every`` updates; F̂ is K-FAC's Kronecker blocks (``acktr``, ``kfac``) or the exact
   dense Fisher (``ng``, ``lm``), λ fixed (``acktr``, ``ng``) or adapted by Levenberg–Marquardt
   (``kfac``, ``lm``; :mod:`algorithms.optim.damping`);
4. the trust region scales Δ by ν (:mod:`algorithms.optim.trust_region`);
5. momentum as in Baselines' K-FAC: v ← μ v + νΔ, θ ← θ − η (1 − μ) v.

Nothing non-finite reaches the parameters: a non-finite gradient, direction or failed
decomposition leaves θ and v unchanged and reports ``skipped = 1``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from algorithms.curvature import Curvature, DenseFisher, KroneckerFisher
from algorithms.errors import ConfigError
from algorithms.nets import detached
from algorithms.objective import Objective
from algorithms.optim.base import Optimizer, lr_at
from algorithms.optim.damping import DampingRule, FixedDamping, LevenbergMarquardt
from algorithms.optim.settings import StepSettings
from algorithms.optim.trust_region import TrustRegion

CURVATURES: dict[str, Callable[[nn.Module, StepSettings], Curvature]] = {
    "kronecker": lambda module, settings: KroneckerFisher(
        module, settings.fisher, settings.preconditioner, settings.stat_decay, settings.patches_per_dim
    ),
    "exact": lambda module, settings: DenseFisher(module, settings.stat_decay, settings.max_params),
}
"""Each curvature, built over a module from the settings of its optimizer."""

DAMPING_RULES: dict[str, Callable[[StepSettings], DampingRule]] = {
    "fixed": lambda settings: FixedDamping(settings.damping),
    "levenberg-marquardt": lambda settings: LevenbergMarquardt(
        settings.damping, settings.lm_every, settings.damping_min, settings.damping_max
    ),
}


def _dot(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(xs, ys, strict=True))


def _global_norm(tensors: list[torch.Tensor]) -> float:
    """‖concat(tensors)‖₂; NaN or inf when any entry is (or when it overflows: also a skip)."""
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors))))


class NaturalGradientOptimizer:
    """The step of the module doc over ``curvature.params``, with ``settings``' schedule."""

    def __init__(
        self,
        settings: StepSettings,
        total_updates: int,
        curvature: Curvature,
        damping_rule: DampingRule,
        trust_region: TrustRegion,
    ) -> None:
        self.settings = settings
        self.total_updates = total_updates
        self.curvature = curvature
        self.damping_rule = damping_rule
        self.trust_region = trust_region
        self.params = curvature.params
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.updates = 0
        self._cold = True

    @property
    def damping(self) -> float:
        """λ used by the preconditioner: the damping rule's plus the weight decay."""
        return self.damping_rule.damping + self.settings.weight_decay

    def _natural_direction(
        self, grads: list[torch.Tensor], lr: float
    ) -> tuple[list[torch.Tensor], float, float]:
        """(νΔ, ν, η²ν²Δᵀ∇); raises ``_Skip`` when the curvature cannot be used."""
        refresh_due = (self.updates - self.settings.cold_start) % self.settings.refresh_every == 0
        if (refresh_due or self.curvature.needs_refresh(self.damping)) and not self.curvature.refresh(
            self.damping
        ):
            raise _Skip
        direction = self.curvature.precondition(grads, self.damping)
        quadratic = float(_dot(direction, grads)) * lr * lr
        if not math.isfinite(quadratic):
            raise _Skip
        scale = self.trust_region.scale(quadratic)
        return [d * scale for d in direction], scale, quadratic * scale * scale

    def step(self, objective: Objective) -> dict[str, float]:
        cfg = self.settings
        collect = self.updates % cfg.stats_every == 0
        with self.curvature.capturing(collect):
            loss, sampled_nll = objective.evaluate()
        stats_ok = True
        if collect:
            stats_ok = self.curvature.update_statistics(sampled_nll, objective.outputs)
        grads = list(torch.autograd.grad(loss, self.params))
        if cfg.weight_decay:
            torch._foreach_add_(grads, [p.detach() for p in self.params], alpha=cfg.weight_decay)
        grad_norm = _global_norm(grads)
        adaptive = self.trust_region.adapts_lr
        lr = (
            self.trust_region.lr
            if adaptive
            else lr_at(cfg.lr, cfg.lr_schedule, self.updates, self.total_updates)
        )
        old_policy = detached(objective.outputs[0]) if adaptive else None
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
                else:  # a finite gradient (checked above) can still give a non-finite direction
                    step, scale, kl_estimate = self._natural_direction(grads, lr)
                    step_size = lr * (1.0 - cfg.momentum)
                    skipped = not math.isfinite(_global_norm(step))
            except _Skip:
                skipped = True
        kl_realized = math.nan
        if not skipped:
            rho = self._apply(step, step_size, grads, loss, objective, measure=not cold)
            if old_policy is not None:
                kl_realized = objective.realized_kl(old_policy)
                self.trust_region.adapt_lr(kl_realized)
        self.updates += 1
        timings = self.curvature.pop_timings()
        return {
            "lr": lr,
            "damping": self.damping,
            "grad_norm": grad_norm,
            "step_scale": scale,
            "kl_estimate": kl_estimate,
            "kl_realized": kl_realized,
            "rho": rho,
            "cold_start": float(cold),
            "stats_skipped": float(not stats_ok),
            "skipped": float(skipped),
            "stats_time_s": timings["stats"],
            "refresh_time_s": timings["refresh"],
            "precondition_time_s": timings["precondition"],
        }

    def state_dict(self) -> dict[str, Any]:
        """Counters, momentum, the curvature's statistics and decompositions, λ and the adapted step
        size."""
        return {
            "updates": self.updates,
            "cold": self._cold,
            "velocity": self.velocity,
            "curvature": self.curvature.state_dict(),
            "damping": self.damping_rule.damping,
            "trust_region_lr": self.trust_region.lr,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates, self._cold = state["updates"], state["cold"]
        self.velocity = [v.to(p.device) for v, p in zip(state["velocity"], self.params, strict=True)]
        self.curvature.load_state_dict(state["curvature"])
        self.damping_rule.damping = state["damping"]
        self.trust_region.lr = state["trust_region_lr"]

    @torch.no_grad()
    def _apply(
        self,
        step: list[torch.Tensor],
        step_size: float,
        grads: list[torch.Tensor],
        loss: torch.Tensor,
        objective: Objective,
        measure: bool,
    ) -> float:
        """Momentum update of the parameters; where the damping rule measures this update, adapt λ
        and return ρ (else NaN)."""
        torch._foreach_mul_(self.velocity, self.settings.momentum)
        torch._foreach_add_(self.velocity, step)
        delta = torch._foreach_mul(self.velocity, -step_size)
        torch._foreach_add_(self.params, delta)
        if not measure or not self.damping_rule.measures(self.updates):
            return math.nan
        predicted = float(_dot(grads, delta) + 0.5 * self.curvature.quadratic_form(delta))
        actual = float(objective.loss_at_current_params() - loss.detach())
        return self.damping_rule.adapt(actual, predicted)


class SeparateCritic:
    """Separate policy and value nets, each with its own optimizer of the same curvature (Wu et al.
    2017, MuJoCo; OpenAI Baselines' ``acktr_cont``).

    The policy takes one step per batch with the main settings and damping rule; the critic then
    takes ``value_iterations`` steps on the same batch with the ``value_*`` settings, a fixed
    damping ``value_damping`` and a trust region ``value_kl_clip``. Critic stats are logged with
    a ``value_`` prefix, from its last iteration.
    """

    def __init__(self, policy: NaturalGradientOptimizer, critic: NaturalGradientOptimizer, iterations: int):
        self.policy, self.critic, self.iterations = policy, critic, iterations

    def step(self, objective: Objective) -> dict[str, float]:
        stats = self.policy.step(objective)
        for _ in range(self.iterations):
            critic_stats = self.critic.step(objective)
        return {**stats, **{f"value_{key}": value for key, value in critic_stats.items()}}

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "critic": self.critic.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.critic.load_state_dict(state["critic"])


def critic_settings(settings: StepSettings) -> StepSettings:
    """The separate critic's schedule: ``settings`` with the ``value_*`` ones in their place."""
    return replace(
        settings,
        lr=settings.value_lr,
        lr_schedule="constant",
        kl_clip=settings.value_kl_clip,
        stat_decay=settings.value_stat_decay,
        cold_start=settings.value_cold_start,
        cold_lr=settings.value_lr * (1 - settings.momentum),
        max_grad_norm=0.0,
        weight_decay=settings.value_weight_decay,
        target_kl=0.0,
    )


def build_natural_gradient(
    model: nn.Module, settings: StepSettings, total_updates: int, *, curvature: str, damping: str
) -> Optimizer:
    """The optimizer of ``curvature`` (a key of :data:`CURVATURES`) and ``damping`` (of
    :data:`DAMPING_RULES`) for ``model``: one over all its parameters, or a :class:`SeparateCritic`
    as ``settings.critic`` asks."""

    def optimizer(module: nn.Module, step: StepSettings, rule: DampingRule, updates: int):
        return NaturalGradientOptimizer(
            step,
            updates,
            CURVATURES[curvature](module, step),
            rule,
            TrustRegion(step.kl_clip, step.target_kl, step.lr),
        )

    if settings.critic == "joint":
        return optimizer(model, settings, DAMPING_RULES[damping](settings), total_updates)
    if not hasattr(model, "critic"):
        raise ConfigError(
            "bad value 'separate' for optimizer.critic: this model's policy and critic share a trunk; "
            "accepted here: joint"
        )
    iterations = settings.value_iterations
    return SeparateCritic(
        optimizer(model.policy, settings, DAMPING_RULES[damping](settings), total_updates),
        optimizer(
            model.critic,
            critic_settings(settings),
            FixedDamping(settings.value_damping),
            total_updates * iterations,
        ),
        iterations,
    )


class _Skip(Exception):
    """The curvature could not produce a usable direction this update."""
