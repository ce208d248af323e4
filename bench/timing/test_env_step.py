"""One step of each env family's vector env, with a fixed batch of random actions."""

import numpy as np

from algorithms.envs import make_env
from algorithms.presets import resolve_config
from bench.timing.cases import EnvCase


def test_env_step(timing, env_case: EnvCase):
    case = env_case
    config = resolve_config(case.env_id, "sgd", 10**9, device="cpu")
    with make_env(case.env_id, case.num_envs, 0, config.env) as env:
        env.reset()
        env.action_space.seed(0)
        actions = np.stack([env.action_space.sample() for _ in range(case.num_envs)])
        info = {"benchmark": "env-step", "env": case.env_id, "family": case.family, "num_envs": case.num_envs}
        timing.run(lambda: env.step(actions), {**info, "device": "cpu"})
