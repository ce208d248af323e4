"""Actor-critic networks: the Nature CNN with a shared trunk (Atari) and separate MLPs.

Every model maps a batch of observations [N, *obs_shape] to
``(distribution over actions, value [N])``. ``model.policy`` alone maps
observations to the distribution, which is what exact-Fisher code differentiates.
Initialization follows OpenAI Baselines / Stable-Baselines3: orthogonal weights
with gain √2 in hidden layers, 0.01 for the policy output and 1 for the value
output, zero biases.
"""

from __future__ import annotations

import math

import gymnasium as gym
import torch
from torch import nn
from torch.distributions import Categorical, Distribution, Independent, Normal

from algorithms.config import NetConfig

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU}


def _init(layer: nn.Module, gain: float) -> nn.Module:
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class CategoricalHead(nn.Module):
    """Linear logits [N, n_actions] → ``Categorical``; log_prob takes integer actions [N]."""

    def __init__(self, in_features: int, n_actions: int) -> None:
        super().__init__()
        self.logits = _init(nn.Linear(in_features, n_actions), 0.01)

    def forward(self, features: torch.Tensor) -> Distribution:
        return Categorical(logits=self.logits(features), validate_args=False)


class DiagGaussianHead(nn.Module):
    """Linear mean [N, d] and a state-independent log σ [d] → ``Independent(Normal, 1)``.

    log_prob takes actions [N, d] and sums over d.
    """

    def __init__(self, in_features: int, action_dim: int, log_std_init: float) -> None:
        super().__init__()
        self.mean = _init(nn.Linear(in_features, action_dim), 0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))

    def forward(self, features: torch.Tensor) -> Distribution:
        mean = self.mean(features)
        std = self.log_std.exp().expand_as(mean)
        return Independent(Normal(mean, std, validate_args=False), 1, validate_args=False)


def detached(dist: Distribution) -> Distribution:
    """The same distribution with its parameters cut from the graph (a fixed π_old)."""
    if isinstance(dist, Categorical):
        return Categorical(logits=dist.logits.detach(), validate_args=False)
    base = dist.base_dist
    normal = Normal(base.loc.detach(), base.scale.detach(), validate_args=False)
    return Independent(normal, 1, validate_args=False)


def distribution_head(in_features: int, action_space: gym.Space, log_std_init: float) -> nn.Module:
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(in_features, int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return DiagGaussianHead(in_features, action_space.shape[0], log_std_init)
    raise ValueError(f"unsupported action space {action_space}; accepted: Discrete, 1-D Box")


def mlp(in_features: int, hidden: tuple[int, ...], activation: str) -> nn.Sequential:
    """Hidden layers only: Linear → activation, repeated; output width ``hidden[-1]``."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [_init(nn.Linear(in_features, width), math.sqrt(2)), _ACTIVATIONS[activation]()]
        in_features = width
    return nn.Sequential(*layers)


class NatureCNN(nn.Sequential):
    """Mnih et al. 2015: uint8 frames [N, 4, 84, 84] scaled to [0, 1] → features [N, 512].

    Convolutions run in channels-last layout (weights and activations), which oneDNN executes
    faster on CPU (docs/optimizers.md); shapes and values are unchanged.
    """

    def __init__(self, in_channels: int = 4) -> None:
        gain = math.sqrt(2)
        super().__init__(
            _init(nn.Conv2d(in_channels, 32, 8, stride=4), gain),
            nn.ReLU(),
            _init(nn.Conv2d(32, 64, 4, stride=2), gain),
            nn.ReLU(),
            _init(nn.Conv2d(64, 64, 3, stride=1), gain),
            nn.ReLU(),
            nn.Flatten(),
            _init(nn.Linear(64 * 7 * 7, 512), gain),
            nn.ReLU(),
        )
        self.to(memory_format=torch.channels_last)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        frames = obs.to(torch.float32, memory_format=torch.channels_last).mul_(1.0 / 255.0)
        return super().forward(frames)


class Policy(nn.Module):
    """Observations → action distribution: ``head(body(obs))``."""

    def __init__(self, body: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = head

    def forward(self, obs: torch.Tensor) -> Distribution:
        return self.head(self.body(obs))


class SharedActorCritic(nn.Module):
    """One trunk feeds both heads; ``policy`` owns the trunk, the value head reads its features."""

    def __init__(self, trunk: nn.Module, width: int, action_space: gym.Space) -> None:
        super().__init__()
        self.policy = Policy(trunk, distribution_head(width, action_space, 0.0))
        self.value_head = _init(nn.Linear(width, 1), 1.0)

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        features = self.policy.body(obs)
        return self.policy.head(features), self.value_head(features).squeeze(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value_head(self.policy.body(obs)).squeeze(-1)


class SeparateActorCritic(nn.Module):
    """Independent policy and value MLPs (no shared parameters)."""

    def __init__(self, obs_dim: int, action_space: gym.Space, config: NetConfig) -> None:
        super().__init__()
        width = config.hidden[-1]
        self.policy = Policy(
            mlp(obs_dim, config.hidden, config.activation),
            distribution_head(width, action_space, config.log_std_init),
        )
        self.critic = nn.Sequential(
            mlp(obs_dim, config.hidden, config.activation), _init(nn.Linear(width, 1), 1.0)
        )

    def forward(self, obs: torch.Tensor) -> tuple[Distribution, torch.Tensor]:
        return self.policy(obs), self.value(obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)


ActorCritic = SharedActorCritic | SeparateActorCritic


def build_actor_critic(
    observation_space: gym.Space, action_space: gym.Space, domain: str, config: NetConfig
) -> ActorCritic:
    """Nature CNN with a shared trunk for Atari; separate MLPs for flat observations."""
    if domain == "atari":
        return SharedActorCritic(NatureCNN(observation_space.shape[0]), 512, action_space)
    if len(observation_space.shape) != 1:
        raise ValueError(f"MLP nets need flat observations, got shape {observation_space.shape}")
    return SeparateActorCritic(observation_space.shape[0], action_space, config)
