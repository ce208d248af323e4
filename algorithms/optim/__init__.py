"""The optimizer registry: the names the CLI, suites and reports use, and each one's presets.

``sgd`` is the first-order A2C baseline. The four curvature optimizers are the 2 × 2 of
curvature {``kronecker``, ``exact``} × damping rule {``fixed``, ``levenberg-marquardt``}
(:mod:`algorithms.optim.settings`). Their presets are written once per axis: what all four
share on a domain (:data:`STEP_PRESETS`), then what the curvature adds
(:data:`CURVATURE_PRESETS`); the damping rules take their settings' defaults on every domain.
So two of them that differ in one axis differ, on every domain, in that axis's settings alone.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from algorithms.errors import ConfigError, did_you_mean
from algorithms.optim import plugins
from algorithms.optim.base import Optimizer, OptimizerEntry
from algorithms.optim.first_order import FirstOrder, FirstOrderConfig
from algorithms.optim.natural_gradient import build_natural_gradient
from algorithms.optim.settings import AXES, SETTINGS

# sgd on Atari: TensorFlow 1's RMSprop, as the A2C and ACKTR papers and the RL Zoo's Atari A2C
# (Stable-Baselines3's RMSpropTFLike); elsewhere PyTorch's, as Stable-Baselines3's A2C.
FIRST_ORDER_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {"optimizer.rule": "rmsprop-tf"},
    "mujoco": {},
    "classic": {},
}

# What acktr, kfac, ng and lm share on each domain: ACKTR's settings (Wu et al. 2017 and OpenAI
# Baselines). Atari: 32 envs × 20 steps, statistics every 2 updates, the defaults of
# StepSettings (lr 0.25 linearly decayed, δ 0.001, 10 cold updates). MuJoCo: 2500 transitions per
# update with GAE(0.97); Baselines' acktr_cont.py policy (lr 0.03 adapted toward a mean KL of
# 0.002 per update, refresh every 2, 1 cold update at lr·(1 − 0.9), δ 0.01, no gradient clip) and
# its separate critic (the value_* defaults) on the plain squared error. Classic control:
# Stable-Baselines' ACKTR defaults (20 steps, value coefficient 0.25) with the RL Zoo's 8 envs
# and δ 0.01 (why not Atari's 0.001: docs/optimizers.md, Presets).
STEP_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {"rollout.num_envs": 32, "rollout.n_steps": 20, "optimizer.stats_every": 2},
    "mujoco": {
        "rollout.num_envs": 10,
        "rollout.n_steps": 250,
        "rollout.gae_lambda": 0.97,
        "loss.value_coef": 1.0,
        "optimizer.lr": 0.03,
        "optimizer.lr_schedule": "constant",
        "optimizer.refresh_every": 2,
        "optimizer.cold_start": 1,
        "optimizer.cold_lr": 0.003,
        "optimizer.max_grad_norm": 0.0,
        "optimizer.kl_clip": 0.01,
        "optimizer.target_kl": 0.002,
        "optimizer.critic": "separate",
    },
    "classic": {
        "rollout.num_envs": 8,
        "rollout.n_steps": 20,
        "loss.value_coef": 0.25,
        "optimizer.kl_clip": 0.01,
    },
}

# What each curvature adds, on the domains where it applies. Kronecker on Atari: every conv
# layer's Ā from 3·dim random patches (TensorFlow K-FAC's patch sub-sampling) and factored
# Tikhonov damping, whose Cholesky refresh of the Nature CNN's 3137² fc factor is about 7 times
# faster than eigh on CPU (docs/timing.md). The exact Fisher is P × P: small nets only.
CURVATURE_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "kronecker": {
        "atari": {"optimizer.patches_per_dim": 3.0, "optimizer.preconditioner": "tikhonov"},
        "mujoco": {},
        "classic": {},
    },
    "exact": {"mujoco": {}, "classic": {}},
}


def _curvature_optimizer(name: str, curvature: str, damping: str, summary: str) -> OptimizerEntry:
    return OptimizerEntry(
        name=name,
        summary=summary,
        config_type=SETTINGS[curvature, damping],
        build=partial(build_natural_gradient, curvature=curvature, damping=damping),
        presets={
            domain: {**STEP_PRESETS[domain], **settings}
            for domain, settings in CURVATURE_PRESETS[curvature].items()
        },
        curvature=curvature,
        damping=damping,
    )


OPTIMIZERS: dict[str, OptimizerEntry] = {
    "sgd": OptimizerEntry(
        name="sgd",
        summary="first-order A2C baseline (RMSprop as Stable-Baselines3's A2C; sgd, momentum, adam)",
        config_type=FirstOrderConfig,
        build=FirstOrder,
        presets=FIRST_ORDER_PRESETS,
    ),
    "acktr": _curvature_optimizer(
        "acktr", "kronecker", "fixed", "K-FAC natural gradient in a KL trust region (Wu et al. 2017)"
    ),
    "kfac": _curvature_optimizer(
        "kfac",
        "kronecker",
        "levenberg-marquardt",
        "acktr with Levenberg-Marquardt damping instead of a fixed λ",
    ),
    "ng": _curvature_optimizer(
        "ng", "exact", "fixed", "acktr with the exact dense Fisher instead of K-FAC's; small nets"
    ),
    "lm": _curvature_optimizer(
        "lm", "exact", "levenberg-marquardt", "ng with Levenberg-Marquardt damping; small nets"
    ),
}


class UnknownOptimizer(ConfigError):
    """A name that is no built-in, registered or ``MODULE:CLASS`` optimizer."""


def plugin_optimizers() -> dict[str, OptimizerEntry]:
    """The optimizers installed packages register (:mod:`algorithms.optim.plugins`), by name;
    one named as a built-in is not among them."""
    return {name: entry for name, entry in plugins.registered()[0].items() if name not in OPTIMIZERS}


def refused_plugins() -> dict[str, str]:
    """Why each registered plug-in that does not load is refused, by name."""
    return plugins.registered()[1]


def known_optimizers() -> dict[str, OptimizerEntry]:
    """The built-in optimizers, then the registered plug-ins."""
    return {**OPTIMIZERS, **plugin_optimizers()}


def optimizer_entry(name: str) -> OptimizerEntry:
    """The entry of a built-in or registered optimizer, or of a ``torch.optim.Optimizer`` named
    ``MODULE:CLASS``; raises :class:`ConfigError` of one line naming what is wrong and what is
    accepted."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    entries, refused = plugins.registered()
    if name in entries:
        return entries[name]
    if name in refused:
        raise ConfigError(refused[name])
    if ":" in name:
        return plugins.import_path_entry(name)
    hint = did_you_mean(name, known_optimizers())
    accepted = ", ".join(known_optimizers())
    raise UnknownOptimizer(
        f"unknown optimizer {name!r}{hint}; accepted: {accepted}, or {plugins.IMPORT_PATH_FORM}"
    )


def differing_axis(a: str, b: str) -> str | None:
    """The one axis of the 2 × 2 (``curvature`` or ``damping``) in which optimizers ``a`` and ``b``
    differ; None unless both are our curvature optimizers and differ in exactly one axis."""
    if a not in OPTIMIZERS or b not in OPTIMIZERS:
        return None
    first, second = OPTIMIZERS[a], OPTIMIZERS[b]
    if first.curvature is None or second.curvature is None:
        return None
    differing = [axis for axis in AXES if getattr(first, axis) != getattr(second, axis)]
    return differing[0] if len(differing) == 1 else None


def one_difference_pairs() -> list[tuple[str, str, str]]:
    """(X, Y, axis) for every two curvature optimizers that differ in one axis alone, X holding
    the axis's first value (the Kronecker curvature, the fixed damping)."""
    pairs = []
    for axis, values in AXES.items():
        first, second = list(values)
        for x in OPTIMIZERS.values():
            for y in OPTIMIZERS.values():
                if (getattr(x, axis), getattr(y, axis)) == (first, second) and differing_axis(x.name, y.name):
                    pairs.append((x.name, y.name, axis))
    return pairs


def build_optimizer(name: str, model: nn.Module, config: Any, total_updates: int) -> Optimizer:
    return optimizer_entry(name).build(model, config, total_updates)
