"""Batched environments for Atari (ale-py native vector env), MuJoCo v5 and classic control.

Every family is presented through :class:`BatchedEnv`: arrays in, arrays out,
``num_envs`` copies stepped together, automatic reset in the same step. What the
agent trains on (clipped rewards, life-loss cuts, normalized observations) is
kept apart from what is logged (raw, unclipped full-game returns).
"""

from __future__ import annotations

import copy
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import ale_py
import gymnasium as gym
import numpy as np
from ale_py.vector_env import AtariVectorEnv
from gymnasium.vector import AutoresetMode

from algorithms import env_snapshot
from algorithms.config import EnvConfig, require_positive
from algorithms.errors import ConfigError, did_you_mean

gym.register_envs(ale_py)

DOMAINS = ("atari", "mujoco", "classic")
MUJOCO_IDS = (
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "Swimmer-v5",
    "Reacher-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
)
"""The paper's MuJoCo tasks (any Gymnasium MuJoCo v5 id is accepted)."""
CLASSIC_IDS = ("CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCar-v0", "MountainCarContinuous-v0")
_FAMILIES_HELP = (
    "Atari (ALE/<Game>-v5, <Game>NoFrameskip-v4), "
    f"MuJoCo v5 ({', '.join(MUJOCO_IDS)}), classic control ({', '.join(CLASSIC_IDS)})"
)


def _domain_of(env_id: str, entry_point: str) -> str | None:
    if entry_point.startswith("ale_py"):
        return "atari"
    if entry_point.startswith("gymnasium.envs.mujoco") and env_id.endswith("-v5"):
        return "mujoco"
    if entry_point.startswith("gymnasium.envs.classic_control"):
        return "classic"
    return None


def env_domain(env_id: str) -> str:
    """The family of a Gymnasium id: ``atari``, ``mujoco`` or ``classic``.

    Raises :class:`ConfigError` naming the id, the closest supported id and the supported families.
    """
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        spec = None
    domain = _domain_of(env_id, str(spec.entry_point)) if spec is not None else None
    if domain is None:
        supported = [i for i, s in gym.registry.items() if _domain_of(i, str(s.entry_point))]
        hint = did_you_mean(env_id, supported, cutoff=0.8)
        raise ConfigError(f"unknown or unsupported env id {env_id!r}{hint}; supported: {_FAMILIES_HELP}")
    return domain


def continues_exactly(env_id: str) -> bool:
    """Whether ``env_id``'s batched env, restored from a snapshot, continues its episodes in flight
    exactly (Gymnasium's envs) or restarts them (Atari: the native vector env cannot save its
    emulators)."""
    return env_domain(env_id) != "atari"


@dataclass(frozen=True)
class Episode:
    """One finished episode: raw return (game score / unnormalized reward sum) and length in agent steps."""

    raw_return: float
    length: int


@dataclass
class EnvStep:
    """The result of stepping all envs once. Arrays have a leading dimension N = num_envs.

    ``obs`` holds the first observation of the next episode where one ended.
    ``terminated`` cuts the bootstrap (true termination; on Atari also a lost life).
    ``truncated`` marks a time limit: the return bootstraps from ``final_obs``,
    whose rows are valid where ``truncated`` is true (``None`` if no env truncated).
    """

    obs: np.ndarray
    reward: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    final_obs: np.ndarray | None


class EpisodeTracker:
    """Accumulates raw rewards per env and records finished episodes."""

    def __init__(self, num_envs: int) -> None:
        self._returns = np.zeros(num_envs, dtype=np.float64)
        self._lengths = np.zeros(num_envs, dtype=np.int64)
        self._finished: list[Episode] = []

    def add(self, raw_reward: np.ndarray, episode_over: np.ndarray) -> None:
        self._returns += raw_reward
        self._lengths += 1
        for i in np.flatnonzero(episode_over):
            self._finished.append(Episode(float(self._returns[i]), int(self._lengths[i])))
        self._returns[episode_over] = 0.0
        self._lengths[episode_over] = 0

    def pop(self) -> list[Episode]:
        finished, self._finished = self._finished, []
        return finished


class RunningMoments:
    """Running mean and variance of a stream of batches [B, *shape] (the parallel update of Chan et
    al. 1979), started, as OpenAI Baselines' and Stable-Baselines3's ``RunningMeanStd``, at mean
    0, variance 1 and a count of 1e-4."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        self.mean = np.zeros(shape, dtype=np.float64)
        self.var = np.ones(shape, dtype=np.float64)
        self.count = 1e-4

    def update(self, batch: np.ndarray) -> None:
        batch_mean, batch_var, n = batch.mean(axis=0), batch.var(axis=0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + n
        self.mean = self.mean + delta * n / total
        self.var = (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        return {"mean": self.mean.tolist(), "var": self.var.tolist(), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take the moments of a :meth:`state_dict` (its other keys are ignored)."""
        self.mean, self.var = np.asarray(state["mean"]), np.asarray(state["var"])
        self.count = state["count"]


RESTART_SEED_STRIDE = 1_000_003
"""A restarted Atari vector env seeds env i with seed + i + this × (restarts so far): apart from
every earlier start of the run and of the runs of nearby seeds."""

NORMALIZER_EPSILON = 1e-8
"""Added to a running variance before its square root divides (Stable-Baselines3's ``VecNormalize``)."""


class ObsNormalizer:
    """Observations [N, *shape] standardized by their running moments and clipped to ±``clip``."""

    def __init__(self, shape: tuple[int, ...], clip: float) -> None:
        self.moments = RunningMoments(shape)
        self.clip = clip

    def __call__(self, obs: np.ndarray, update: bool) -> np.ndarray:
        """The normalized ``obs`` as float32, after folding them into the moments when ``update``."""
        if update:
            self.moments.update(obs)
        normalized = (obs - self.moments.mean) / np.sqrt(self.moments.var + NORMALIZER_EPSILON)
        return np.clip(normalized, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {**self.moments.state_dict(), "clip": self.clip, "epsilon": NORMALIZER_EPSILON}


class RewardNormalizer:
    """Rewards [N] divided by the running standard deviation of each env's discounted return
    R ← γR + r (reset to 0 when its episode ends) and clipped to ±``clip``: the reward scaling of
    Stable-Baselines3's ``VecNormalize`` (and OpenAI Baselines' before it)."""

    def __init__(self, num_envs: int, gamma: float, clip: float) -> None:
        self.moments = RunningMoments()
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.gamma = gamma
        self.clip = clip

    def __call__(self, reward: np.ndarray, episode_over: np.ndarray) -> np.ndarray:
        """The normalized ``reward`` as float32; the statistics first take this step's returns."""
        self.returns = self.returns * self.gamma + reward
        self.moments.update(self.returns)
        normalized = reward / np.sqrt(self.moments.var + NORMALIZER_EPSILON)
        self.returns[episode_over] = 0.0
        return np.clip(normalized, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict[str, Any]:
        return {
            **self.moments.state_dict(),
            "returns": self.returns.tolist(),
            "gamma": self.gamma,
            "clip": self.clip,
            "epsilon": NORMALIZER_EPSILON,
        }


class BatchedEnv(ABC):
    """``num_envs`` copies of one task, stepped together, reset automatically."""

    num_envs: int
    observation_space: gym.Space
    action_space: gym.Space

    def __init__(self, num_envs: int, seed: int) -> None:
        self.num_envs = num_envs
        self.seed = seed
        self.episodes = EpisodeTracker(num_envs)

    @abstractmethod
    def reset(self) -> np.ndarray:
        """Seeded reset of all envs; returns observations [N, *obs_shape]."""

    @abstractmethod
    def step(self, actions: np.ndarray) -> EnvStep:
        """Step all envs with actions [N] (discrete) or [N, act_dim] (continuous, clipped to bounds)."""

    def pop_episodes(self) -> list[Episode]:
        """Episodes finished since the last call, in the order they ended."""
        return self.episodes.pop()

    def state_dict(self) -> dict[str, Any]:
        """State a trained policy needs at evaluation time (observation statistics)."""
        return {}

    @abstractmethod
    def load_evaluation_state(self, state: dict[str, Any]) -> None:
        """Observe as a trained policy was trained to: with the statistics of :meth:`state_dict`
        ``state``, frozen (evaluation)."""

    @abstractmethod
    def frame(self) -> np.ndarray:
        """What env 0 shows now, RGB [H, W, 3] uint8 (made with ``render=True``)."""

    frames_per_second: float
    """Agent steps per second of real time, for a video of :meth:`frame`."""

    @abstractmethod
    def snapshot(self) -> dict[str, Any]:
        """Everything the next steps depend on, copied: a checkpoint's part."""

    @abstractmethod
    def restore(self, state: dict[str, Any]) -> np.ndarray | None:
        """Continue from a :meth:`snapshot` of an env made the same way. None where the episodes in
        flight continue exactly; else the envs were restarted, their episodes in flight dropped,
        and this is their first observations [N, *obs_shape]."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> BatchedEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AtariEnv(BatchedEnv):
    """ale-py's C++ ``AtariVectorEnv``: frame skip 4 with max-pool, 84×84 grey, 4-frame stack, fire reset.

    The native env is asked for raw rewards and full games; reward clipping and
    the episode-of-life cut are applied here, so logged returns are raw scores of
    whole games (the native ``episodic_life`` option resets the whole game on a
    lost life, which is not the protocol of DQN/A2C/ACKTR).
    """

    def __init__(self, game: str, num_envs: int, seed: int, config: EnvConfig) -> None:
        super().__init__(num_envs, seed)
        sticky = config.protocol == "v5"
        self._env = AtariVectorEnv(
            game,
            num_envs,
            num_threads=min(num_envs, os.cpu_count() or 1),
            repeat_action_probability=0.25 if sticky else 0.0,
            noop_max=0 if sticky else 30,
            max_num_frames_per_episode=config.max_episode_frames,
            episodic_life=False,
            reward_clipping=False,
            autoreset_mode="SameStep",
        )
        self._config = config
        self.observation_space = self._env.single_observation_space
        self.action_space = self._env.single_action_space
        self._lives = np.zeros(num_envs, dtype=np.int64)
        self._restarts = 0

    def reset(self) -> np.ndarray:
        obs, info = self._env.reset(seed=self.seed + RESTART_SEED_STRIDE * self._restarts)
        self._lives = np.asarray(info["lives"], dtype=np.int64)
        self._last_obs = obs
        return obs

    def step(self, actions: np.ndarray) -> EnvStep:
        obs, raw_reward, terminated, truncated, info = self._env.step(actions.astype(np.int32))
        raw_reward = np.asarray(raw_reward, dtype=np.float32)
        game_over = terminated | truncated
        self.episodes.add(raw_reward, game_over)
        lives = np.asarray(info["lives"], dtype=np.int64)
        cut = terminated.copy()
        if self._config.episodic_life:
            cut |= (lives < self._lives) & ~game_over
        self._lives = lives
        reward = np.sign(raw_reward) if self._config.clip_rewards else raw_reward
        final_obs = info["final_obs"] if truncated.any() else None
        self._last_obs = obs
        return EnvStep(obs, reward, cut, truncated.copy(), final_obs)

    frames_per_second = 15.0  # 60 Hz emulator frames, one agent step every 4

    def load_evaluation_state(self, state: dict[str, Any]) -> None:
        """Atari frames are not normalized: nothing to load."""

    def frame(self) -> np.ndarray:
        """The newest 84×84 grey frame of env 0's stack, what the agent sees, enlarged 4× to RGB: the
        native vector env renders nothing else."""
        return np.repeat(np.repeat(self._last_obs[0, -1], 4, axis=0), 4, axis=1)[..., None].repeat(3, axis=2)

    def snapshot(self) -> dict[str, Any]:
        """How often the envs were restarted: the native vector env cannot save its emulators."""
        return {"restarts": self._restarts}

    def restore(self, state: dict[str, Any]) -> np.ndarray:
        """Restarts every game (the emulators' state is not saved), seeded apart from every earlier
        start; the games in flight at the snapshot are dropped unlogged."""
        self._restarts = state["restarts"] + 1
        self.episodes = EpisodeTracker(self.num_envs)
        return self.reset()

    def close(self) -> None:
        self._env.close()


class GymEnv(BatchedEnv):
    """A Gymnasium synchronous vector env (MuJoCo v5, classic control), optionally with observation
    and reward normalization (``gamma``: the reward normalizer's discount)."""

    def __init__(
        self, env_id: str, num_envs: int, seed: int, config: EnvConfig, gamma: float, render: bool = False
    ) -> None:
        super().__init__(num_envs, seed)
        if render and "DISPLAY" not in os.environ:  # headless: MuJoCo through EGL, pygame to memory
            os.environ.setdefault("MUJOCO_GL", "egl")
            os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        self._env = gym.make_vec(
            env_id,
            num_envs=num_envs,
            vectorization_mode="sync",
            vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP},
            render_mode="rgb_array" if render else None,
        )
        self.frames_per_second = float(self._env.envs[0].metadata.get("render_fps", 30))
        self._frozen = False
        self.observation_space = self._env.single_observation_space
        self.action_space = self._env.single_action_space
        shape = self.observation_space.shape
        self._obs_normalizer = ObsNormalizer(shape, config.obs_clip) if config.normalize_obs else None
        self._reward_normalizer = (
            RewardNormalizer(num_envs, gamma, config.reward_clip) if config.normalize_reward else None
        )

    def _observe(self, obs: np.ndarray, update: bool) -> np.ndarray:
        if self._obs_normalizer is None:
            return obs.astype(np.float32)
        return self._obs_normalizer(obs, update and not self._frozen)

    def load_evaluation_state(self, state: dict[str, Any]) -> None:
        if self._obs_normalizer is not None and "obs_normalizer" in state:
            self._obs_normalizer.moments.load_state_dict(state["obs_normalizer"])
        self._frozen = True

    def frame(self) -> np.ndarray:
        return self._env.envs[0].render()

    def reset(self) -> np.ndarray:
        obs, _ = self._env.reset(seed=self.seed)
        return self._observe(obs, update=True)

    def step(self, actions: np.ndarray) -> EnvStep:
        if isinstance(self.action_space, gym.spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        obs, raw_reward, terminated, truncated, info = self._env.step(actions)
        raw_reward = np.asarray(raw_reward, dtype=np.float32)
        episode_over = terminated | truncated
        self.episodes.add(raw_reward, episode_over)
        next_obs = self._observe(obs, update=True)
        reward = raw_reward
        if self._reward_normalizer is not None:
            reward = self._reward_normalizer(raw_reward, episode_over)
        final_obs = None
        if truncated.any():
            final_obs = obs.copy()
            for i in np.flatnonzero(truncated):
                final_obs[i] = info["final_obs"][i]
            final_obs = self._observe(final_obs, update=False)
        return EnvStep(next_obs, reward, terminated, truncated, final_obs)

    _RUNNING = ("episodes", "_obs_normalizer", "_reward_normalizer")
    """The attributes that carry running sums and statistics from step to step."""

    def snapshot(self) -> dict[str, Any]:
        """The episodes' running sums, the normalizers and every env's complete state
        (:mod:`algorithms.env_snapshot`)."""
        running = copy.deepcopy({name: getattr(self, name) for name in self._RUNNING})
        return {**running, "envs": [env_snapshot.snapshot(env) for env in self._env.envs]}

    def restore(self, state: dict[str, Any]) -> None:
        """Every env continues exactly where it was."""
        for name, value in copy.deepcopy({name: state[name] for name in self._RUNNING}).items():
            setattr(self, name, value)
        for env, env_state in zip(self._env.envs, state["envs"], strict=True):
            env_snapshot.restore(env, env_state)
        return None

    def state_dict(self) -> dict[str, Any]:
        state = {}
        if self._obs_normalizer is not None:
            state["obs_normalizer"] = self._obs_normalizer.state_dict()
        if self._reward_normalizer is not None:
            state["reward_normalizer"] = self._reward_normalizer.state_dict()
        return state

    def close(self) -> None:
        self._env.close()


def make_env(
    env_id: str,
    num_envs: int,
    seed: int,
    config: EnvConfig | None = None,
    gamma: float = 0.99,
    render: bool = False,
) -> BatchedEnv:
    """Build ``num_envs`` copies of ``env_id``; env i is seeded with ``seed + i`` on reset.
    ``gamma`` is the discount of the reward normalizer (``config.normalize_reward``); ``render``
    makes :meth:`BatchedEnv.frame` available.

    Raises :class:`ConfigError` for an unknown or unsupported id.
    """
    config = config or EnvConfig()
    require_positive("num_envs", num_envs)
    if env_domain(env_id) == "atari":
        return AtariEnv(gym.spec(env_id).kwargs["game"], num_envs, seed, config)
    return GymEnv(env_id, num_envs, seed, config, gamma, render)
