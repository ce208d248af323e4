"""Resolving a run's full config: section defaults → domain preset → optimizer preset → user overrides."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from algorithms.config import (
    EnvConfig,
    LossConfig,
    NetConfig,
    RolloutConfig,
    RunConfig,
    apply_overrides,
    validate,
)
from algorithms.envs import env_domain
from algorithms.errors import ConfigError
from algorithms.optim import optimizer_entry

# A2C settings of OpenAI Baselines / Stable-Baselines3, for every optimizer: 16 envs × 5 steps on
# Atari with entropy bonus 0.01; the RL Zoo's CartPole/MuJoCo A2C drop the bonus. MuJoCo
# normalizes observations and rewards as the RL Zoo's VecNormalize does.
DOMAIN_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {
        "rollout.num_envs": 16,
        "rollout.n_steps": 5,
        "loss.value_coef": 0.5,
        "loss.entropy_coef": 0.01,
    },
    "mujoco": {
        "env.normalize_obs": True,
        "env.normalize_reward": True,
        "rollout.num_envs": 8,
        "rollout.n_steps": 5,
        "loss.entropy_coef": 0.0,
    },
    "classic": {
        "rollout.num_envs": 8,
        "rollout.n_steps": 5,
        "loss.entropy_coef": 0.0,
    },
}


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"bad device {device!r}; accepted: auto, cpu, cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("bad device 'cuda': no CUDA device is available; accepted here: auto, cpu")
    return device


def resolve_config(
    env_id: str,
    optimizer: str,
    steps: int,
    seed: int = 0,
    device: str = "auto",
    num_envs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig:
    """The complete config of one run; raises :class:`ConfigError` on any bad input."""
    domain = env_domain(env_id)
    entry = optimizer_entry(optimizer)
    if domain not in entry.presets:
        raise ConfigError(
            f"optimizer {optimizer!r} does not apply to {domain} envs such as {env_id!r}; "
            f"it applies to: {', '.join(entry.presets)}"
        )
    config = RunConfig(
        env_id=env_id,
        optimizer_name=optimizer,
        steps=int(steps),
        seed=int(seed),
        device=resolve_device(device),
        domain=domain,
        env=EnvConfig(),
        rollout=RolloutConfig(),
        loss=LossConfig(),
        net=NetConfig(),
        optimizer=entry.config_type(),
    )
    apply_overrides(config, DOMAIN_PRESETS[domain])
    apply_overrides(config, entry.presets[domain])
    if num_envs is not None:
        apply_overrides(config, {"rollout.num_envs": num_envs})
    apply_overrides(config, overrides or {})
    validate(config)
    return config
