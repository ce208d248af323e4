"""Reference rows from Stable-Baselines3: its A2C and PPO trained on the same env ids and budgets
as our optimizers, through the same runner, writing the same run-directory schema (optimizer
names ``sb3-a2c`` and ``sb3-ppo``), so that a report shows an outside, widely used baseline.

Hyperparameters are SB3's own defaults, read from the installed version's constructors and
recorded in ``config.json``. The env set-up follows the RL Zoo's recipe (Raffin et al.,
rl-baselines3-zoo): Gymnasium's env, one ``Monitor`` per copy (raw episode returns), and on
MuJoCo ``VecNormalize`` with its defaults (observations and rewards). Env copies: A2C steps as
many as our domain preset (8, so its 5-step rollouts make the 40-transition batches of our
``sgd``); PPO steps one, the set-up its defaults (2048 steps, minibatches of 64, 10 epochs)
come from (Schulman et al. 2017, MuJoCo). Atari is not covered: SB3's Atari wrappers differ
from both of our protocols.

A progress row is logged per update (one rollout and SB3's ``train()``; ``progress.csv`` keeps
those ``log.rows`` says, as for our runs), with the columns our harness writes where the quantity
is the same and SB3's ``train/`` statistics under their own names otherwise.
"""

from __future__ import annotations

import inspect
import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from algorithms.config import RETURN_WINDOW, LogConfig, require_positive
from algorithms.envs import Episode, env_domain
from algorithms.errors import ConfigError
from algorithms.presets import DOMAIN_PRESETS, resolve_device
from algorithms.training import RunLogger, TrainResult, progress_columns

ALGORITHMS = {"sb3-a2c": "A2C", "sb3-ppo": "PPO"}
REFERENCE_DOMAINS = ("classic", "mujoco")
POLICY = "MlpPolicy"
_PPO_ENVS = 1
# Constructor arguments that are not hyperparameters (or are set per run).
_NOT_HYPERPARAMETERS = {
    "policy",
    "env",
    "seed",
    "device",
    "verbose",
    "tensorboard_log",
    "stats_window_size",
    "_init_setup_model",
}
# A run has diverged once one of these is not finite (explained_variance is NaN for constant returns).
_LOSSES = ("loss", "policy_loss", "value_loss", "entropy")
# SB3's train/ statistics that our harness logs under another name (entropy is the negated loss).
_RENAMED = {
    "policy_gradient_loss": "policy_loss",
    "learning_rate": "lr",
}


def default_hyperparameters(algorithm: str) -> dict[str, Any]:
    """SB3's defaults for ``algorithm`` (``A2C`` or ``PPO``): every constructor argument with a
    number, text or boolean default, from the installed version."""
    import stable_baselines3

    parameters = inspect.signature(getattr(stable_baselines3, algorithm).__init__).parameters.values()
    return {
        p.name: p.default
        for p in parameters
        if p.name not in _NOT_HYPERPARAMETERS and isinstance(p.default, int | float | str | bool)
    }


@dataclass
class ReferenceConfig:
    """Everything that determines one reference run; ``to_dict`` is its ``config.json``."""

    env_id: str
    optimizer_name: str
    steps: int
    seed: int
    device: str
    domain: str
    num_envs: int
    normalize: bool
    """``VecNormalize`` (observations and rewards, SB3's defaults) around the env copies."""
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    log: LogConfig = field(default_factory=LogConfig)
    """Which updates ``progress.csv`` keeps, as for our own runs (always the default here)."""

    @property
    def algorithm(self) -> str:
        return ALGORITHMS[self.optimizer_name]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "steps": self.steps,
            "seed": self.seed,
            "device": self.device,
            "domain": self.domain,
            "env": {"normalize": self.normalize},
            "rollout": {"num_envs": self.num_envs},
            "optimizer": {
                "name": self.optimizer_name,
                "algorithm": self.algorithm,
                "policy": POLICY,
                **self.hyperparameters,
            },
            "log": asdict(self.log),
        }


def resolve_reference(
    env_id: str,
    name: str,
    steps: int,
    seed: int = 0,
    device: str = "auto",
    num_envs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ReferenceConfig:
    """The config of one reference run; raises :class:`ConfigError` on bad input (a domain SB3's
    references do not cover, settings, which do not apply: they run SB3's defaults)."""
    domain = env_domain(env_id)
    if domain not in REFERENCE_DOMAINS:
        raise ConfigError(
            f"optimizer {name!r} does not apply to {domain} envs such as {env_id!r}; "
            f"it applies to: {', '.join(REFERENCE_DOMAINS)}"
        )
    if overrides:
        raise ConfigError(
            f"settings do not apply to {name!r} (it trains with Stable-Baselines3's defaults): "
            f"{', '.join(overrides)}"
        )
    require_positive("steps", steps)
    default_envs = DOMAIN_PRESETS[domain]["rollout.num_envs"] if name == "sb3-a2c" else _PPO_ENVS
    if num_envs is not None:
        require_positive("num_envs", num_envs)
    return ReferenceConfig(
        env_id=env_id,
        optimizer_name=name,
        steps=int(steps),
        seed=int(seed),
        device=resolve_device(device),
        domain=domain,
        num_envs=num_envs or default_envs,
        normalize=domain == "mujoco",
        hyperparameters=default_hyperparameters(ALGORITHMS[name]),
    )


def _logged_statistics(values: Mapping[str, float]) -> dict[str, float]:
    """SB3's ``train/`` values in our column names where they mean the same."""
    row = {}
    for key, value in values.items():
        if key.startswith("train/"):
            name = key.removeprefix("train/")
            if name == "entropy_loss":
                row["entropy"] = -float(value)
            else:
                row[_RENAMED.get(name, name)] = float(value)
    return row


def _row_callback(logger: RunLogger | None, start: float):
    """An SB3 callback that logs a progress row after every ``train()`` and the episodes that
    ended in its rollout, and notes the first update whose loss is not finite."""
    from stable_baselines3.common.callbacks import BaseCallback

    class RowCallback(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.recent: deque[Episode] = deque(maxlen=RETURN_WINDOW)
            self.finished: list[Episode] = []
            self.episodes = 0
            self.updates = 0
            self.rollout_started = self.rollout_ended = start
            self.pending = False
            self.diverged: str | None = None

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.finished.append(Episode(float(info["episode"]["r"]), int(info["episode"]["l"])))
            return self.diverged is None

        def _on_rollout_start(self) -> None:
            self._log_update()
            self.rollout_started = time.perf_counter()

        def _on_rollout_end(self) -> None:
            self.rollout_ended = time.perf_counter()
            self.pending = True

        def _on_training_end(self) -> None:
            self._log_update()

        def _log_update(self) -> None:
            """The row of the update whose rollout ended last, once its ``train()`` has run."""
            if not self.pending:
                return
            self.pending = False
            now = time.perf_counter()
            self.updates += 1
            self.episodes += len(self.finished)
            self.recent.extend(self.finished)
            statistics = _logged_statistics(self.model.logger.name_to_value)
            row = {
                **progress_columns(
                    self.num_timesteps,
                    self.updates,
                    self.episodes,
                    self.recent,
                    wall_time_s=now - start,
                    rollout_time_s=self.rollout_ended - self.rollout_started,
                    update_time_s=now - self.rollout_ended,
                ),
                **statistics,
            }
            if logger is not None:
                logger.log_episodes(self.num_timesteps, self.finished)
                logger.log_update(row)
            self.finished = []
            bad = [name for name in _LOSSES if not math.isfinite(statistics.get(name, 0.0))]
            if bad:
                self.diverged = f"non-finite {', '.join(bad)} at update {self.updates}"

    return RowCallback()


def train_reference(config: ReferenceConfig, logger: RunLogger | None = None) -> TrainResult:
    """Train SB3's algorithm as ``config`` says, reporting every update to ``logger``; ends
    ``done``, or ``diverged`` once a loss is not finite (the update after such a loss stops the
    run, whether SB3 goes on or fails on the non-finite parameters)."""
    import stable_baselines3
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = make_vec_env(config.env_id, n_envs=config.num_envs, seed=config.seed)
    if config.normalize:
        env = VecNormalize(env)
    algorithm = getattr(stable_baselines3, config.algorithm)
    model = algorithm(
        POLICY, env, seed=config.seed, device=config.device, verbose=0, **config.hyperparameters
    )
    callback = _row_callback(logger, time.perf_counter())
    try:
        model.learn(config.steps, callback=callback, log_interval=None)
    except Exception:
        if callback.diverged is None:
            raise
    finally:
        env.close()
    state = "diverged" if callback.diverged else "done"
    return TrainResult(state, model.num_timesteps, callback.updates, error=callback.diverged)
