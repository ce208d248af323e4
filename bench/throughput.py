"""Atari training throughput, measured in one process on one machine.

Four rates in env steps (agent steps, 4 frames each) per second, in this order:

1. ``raw_env``: ale-py's ``AtariVectorEnv`` alone, stepped with random actions
   with the same preprocessing the harness uses (the ceiling for any agent);
2. ``sync_a2c_bound``: the ceiling for synchronous A2C with the Nature CNN on this
   machine: the env step, the acting forward and the update's forward + backward,
   each timed alone, summed over one rollout (no Python, no bookkeeping);
3. ``acktr_bench_sgd``: ``acktr-bench``'s A2C (``sgd``) training, paper protocol;
4. ``sb3_a2c``: Stable-Baselines3's A2C (``CnnPolicy``, its defaults) on
   ``<Game>NoFrameskip-v4`` with its Atari wrappers and a 4-frame stack.

Run: ``python -m bench.throughput --game Pong --num-envs 16 --steps 20000``.
This is a benchmark, not a test: it prints a table and, with ``--json``, the numbers.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import torch

from algorithms.config import EnvConfig
from algorithms.envs import make_env
from algorithms.nets import build_actor_critic
from algorithms.presets import resolve_config
from algorithms.training import train
from bench.provenance import write_measurement
from bench.synthetic import synthetic_objective


def raw_env_rate(env_id: str, num_envs: int, steps: int) -> float:
    with make_env(env_id, num_envs, seed=0, config=EnvConfig()) as env:
        env.reset()
        rng = np.random.default_rng(0)
        n_actions = env.action_space.n
        actions = [rng.integers(0, n_actions, num_envs) for _ in range(steps // num_envs)]
        start = time.perf_counter()
        for action in actions:
            env.step(action)
        return len(actions) * num_envs / (time.perf_counter() - start)


def _mean_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def sync_a2c_bound(env_id: str, num_envs: int, raw_rate: float, repeats: int = 20) -> float:
    """Batch size ÷ (n_steps · (env step + acting forward) + bootstrap forward + update fwd/bwd)."""
    config = resolve_config(env_id, "sgd", 1, seed=0, device="cpu", num_envs=num_envs)
    n_steps = config.rollout.n_steps
    with make_env(env_id, num_envs, seed=0, config=config.env) as env:
        model = build_actor_critic(env.observation_space, env.action_space, config.domain, config.net)
        obs = torch.from_numpy(env.reset())
    objective = synthetic_objective(model, obs.repeat(n_steps, 1, 1, 1))

    @torch.no_grad()
    def act() -> None:
        model(obs)[0].sample()

    def update() -> None:
        model.zero_grad(set_to_none=True)
        objective.evaluate()[0].backward()

    acting = _mean_seconds(act, repeats)
    rollout = n_steps * (num_envs / raw_rate + acting) + acting  # + the bootstrap forward
    return n_steps * num_envs / (rollout + _mean_seconds(update, repeats))


class _LastRow:
    row: dict[str, float] = {}

    def log_update(self, row: dict[str, float]) -> None:
        self.row = row

    def log_episodes(self, env_steps: int, episodes: list) -> None:
        pass


def harness_rate(env_id: str, num_envs: int, steps: int) -> float:
    config = resolve_config(env_id, "sgd", steps, seed=0, device="cpu", num_envs=num_envs)
    logger = _LastRow()
    train(config, logger)
    return logger.row["env_steps"] / logger.row["wall_time_s"]


def sb3_rate(game: str, num_envs: int, steps: int) -> float:
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_atari_env
    from stable_baselines3.common.vec_env import VecFrameStack

    env = VecFrameStack(make_atari_env(f"{game}NoFrameskip-v4", n_envs=num_envs, seed=0), n_stack=4)
    model = A2C("CnnPolicy", env, device="cpu", seed=0, verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=steps)
    rate = model.num_timesteps / (time.perf_counter() - start)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--game", default="Pong", help="Atari game, CamelCase as in ALE ids")
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20_000, help="env steps per measurement")
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    env_id = f"ALE/{args.game}-v5"
    raw = raw_env_rate(env_id, args.num_envs, args.steps)
    rates = {
        "raw_env": raw,
        "sync_a2c_bound": sync_a2c_bound(env_id, args.num_envs, raw),
        "acktr_bench_sgd": harness_rate(env_id, args.num_envs, args.steps),
    }
    if not args.skip_sb3:
        rates["sb3_a2c"] = sb3_rate(args.game, args.num_envs, args.steps)
    threads = torch.get_num_threads()
    print(f"{args.game}, {args.num_envs} envs, {args.steps} env steps each, CPU, torch threads {threads}")
    for name, rate in rates.items():
        print(f"  {name:<16} {rate:8.0f} env steps/s")
    ours = rates["acktr_bench_sgd"]
    print(f"  ours / raw env   {ours / rates['raw_env']:.2f}")
    print(f"  ours / bound     {ours / rates['sync_a2c_bound']:.2f}")
    if "sb3_a2c" in rates:
        print(f"  ours / SB3 A2C   {ours / rates['sb3_a2c']:.2f}")
    if args.json:
        write_measurement(args.json, {"args": vars(args), "rates": rates})


if __name__ == "__main__":
    main()
