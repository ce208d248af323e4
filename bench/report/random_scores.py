"""Measures the mean raw return of a uniformly random policy on the classic-control and MuJoCo
tasks, the lower reference of their normalized scores (:mod:`bench.report.normalization`).

Each task runs ``EPISODES`` whole episodes of ``action_space.sample()`` in the Gymnasium env
(seeded, so the file is reproducible) and the result is written with its provenance to
``bench/report/random_scores.json``, which the reports read.

Run: ``python -m bench.report.random_scores``.
"""

from __future__ import annotations

import statistics
from pathlib import Path

import gymnasium as gym

from algorithms.envs import MUJOCO_IDS
from bench.provenance import provenance
from bench.results import write_json

TASKS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", *MUJOCO_IDS)
EPISODES = 100
PATH = Path(__file__).with_name("random_scores.json")


def random_policy_returns(env_id: str, episodes: int, seed: int = 0) -> list[float]:
    """Raw returns of ``episodes`` whole episodes of uniformly random actions."""
    env = gym.make(env_id)
    env.action_space.seed(seed)
    returns = []
    for episode in range(episodes):
        env.reset(seed=seed + episode)
        total, ended = 0.0, False
        while not ended:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            ended = terminated or truncated
        returns.append(total)
    env.close()
    return returns


def main() -> None:
    scores = {}
    for env_id in TASKS:
        returns = random_policy_returns(env_id, EPISODES)
        scores[env_id] = {"mean": statistics.fmean(returns), "std": statistics.stdev(returns)}
        print(f"{env_id:<28} {scores[env_id]['mean']:10.2f} ± {scores[env_id]['std']:.2f}", flush=True)
    write_json(PATH, {"episodes": EPISODES, "scores": scores, "provenance": provenance()})


if __name__ == "__main__":
    main()
