"""Distribution heads against explicit formulas and torch.distributions; net shapes."""

import math

import gymnasium as gym
import numpy as np
import torch
from torch.distributions import Categorical, Normal

from algorithms.config import NetConfig
from algorithms.nets import CategoricalHead, DiagGaussianHead, build_actor_critic


def test_categorical_head_log_prob_and_entropy():
    torch.manual_seed(0)
    head = CategoricalHead(5, 4)
    features = torch.randn(7, 5)
    dist = head(features)
    logits = head.logits(features)
    log_p = logits - torch.logsumexp(logits, dim=-1, keepdim=True)
    actions = torch.tensor([0, 1, 2, 3, 0, 1, 2])
    assert torch.allclose(dist.log_prob(actions), log_p[torch.arange(7), actions], atol=1e-6)
    assert torch.allclose(dist.entropy(), -(log_p.exp() * log_p).sum(-1), atol=1e-6)
    reference = Categorical(logits=logits)
    assert torch.allclose(dist.log_prob(actions), reference.log_prob(actions))


def test_diag_gaussian_head_log_prob_and_entropy():
    torch.manual_seed(0)
    head = DiagGaussianHead(5, 3, log_std_init=-0.5)
    with torch.no_grad():
        head.log_std.copy_(torch.tensor([-0.5, 0.0, 0.3]))
    features = torch.randn(6, 5)
    dist = head(features)
    mean, log_std = head.mean(features), head.log_std
    actions = torch.randn(6, 3)
    by_hand = (
        -((actions - mean) ** 2) / (2 * torch.exp(2 * log_std)) - log_std - 0.5 * math.log(2 * math.pi)
    ).sum(-1)
    assert torch.allclose(dist.log_prob(actions), by_hand, atol=1e-5)
    entropy_by_hand = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum().expand(6)
    assert torch.allclose(dist.entropy(), entropy_by_hand, atol=1e-6)
    reference = Normal(mean, log_std.exp())
    assert torch.allclose(dist.log_prob(actions), reference.log_prob(actions).sum(-1), atol=1e-6)
    assert dist.sample().shape == (6, 3)


def test_gaussian_std_is_state_independent():
    head = DiagGaussianHead(4, 2, log_std_init=0.0)
    dist = head(torch.randn(10, 4))
    assert torch.allclose(dist.base_dist.scale, torch.ones(10, 2))


def test_nature_cnn_actor_critic_shapes():
    obs_space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    model = build_actor_critic(obs_space, gym.spaces.Discrete(6), "atari", NetConfig())
    obs = torch.randint(0, 256, (3, 4, 84, 84), dtype=torch.uint8)
    dist, value = model(obs)
    assert dist.logits.shape == (3, 6) and value.shape == (3,)
    assert torch.allclose(model.value(obs), value)
    assert torch.allclose(model.policy(obs).logits, dist.logits)


def test_separate_mlps_share_no_parameters():
    model = build_actor_critic(
        gym.spaces.Box(-1, 1, (5,)), gym.spaces.Box(-1, 1, (2,)), "mujoco", NetConfig(hidden=(16, 8))
    )
    policy_ids = {id(p) for p in model.policy.parameters()}
    critic_ids = {id(p) for p in model.critic.parameters()}
    assert not policy_ids & critic_ids
    dist, value = model(torch.randn(4, 5))
    assert dist.mean.shape == (4, 2) and value.shape == (4,)
    widths = [m.out_features for m in model.policy.body if isinstance(m, torch.nn.Linear)]
    assert widths == [16, 8]
