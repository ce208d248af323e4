"""Per-update cost of each optimizer on one model and batch, as ratios to ``sgd`` in the same run.

One update is ``optimizer.step(objective)`` with every backward it needs. Rounds of
the optimizers alternate, so machine noise hits all of them alike; a round is one
whole period of the K-FAC optimizers (the least common multiple of ``stats_every``
and ``refresh_every`` updates, statistics and decompositions included), so its
mean is the amortized cost. Cold-start updates are run before timing. Batches are
synthetic (random observations, actions sampled from the policy): an update's cost
does not depend on where the data came from.

Run: ``python -m bench.update_cost --model nature-cnn --batch 640``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from algorithms.config import parse_settings as parse_run_settings
from algorithms.nets import ActorCritic, build_actor_critic
from algorithms.objective import ActorCriticObjective
from algorithms.optim import build_optimizer
from algorithms.optim.base import Optimizer
from algorithms.presets import resolve_config
from bench.provenance import write_measurement
from bench.synthetic import synthetic_objective


@dataclass(frozen=True)
class ModelSpec:
    """A benchmark model: the env whose presets configure the optimizers, and its spaces."""

    env_id: str
    domain: str
    observation_space: gym.Space
    action_space: gym.Space


def _vector(size: int) -> gym.spaces.Box:
    return gym.spaces.Box(-np.inf, np.inf, (size,))


# Named family word first. The 64-64 MLPs are the presets' separate tanh policy and value nets
# (P ≈ 11 k on HalfCheetah, 9 k on the two small-net tasks, where ``ng`` and ``lm`` apply).
MODELS = {
    "nature-cnn": ModelSpec(
        "ALE/Pong-v5", "atari", gym.spaces.Box(0, 255, (4, 84, 84), np.uint8), gym.spaces.Discrete(6)
    ),
    "mlp-64-64": ModelSpec("HalfCheetah-v5", "mujoco", _vector(17), gym.spaces.Box(-1, 1, (6,))),
    "mlp-64-64-cartpole": ModelSpec("CartPole-v1", "classic", _vector(4), gym.spaces.Discrete(2)),
    "mlp-64-64-invpendulum": ModelSpec(
        "InvertedPendulum-v5", "mujoco", _vector(4), gym.spaces.Box(-3, 3, (1,))
    ),
}


def synthetic_batch(spec: ModelSpec, batch: int, device: torch.device) -> torch.Tensor:
    """Random observations [batch, *obs_shape]: uint8 frames for Atari, N(0, 1) vectors otherwise."""
    generator = torch.Generator().manual_seed(0)
    shape = (batch, *spec.observation_space.shape)
    if spec.domain == "atari":
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator).to(device)
    return torch.randn(shape, generator=generator).to(device)


@dataclass
class Updater:
    """One optimizer on a model and a synthetic batch, warmed past its cold start.

    ``update`` does one ``optimizer.step(objective)`` (synchronizing CUDA); ``period`` is the
    least common multiple of ``stats_every`` and ``refresh_every`` (1 without them): the
    updates over which every stage has run its share.
    """

    update: Callable[[], None]
    period: int
    model: ActorCritic
    optimizer: Optimizer
    objective: ActorCriticObjective
    synchronize: Callable[[], None]

    @property
    def n_params(self) -> int:
        return trainable_count(self.model)


def trainable_count(model: nn.Module) -> int:
    """P: the number of ``model``'s trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def make_updater(name: str, spec: ModelSpec, batch: int, device: str, settings: dict[str, str]) -> Updater:
    """``name`` with its presets for ``spec`` (then ``settings``) on a batch of ``batch`` samples,
    warmed up past its cold start."""
    config = resolve_config(spec.env_id, name, 10**9, device=device, overrides=settings)
    torch.manual_seed(0)
    model = build_actor_critic(spec.observation_space, spec.action_space, spec.domain, config.net).to(device)
    optimizer = build_optimizer(name, model, config.optimizer, config.total_updates)
    objective = synthetic_objective(model, synthetic_batch(spec, batch, torch.device(device)))
    synchronize = synchronizer(device)

    def update() -> None:
        optimizer.step(objective)
        synchronize()

    warm_up(update, config.optimizer)
    return Updater(update, update_period(config.optimizer), model, optimizer, objective, synchronize)


def synchronizer(device: str) -> Callable[[], None]:
    """Waits for the device's queued work (CUDA); a no-op on the CPU."""
    return torch.cuda.synchronize if device == "cuda" else (lambda: None)


def warm_up(update: Callable[[], None], optimizer_config: Any) -> None:
    """Runs ``update`` past the optimizer's cold start, through its first refresh."""
    for _ in range(getattr(optimizer_config, "cold_start", 0) + 1):
        update()


def update_period(optimizer_config: Any) -> int:
    """Updates over which every stage runs its share: lcm(stats_every, refresh_every), 1 without them."""
    return math.lcm(*(getattr(optimizer_config, key, 1) for key in ("stats_every", "refresh_every")))


def measure(
    names: list[str],
    spec: ModelSpec,
    batch: int,
    device: str,
    rounds: int,
    settings: dict[str, dict[str, str]],
) -> dict[str, list[float]]:
    """Seconds per update of each optimizer, one entry per round."""
    updaters = {name: make_updater(name, spec, batch, device, settings.get(name, {})) for name in names}
    period = math.lcm(*(updater.period for updater in updaters.values()))
    samples: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for name, updater in updaters.items():
            start = time.perf_counter()
            for _ in range(period):
                updater.update()
            samples[name].append((time.perf_counter() - start) / period)
    return samples


def add_timing_arguments(parser: argparse.ArgumentParser, optimizers: str, rounds: int) -> None:
    """The options of every per-update timing benchmark, with these defaults."""
    parser.add_argument(
        "--optimizers", default=optimizers, help="comma-separated registry names; the first is the unit"
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME:KEY=VALUE", help="a setting for one optimizer"
    )
    parser.add_argument("--json", help="also write the measurements, with their provenance, to this file")


def parse_settings(items: list[str]) -> dict[str, dict[str, str]]:
    """``NAME:KEY=VALUE`` items (``--set``) as {optimizer name: {setting: value}}; each ``KEY=VALUE``
    is read as ``acktr-bench train --set`` reads it."""
    settings: dict[str, dict[str, str]] = {}
    for item in items:
        name, _, assignment = item.partition(":")
        settings.setdefault(name, {}).update(parse_run_settings([assignment]))
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(MODELS), default="nature-cnn")
    parser.add_argument("--batch", type=int, default=640)
    add_timing_arguments(parser, optimizers="sgd,acktr", rounds=5)
    args = parser.parse_args()

    settings = parse_settings(args.set)
    names = args.optimizers.split(",")
    samples = measure(names, MODELS[args.model], args.batch, args.device, args.rounds, settings)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"{args.model}, batch {args.batch}, {args.device}, {args.rounds} rounds, torch {torch.__version__}")
    for name in names:
        print(f"  {name:<8} {medians[name] * 1000:9.1f} ms/update   ×{medians[name] / medians[names[0]]:.2f}")
    if args.json:
        write_measurement(args.json, {"args": vars(args), "samples_s": samples, "median_s": medians})


if __name__ == "__main__":
    main()
