"""A trained policy played on fresh envs: its returns, and the frames of its first episode."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch.distributions import Categorical, Distribution, Independent

from algorithms.config import RunConfig
from algorithms.envs import make_env
from algorithms.nets import build_actor_critic

EVALUATION_SEED_OFFSET = 10_000
"""An evaluation's default seed: the run's seed plus this, apart from the seeds its training envs had."""


@dataclass
class Evaluation:
    """Raw returns and lengths (agent steps) of the episodes played, in order."""

    returns: list[float]
    lengths: list[int]


class FrameSink(Protocol):
    """Where the frames of an evaluation's first episode go (a video file, a filmstrip)."""

    def begin(self, frames_per_second: float) -> None:
        """Before the first frame: the env's frames per second of real time."""

    def add(self, frame: np.ndarray) -> None:
        """The next frame, RGB [H, W, 3] uint8."""


def most_likely_action(dist: Distribution) -> torch.Tensor:
    """The mode: the most probable discrete action [N], or a Gaussian's mean [N, d]."""
    if isinstance(dist, Categorical):
        return dist.logits.argmax(-1)
    if isinstance(dist, Independent):
        return dist.base_dist.loc
    raise TypeError(f"no mode for a {type(dist).__name__} policy; accepted: Categorical, diagonal Gaussian")


@torch.no_grad()
def evaluate_policy(
    config: RunConfig,
    policy: dict[str, torch.Tensor],
    env_state: dict[str, Any],
    episodes: int,
    seed: int,
    deterministic: bool = False,
    frames: FrameSink | None = None,
) -> Evaluation:
    """Plays ``episodes`` whole episodes of ``config.env_id`` (same protocol, one env seeded with
    ``seed``, on the CPU) with the model ``policy`` (a ``state_dict`` of the run's net), its
    observations normalized by the training statistics ``env_state`` (frozen). Actions are sampled
    (``torch`` seeded with ``seed``), or the policy's mode when ``deterministic``. ``frames``
    receives each frame of the first episode as it is shown."""
    torch.manual_seed(seed)
    record = frames is not None
    with make_env(config.env_id, 1, seed, config.env, config.rollout.gamma, render=record) as env:
        env.load_evaluation_state(env_state)
        model = build_actor_critic(env.observation_space, env.action_space, config.domain, config.net)
        model.load_state_dict(policy)
        model.eval()
        evaluation = Evaluation([], [])
        obs = torch.from_numpy(env.reset())
        if record:
            frames.begin(env.frames_per_second)
            frames.add(env.frame())
        while len(evaluation.returns) < episodes:
            dist, _ = model(obs)
            action = most_likely_action(dist) if deterministic else dist.sample()
            step = env.step(action.numpy())
            obs = torch.from_numpy(step.obs)
            for episode in env.pop_episodes():
                evaluation.returns.append(episode.raw_return)
                evaluation.lengths.append(episode.length)
            if record and not evaluation.returns:
                frames.add(env.frame())
        return evaluation
