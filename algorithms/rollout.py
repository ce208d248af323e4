"""Synchronous rollout collection into preallocated tensors on the training device."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from algorithms.envs import BatchedEnv
from algorithms.nets import ActorCritic


@dataclass
class Rollout:
    """T steps from N envs. All tensors are [T, N, ...] except ``last_values`` [N].

    ``log_probs`` are those of the acting policy (π_old of the update);
    ``final_values`` are V(final observation) where ``truncated`` is set, else 0.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    final_values: torch.Tensor
    last_values: torch.Tensor


class RolloutCollector:
    """Steps ``env`` with ``model``'s policy for ``n_steps`` per call, reusing its buffers;
    ``observation`` [N, *obs_shape] is where the next call starts."""

    def __init__(self, env: BatchedEnv, model: ActorCritic, n_steps: int, device: torch.device):
        self.env, self.model, self.device = env, model, device
        n = env.num_envs
        first_obs = torch.from_numpy(env.reset())
        action_shape = env.action_space.shape or ()
        action_dtype = torch.int64 if isinstance(env.action_space, gym.spaces.Discrete) else torch.float32

        def zeros(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
            return torch.zeros(shape, dtype=dtype, device=device)

        self.observation = first_obs.to(device)
        self._buffer = Rollout(
            obs=zeros(n_steps, *first_obs.shape, dtype=first_obs.dtype),
            actions=zeros(n_steps, n, *action_shape, dtype=action_dtype),
            log_probs=zeros(n_steps, n),
            values=zeros(n_steps, n),
            rewards=zeros(n_steps, n),
            terminated=zeros(n_steps, n, dtype=torch.bool),
            truncated=zeros(n_steps, n, dtype=torch.bool),
            final_values=zeros(n_steps, n),
            last_values=zeros(n),
        )
        self.n_steps = n_steps

    @torch.no_grad()
    def collect(self) -> Rollout:
        buf = self._buffer
        buf.final_values.zero_()
        for t in range(self.n_steps):
            buf.obs[t].copy_(self.observation)
            dist, value = self.model(self.observation)
            action = dist.sample()
            buf.actions[t].copy_(action)
            buf.log_probs[t].copy_(dist.log_prob(action))
            buf.values[t].copy_(value)
            step = self.env.step(action.cpu().numpy())
            buf.rewards[t].copy_(torch.from_numpy(step.reward))
            buf.terminated[t].copy_(torch.from_numpy(step.terminated))
            buf.truncated[t].copy_(torch.from_numpy(step.truncated))
            if step.final_obs is not None:
                rows = np.flatnonzero(step.truncated)
                final_obs = torch.from_numpy(step.final_obs[rows]).to(self.device)
                buf.final_values[t, torch.from_numpy(rows).to(self.device)] = self.model.value(final_obs)
            self.observation = torch.from_numpy(step.obs).to(self.device)
        buf.last_values.copy_(self.model.value(self.observation))
        return buf
