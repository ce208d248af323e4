"""``acktr``, ``kfac``, ``ng`` and ``lm``: one natural-gradient step, two curvatures, two step rules.

All four share every stage (DESIGN §3–§5):

1. one forward of the objective, captured; every ``stats_every`` updates the
   curvature statistics are taken from that same forward;
2. the gradient of the loss; during the first ``cold_start`` updates the step
   is plain momentum SGD on it (clipped to ``max_grad_norm``) at ``cold_lr``,
   while the statistics accumulate (OpenAI Baselines' cold start);
3. afterwards the direction Δ = (F̂ + λI)⁻¹∇, with the curvature's decompositions
   refreshed every ``refresh_every`` updates. F̂ is K-FAC's block-diagonal
   Kronecker approximation (``acktr``, ``kfac``) or the exact, dense Fisher
   (``ng``, ``lm``; small nets);
4. the step size: ``acktr`` and ``ng`` scale Δ by ν = min(1, √(δ / (η² Δᵀ∇))),
   the KL trust region of Wu et al. 2017 as OpenAI Baselines computes it;
   ``kfac`` and ``lm`` keep ν = 1 and adapt λ by Levenberg–Marquardt instead
   (Martens & Grosse 2015);
5. momentum as in Baselines' K-FAC: v ← μ v + νΔ, θ ← θ − η (1 − μ) v.

So ``ng`` and ``acktr`` differ only in the curvature, and ``ng`` and ``lm`` only
in the damping rule. Nothing non-finite reaches the parameters: a non-finite
gradient, direction or failed decomposition leaves θ and v unchanged and reports
``skipped = 1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import nn
from torch.distributions import Distribution

from algorithms.config import DEFAULT_MAX_PARAMS, ConfigError
from algorithms.dense_fisher import DenseFisher
from algorithms.kfac import KroneckerFisher
from algorithms.kfac.damped_inverse import PRECONDITIONERS
from algorithms.kfac.engine import FISHER_MODES
from algorithms.nets import detached
from algorithms.objective import ActorCriticObjective
from algorithms.optim.base import Optimizer, lr_at
from algorithms.optim.lm_damping import LevenbergMarquardt


@dataclass
class NaturalGradientConfig:
    """Settings every curvature-based optimizer shares; defaults are ACKTR's Atari ones (DESIGN §5)."""

    lr: float = 0.25
    lr_schedule: str = field(default="linear", metadata={"choices": ("constant", "linear")})
    momentum: float = 0.9
    damping: float = 0.01
    """λ added to the Fisher (the initial value where Levenberg–Marquardt adapts it)."""
    stat_decay: float = 0.99
    stats_every: int = 1
    """T_stats: updates between curvature statistics."""
    refresh_every: int = 10
    """T_inv: updates between decompositions of the curvature."""
    cold_start: int = 10
    """Updates of plain momentum SGD at ``cold_lr`` while the first statistics accumulate."""
    cold_lr: float = 0.25
    max_grad_norm: float = 0.5
    """Global-norm clip of the cold-start gradient; 0 disables it."""
    weight_decay: float = 0.0
    """L2 coefficient: adds wd·θ to the gradient and wd to the damping (its exact curvature)."""


@dataclass
class KroneckerConfig(NaturalGradientConfig):
    """The K-FAC curvature's own settings (``acktr``, ``kfac``)."""

    fisher: str = field(default="sampled", metadata={"choices": FISHER_MODES})
    """``sampled``: one model sample per datum (true Fisher, ACKTR); ``exact``: closed-form expectation."""
    preconditioner: str = field(default="eigen", metadata={"choices": PRECONDITIONERS})
    patches_per_dim: float = 0.0
    """k > 0: each Conv2d Ā from ⌈k·dim Ā⌉ random patches of the batch (TF K-FAC uses 3); 0: all."""


@dataclass
class DenseConfig(NaturalGradientConfig):
    """The exact dense Fisher's own settings (``ng``, ``lm``)."""

    max_params: int = DEFAULT_MAX_PARAMS
    """Largest net (trainable parameters) whose P×P Fisher is built."""


@dataclass
class TrustRegionSettings:
    """The KL trust region of ``acktr`` and ``ng``."""

    kl_clip: float = 0.001
    """δ: the trust region bounds η²ν² Δᵀ∇ (Baselines' quadratic KL estimate) by δ."""
    target_kl: float = 0.0
    """> 0: after each update lr ← lr / 1.5 if the realized mean KL(π_old ‖ π_new) > 2·target,
    lr ← lr · 1.5 if < target / 2, within [1e-8, 1] (Baselines' MuJoCo policy: 0.002); the
    schedule is then ignored. 0 keeps the schedule."""


@dataclass
class LevenbergMarquardtSettings:
    """Levenberg–Marquardt adaptation of λ for ``kfac`` and ``lm`` (listed first among the bases,
    so that its ``damping`` and ``cold_start`` defaults win)."""

    damping: float = 1.0
    cold_start: int = 0
    lm_every: int = 5
    """T₁: updates between Levenberg–Marquardt adaptations of λ."""
    damping_min: float = 0.01
    """λ stays ≥ ACKTR's fixed damping: with no trust region, ρ on the RL surrogate stays
    near 1, λ fell to 2e-4 and CartPole-v1's policy collapsed (seed 0, λ_min 1e-4)."""
    damping_max: float = 1e4


@dataclass
class ACKTRConfig(KroneckerConfig, TrustRegionSettings):
    critic: str = field(default="joint", metadata={"choices": ("joint", "separate")})
    """``joint``: one K-FAC over policy and critic (the joint Fisher; needed for a shared
    trunk); ``separate``: the critic net gets its own ACKTR with the ``value_*`` settings."""
    value_lr: float = 0.001
    value_kl_clip: float = 0.3
    value_damping: float = 0.1
    value_stat_decay: float = 0.95
    value_cold_start: int = 50
    value_weight_decay: float = 3e-4
    value_iterations: int = 25
    """Critic updates per batch, each a fresh forward on the same batch."""


@dataclass
class KFACConfig(LevenbergMarquardtSettings, KroneckerConfig):
    pass


@dataclass
class NGConfig(DenseConfig, TrustRegionSettings):
    pass


@dataclass
class LMConfig(LevenbergMarquardtSettings, DenseConfig):
    pass


def _dot(xs: list[torch.Tensor], ys: list[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(xs, ys, strict=True))


def _global_norm(tensors: list[torch.Tensor]) -> float:
    """‖concat(tensors)‖₂; NaN or inf when any entry is (or when it overflows: also a skip)."""
    return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors))))


class NaturalGradientOptimizer:
    """``acktr`` and ``ng`` (trust region), ``kfac`` and ``lm`` (Levenberg–Marquardt); see the module doc.

    The curvature is K-FAC's for a :class:`KroneckerConfig`, the exact dense Fisher for a
    :class:`DenseConfig`; everything else is the same code.
    """

    def __init__(self, model: nn.Module, config: NaturalGradientConfig, total_updates: int) -> None:
        self.config = config
        self.total_updates = total_updates
        if isinstance(config, KroneckerConfig):
            self.curvature = KroneckerFisher(
                model, config.fisher, config.preconditioner, config.stat_decay, config.patches_per_dim
            )
        else:
            self.curvature = DenseFisher(model, config.stat_decay, config.max_params)
        self.params = self.curvature.params
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.lm = (
            LevenbergMarquardt(config.damping, config.lm_every, config.damping_min, config.damping_max)
            if isinstance(config, LevenbergMarquardtSettings)
            else None
        )
        self.updates = 0
        self._cold = True
        self.lr = config.lr
        """The step size of ``target_kl`` adaptation (unused otherwise)."""

    @property
    def damping(self) -> float:
        """λ used by the preconditioner: the fixed or LM-adapted damping plus the weight decay."""
        return (self.lm.damping if self.lm is not None else self.config.damping) + self.config.weight_decay

    def _natural_direction(
        self, grads: list[torch.Tensor], lr: float
    ) -> tuple[list[torch.Tensor], float, float]:
        """(νΔ, ν, η²ν²Δᵀ∇); raises ``_Skip`` when the curvature cannot be used."""
        cfg = self.config
        refresh_due = (self.updates - cfg.cold_start) % cfg.refresh_every == 0
        if (refresh_due or self.curvature.needs_refresh(self.damping)) and not self.curvature.refresh(
            self.damping
        ):
            raise _Skip
        direction = self.curvature.precondition(grads, self.damping)
        quadratic = float(_dot(direction, grads)) * lr * lr
        if not math.isfinite(quadratic):
            raise _Skip
        scale = 1.0
        if isinstance(cfg, TrustRegionSettings) and quadratic > cfg.kl_clip:
            scale = math.sqrt(cfg.kl_clip / quadratic)
        return [d * scale for d in direction], scale, quadratic * scale * scale

    def step(self, objective: ActorCriticObjective) -> dict[str, float]:
        cfg = self.config
        collect = self.updates % cfg.stats_every == 0
        with self.curvature.capturing(collect):
            loss, sampled_nll = objective.evaluate()
        stats_ok = True
        if collect:
            dist, values = objective.outputs
            stats_ok = self.curvature.update_statistics(sampled_nll, dist, values)
        grads = list(torch.autograd.grad(loss, self.params))
        if cfg.weight_decay:
            torch._foreach_add_(grads, [p.detach() for p in self.params], alpha=cfg.weight_decay)
        grad_norm = _global_norm(grads)
        adaptive = isinstance(cfg, TrustRegionSettings) and cfg.target_kl > 0
        lr = self.lr if adaptive else lr_at(cfg.lr, cfg.lr_schedule, self.updates, self.total_updates)
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
                kl_realized = self._adapt_lr(old_policy, objective)
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

    @torch.no_grad()
    def _adapt_lr(self, old_policy: Distribution, objective: ActorCriticObjective) -> float:
        """Baselines' MuJoCo step-size rule toward ``target_kl``; returns the realized mean KL."""
        target = self.config.target_kl
        kl = objective.realized_kl(old_policy)
        if kl > 2 * target:
            self.lr = max(self.lr / 1.5, 1e-8)
        elif kl < target / 2:
            self.lr = min(self.lr * 1.5, 1.0)
        return kl


class SeparateCriticACKTR:
    """ACKTR for separate policy and value nets, each with its own K-FAC (Wu et al. 2017, MuJoCo).

    The policy takes one step per batch with the main settings; the critic then takes
    ``value_iterations`` steps on the same batch with the ``value_*`` settings (OpenAI
    Baselines' value function: lr 0.001, KL clip 0.3, damping 0.1, stat decay 0.95,
    50 cold updates, weight decay 3e-4, 25 iterations). Critic stats are logged with a
    ``value_`` prefix, from its last iteration.
    """

    def __init__(self, model: nn.Module, config: ACKTRConfig, total_updates: int) -> None:
        critic_config = replace(
            config,
            lr=config.value_lr,
            lr_schedule="constant",
            kl_clip=config.value_kl_clip,
            damping=config.value_damping,
            stat_decay=config.value_stat_decay,
            cold_start=config.value_cold_start,
            cold_lr=config.value_lr * (1 - config.momentum),
            max_grad_norm=0.0,
            weight_decay=config.value_weight_decay,
            target_kl=0.0,
        )
        self.policy = NaturalGradientOptimizer(model.policy, config, total_updates)
        self.critic = NaturalGradientOptimizer(
            model.critic, critic_config, total_updates * config.value_iterations
        )
        self.iterations = config.value_iterations

    def step(self, objective: ActorCriticObjective) -> dict[str, float]:
        stats = self.policy.step(objective)
        for _ in range(self.iterations):
            critic_stats = self.critic.step(objective)
        return {**stats, **{f"value_{key}": value for key, value in critic_stats.items()}}


def build_acktr(model: nn.Module, config: ACKTRConfig, total_updates: int) -> Optimizer:
    """``acktr`` as ``config.critic`` asks: one joint K-FAC, or separate policy and critic ones."""
    if config.critic == "joint":
        return NaturalGradientOptimizer(model, config, total_updates)
    if not hasattr(model, "critic"):
        raise ConfigError(
            "bad value 'separate' for optimizer.critic: this model's policy and critic share a trunk; "
            "accepted here: joint"
        )
    return SeparateCriticACKTR(model, config, total_updates)


class _Skip(Exception):
    """The curvature could not produce a usable direction this update."""
