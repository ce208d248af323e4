"""ACKTR in a training loop of your own: a CleanRL-style, single-file A2C on CartPole-v1 whose
update is acktr-bench's ACKTR step (``algorithms.own_loop.make_optimizer``).

Everything but the step is this file's: the vector env, the net, the rollout, the n-step
returns. Run it with ``python examples/own_loop_acktr.py --seed 0``; it prints the mean return
of the last 100 episodes at the end (and every 10 000 env steps), the number that
``acktr-bench train --env CartPole-v1 --optimizer acktr`` reports as ``return_mean``.
"""

from __future__ import annotations

import argparse
from collections import deque
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical

from algorithms.objective import Forward, Objective
from algorithms.own_loop import make_optimizer

NUM_ENVS, N_STEPS, GAMMA, VALUE_COEF = 8, 20, 0.99, 0.25  # acktr's classic-control batch (acktr-bench list)


def mlp(inputs: int, outputs: int, gain: float) -> nn.Sequential:
    layers = [nn.Linear(inputs, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, outputs)]
    for layer in layers[::2]:
        nn.init.orthogonal_(layer.weight, np.sqrt(2) if layer is not layers[-1] else gain)
        nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class Agent(nn.Module):
    """Separate actor and critic MLPs (64-64, tanh): observations [B, 4] → (π(·|s), V(s) [B])."""

    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        self.actor = mlp(obs_dim, n_actions, gain=0.01)
        self.critic = mlp(obs_dim, 1, gain=1.0)

    def forward(self, obs: torch.Tensor) -> tuple[Categorical, torch.Tensor]:
        return Categorical(logits=self.actor(obs)), self.critic(obs).squeeze(-1)


def n_step_returns(rewards, dones, bootstraps, last_values) -> torch.Tensor:
    """R_t = r_t + γ (1 − done_t) R_{t+1}, with R_T = V(s_T); a truncated episode's last step
    bootstraps from the value of its final observation (``bootstraps``). All [T, N]."""
    returns = torch.zeros_like(rewards)
    following = last_values
    for t in reversed(range(len(rewards))):
        following = rewards[t] + GAMMA * torch.where(dones[t], bootstraps[t], following)
        returns[t] = following
    return returns


def a2c_forward(agent: Agent, observations, actions, returns) -> Callable[[], Forward]:
    """The A2C loss of one batch (observations [B, 4], actions [B], returns [B]) at the agent's
    current parameters: what the optimizer's step runs once per update."""

    def forward() -> Forward:
        dist, values = agent(observations)
        log_probs = dist.log_prob(actions)
        advantages = returns - values.detach()
        loss = -(log_probs * advantages).mean() + VALUE_COEF * (returns - values).pow(2).mean()
        return Forward(loss, dist, log_probs, values)

    return forward


def train(seed: int, steps: int) -> float:
    torch.manual_seed(seed)
    envs = gym.make_vec(
        "CartPole-v1",
        NUM_ENVS,
        vectorization_mode="sync",
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )
    envs = gym.wrappers.vector.RecordEpisodeStatistics(envs)
    agent = Agent(envs.single_observation_space.shape[0], envs.single_action_space.n)
    n_updates = steps // (NUM_ENVS * N_STEPS)
    optimizer = make_optimizer(agent, "acktr", domain="classic", total_updates=n_updates)
    obs, _ = envs.reset(seed=seed)
    recent: deque[float] = deque(maxlen=100)
    for update in range(1, n_updates + 1):
        batch = {name: [] for name in ("obs", "actions", "rewards", "dones", "bootstraps")}
        for _ in range(N_STEPS):
            observation = torch.as_tensor(obs, dtype=torch.float32)
            with torch.no_grad():
                action = agent(observation)[0].sample()
            obs, reward, terminated, truncated, info = envs.step(action.numpy())
            bootstrap = torch.zeros(NUM_ENVS)
            if truncated.any():  # the value of the final observation of a cut-off episode
                final = torch.as_tensor(np.stack(info["final_obs"][truncated]), dtype=torch.float32)
                with torch.no_grad():
                    bootstrap[torch.as_tensor(truncated)] = agent(final)[1]
            if "episode" in info:
                recent.extend(info["episode"]["r"][info["_episode"]].tolist())
            batch["obs"].append(observation)
            batch["actions"].append(action)
            batch["rewards"].append(torch.as_tensor(reward, dtype=torch.float32))
            batch["dones"].append(torch.as_tensor(terminated | truncated))
            batch["bootstraps"].append(bootstrap)
        with torch.no_grad():
            last_values = agent(torch.as_tensor(obs, dtype=torch.float32))[1]
        stacked = {name: torch.stack(values) for name, values in batch.items()}
        returns = n_step_returns(
            stacked["rewards"], stacked["dones"], stacked["bootstraps"], last_values
        ).flatten()
        observations, actions = stacked["obs"].flatten(0, 1), stacked["actions"].flatten()
        optimizer.step(Objective(a2c_forward(agent, observations, actions, returns)))
        if update % max(1, 10_000 // (NUM_ENVS * N_STEPS)) == 0 and recent:
            done_steps = update * NUM_ENVS * N_STEPS
            print(f"{done_steps:>8} env steps: mean return of the last 100 episodes {np.mean(recent):.1f}")
    envs.close()
    return float(np.mean(recent))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    print(f"final: mean return of the last 100 episodes {train(args.seed, args.steps):.1f}")
