"""The optimizer registry: names used by the CLI, suites and reports (DESIGN §3)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from algorithms.config import ConfigError
from algorithms.optim.base import Optimizer
from algorithms.optim.first_order import FirstOrder, FirstOrderConfig
from algorithms.optim.natural_gradient import (
    ACKTRConfig,
    KFACConfig,
    LMConfig,
    NaturalGradientOptimizer,
    NGConfig,
    build_acktr,
)


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


# Settings shared by acktr and kfac. Batch shapes of the ACKTR paper and its reference code
# (DESIGN §5): Atari 32 envs × 20 steps; MuJoCo 2500 transitions per update with GAE(0.97);
# classic control as Stable-Baselines' ACKTR defaults (20 steps, value coefficient 0.25) with
# the RL Zoo's 8 envs and no entropy bonus. Atari statistics: every conv layer's Ā from 3·dim
# random patches (TensorFlow K-FAC's patch sub-sampling; all 640·|T| patches cost 94 GFLOP,
# 2.6 times the update's own forward and backward) and statistics every 2 updates; together
# they take an acktr update of the Nature CNN at batch 640 from 4.6 to 1.87 times the cost of
# an RMSprop update on a 2-core CPU (``python -m bench.update_cost``, median of 3 runs).
KRONECKER_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {
        "rollout.num_envs": 32,
        "rollout.n_steps": 20,
        "optimizer.patches_per_dim": 3.0,
        "optimizer.stats_every": 2,
    },
    "mujoco": {"rollout.num_envs": 10, "rollout.n_steps": 250, "rollout.gae_lambda": 0.97},
    "classic": {"rollout.num_envs": 8, "rollout.n_steps": 20, "loss.value_coef": 0.25},
}

# The trust region's settings beyond the defaults, shared by acktr and ng. MuJoCo: the policy of
# OpenAI Baselines' acktr_cont.py (lr 0.03 adapted toward a mean KL of 0.002 per update,
# refresh every 2, 1 cold update at lr·(1 − 0.9), its default KL clip 0.01, no gradient clip).
# Classic control: KL clip 0.01 (with 0.001 acktr did not reach 475 on CartPole-v1 in 100k
# steps on seeds 0–2; with 0.01 it did by 54k and 58k on seeds 0 and 1).
TRUST_REGION_SETTINGS: dict[str, dict[str, Any]] = {
    "mujoco": {
        "optimizer.lr": 0.03,
        "optimizer.lr_schedule": "constant",
        "optimizer.refresh_every": 2,
        "optimizer.cold_start": 1,
        "optimizer.cold_lr": 0.003,
        "optimizer.max_grad_norm": 0.0,
        "optimizer.kl_clip": 0.01,
        "optimizer.target_kl": 0.002,
    },
    "classic": {"optimizer.kl_clip": 0.01},
}

# acktr's own settings. Atari: factored Tikhonov damping, whose Cholesky refresh of the Nature
# CNN's 3137² fc factor costs about 0.5 s on a 2-core CPU against 3.3 s for eigh (DESIGN §4).
# MuJoCo: Baselines' separate critic with its own K-FAC (the value_* defaults), trained on the
# plain squared error.
ACKTR_SETTINGS: dict[str, dict[str, Any]] = {
    "atari": {"optimizer.preconditioner": "tikhonov"},
    "mujoco": {"optimizer.critic": "separate", "loss.value_coef": 1.0},
    "classic": {},
}

# ng and lm build a P×P Fisher: small nets only (classic control and MuJoCo MLPs), with the
# batch shapes of acktr and kfac. The exact Fisher is joint over policy and critic, so on
# MuJoCo ng is acktr with ``optimizer.critic=joint`` up to the curvature.
DENSE_DOMAINS = ("mujoco", "classic")

OPTIMIZERS: dict[str, OptimizerEntry] = {
    "sgd": OptimizerEntry(
        name="sgd",
        summary="first-order A2C baseline (TF-style RMSprop by default; sgd, momentum, adam)",
        config_type=FirstOrderConfig,
        build=FirstOrder,
        presets={"atari": {}, "mujoco": {}, "classic": {}},
    ),
    "acktr": OptimizerEntry(
        name="acktr",
        summary="K-FAC natural gradient in a KL trust region, with momentum (Wu et al. 2017)",
        config_type=ACKTRConfig,
        build=build_acktr,
        presets={
            domain: {**shared, **TRUST_REGION_SETTINGS.get(domain, {}), **ACKTR_SETTINGS[domain]}
            for domain, shared in KRONECKER_PRESETS.items()
        },
    ),
    "kfac": OptimizerEntry(
        name="kfac",
        summary="K-FAC with Levenberg-Marquardt adaptive damping and momentum (Martens & Grosse 2015)",
        config_type=KFACConfig,
        build=NaturalGradientOptimizer,
        presets=KRONECKER_PRESETS,
    ),
    "ng": OptimizerEntry(
        name="ng",
        summary="exact natural gradient (dense Fisher, Cholesky) in acktr's KL trust region; small nets",
        config_type=NGConfig,
        build=NaturalGradientOptimizer,
        presets={
            domain: {**KRONECKER_PRESETS[domain], **TRUST_REGION_SETTINGS[domain]} for domain in DENSE_DOMAINS
        },
    ),
    "lm": OptimizerEntry(
        name="lm",
        summary="exact natural gradient with kfac's Levenberg-Marquardt adaptive damping; small nets",
        config_type=LMConfig,
        build=NaturalGradientOptimizer,
        presets={domain: KRONECKER_PRESETS[domain] for domain in DENSE_DOMAINS},
    ),
}


def optimizer_entry(name: str) -> OptimizerEntry:
    """The registry entry for ``name``; raises :class:`ConfigError` listing the accepted names."""
    if name not in OPTIMIZERS:
        raise ConfigError(f"unknown optimizer {name!r}; accepted: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name]


def build_optimizer(name: str, model: nn.Module, config: Any, total_updates: int) -> Optimizer:
    return optimizer_entry(name).build(model, config, total_updates)
