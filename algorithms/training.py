"""The update loop shared by every optimizer: collect, estimate returns, ``optimizer.step``, log,
and now and then save the learning state."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from algorithms import learning_state
from algorithms.config import RunConfig, StopConfig
from algorithms.envs import BatchedEnv, Episode, make_env
from algorithms.fidelity import FidelityProbe, not_measured
from algorithms.learning_state import Counters
from algorithms.nets import ActorCritic, build_actor_critic
from algorithms.objective import ActorCriticObjective
from algorithms.optim import build_optimizer
from algorithms.optim.base import Optimizer
from algorithms.returns import advantages_and_returns
from algorithms.rollout import Rollout, RolloutCollector


class RunLogger(Protocol):
    """Where a run reports; ``bench.results.RunWriter`` writes the public run-directory schema."""

    def log_update(self, row: dict[str, float]) -> None:
        """One row per update; the same keys every time."""

    def log_episodes(self, env_steps: int, episodes: list[Episode]) -> None:
        """Episodes that finished by ``env_steps``, with raw returns."""


class Checkpoints(Protocol):
    """When a run saves its learning state, and where (``bench.checkpoints.RunCheckpoints`` keeps
    them in the run directory)."""

    stop_requested: bool
    """Set when the run should save its state and end (a stop signal arrived)."""

    def due(self) -> bool:
        """Whether to save after the update just done (the period has passed, or a stop was asked)."""

    def save(self, state: dict[str, Any]) -> None:
        """Keep ``state`` (:func:`algorithms.learning_state.capture`) as the run's checkpoint."""


@dataclass
class TrainResult:
    """How a run ended: ``done``, ``diverged`` (with the reason in ``error``), or ``stopped`` on a
    stop request with its checkpoint saved. ``env_state`` is what evaluation needs from the env,
    ``policy`` the model's final parameters (on the CPU; None for a run that keeps none)."""

    state: str
    env_steps: int
    updates: int
    error: str | None = None
    env_state: dict[str, Any] = field(default_factory=dict)
    policy: dict[str, torch.Tensor] | None = None


def _explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    """1 − Var[R − V] / Var[R]; NaN when the returns are constant."""
    var_returns = returns.var()
    return float(1.0 - (returns - values).var() / var_returns) if var_returns > 0 else math.nan


def progress_columns(
    env_steps: int,
    updates: int,
    episodes: int,
    recent: deque[Episode],
    wall_time_s: float,
    rollout_time_s: float,
    update_time_s: float,
) -> dict[str, float]:
    """The columns every ``progress.csv`` row starts with, after ``updates`` updates and
    ``env_steps`` env steps: counts, times in seconds, and the mean raw return and length of the
    ``recent`` episodes (the last ``RETURN_WINDOW``; NaN before the first one ends)."""
    return {
        "env_steps": env_steps,
        "updates": updates,
        "wall_time_s": wall_time_s,
        "episodes": episodes,
        "return_mean": float(np.mean([e.raw_return for e in recent])) if recent else math.nan,
        "length_mean": float(np.mean([e.length for e in recent])) if recent else math.nan,
        "rollout_time_s": rollout_time_s,
        "update_time_s": update_time_s,
        "steps_per_s": env_steps / wall_time_s,
    }


def _stop_reached(recent: deque[Episode], stop: StopConfig) -> bool:
    """Whether the last ``stop.window`` episodes of ``recent`` (all there) reach ``stop.return_mean``."""
    if len(recent) < stop.window:
        return False
    return float(np.mean([e.raw_return for e in list(recent)[-stop.window :]])) >= stop.return_mean


@dataclass
class Learner:
    """What one run trains with: its env, model, optimizer and rollout collector."""

    env: BatchedEnv
    model: ActorCritic
    optimizer: Optimizer
    collector: RolloutCollector


@contextmanager
def learner(config: RunConfig) -> Iterator[Learner]:
    """The run's :class:`Learner`, seeded by ``config.seed``; its env is closed on exit."""
    torch.manual_seed(config.seed)
    device = torch.device(config.device)
    with make_env(
        config.env_id, config.rollout.num_envs, config.seed, config.env, config.rollout.gamma
    ) as env:
        model = build_actor_critic(env.observation_space, env.action_space, config.domain, config.net)
        model.to(device)
        optimizer = build_optimizer(config.optimizer_name, model, config.optimizer, config.total_updates)
        yield Learner(env, model, optimizer, RolloutCollector(env, model, config.rollout.n_steps, device))


def rollout_objective(
    rollout: Rollout, model: ActorCritic, config: RunConfig
) -> tuple[ActorCriticObjective, torch.Tensor]:
    """The actor-critic objective of one rollout (T·N samples), and its returns [T, N]."""
    advantages, returns = advantages_and_returns(
        rollout.rewards,
        rollout.values,
        rollout.terminated,
        rollout.truncated,
        rollout.final_values,
        rollout.last_values,
        config.rollout.gamma,
        config.rollout.gae_lambda,
    )
    objective = ActorCriticObjective(
        model,
        obs=rollout.obs.flatten(0, 1),
        actions=rollout.actions.flatten(0, 1),
        advantages=advantages.flatten(),
        returns=returns.flatten(),
        old_log_probs=rollout.log_probs.flatten(),
        value_coef=config.loss.value_coef,
        entropy_coef=config.loss.entropy_coef,
    )
    return objective, returns


def train(
    config: RunConfig,
    logger: RunLogger | None = None,
    checkpoints: Checkpoints | None = None,
    resume: dict[str, Any] | None = None,
) -> TrainResult:
    """Train one agent as ``config`` says, reporting every update to ``logger``; from the learning
    state ``resume`` (:func:`algorithms.learning_state.capture`) when given, else from the start.

    After each update it saves its learning state to ``checkpoints`` when they say it is due, and
    ends with state ``stopped`` after one saved on a stop request. Stops early with state ``done``
    once ``config.stop`` is met, and with state ``diverged`` when the loss is not finite.
    Exceptions (a broken env, out of memory) propagate; the caller records the run as failed.
    """
    with learner(config) as parts:
        env, model, optimizer = parts.env, parts.model, parts.optimizer
        probe = FidelityProbe(model, config.diagnostics) if config.diagnostics.fidelity_every else None
        counters = learning_state.restore(parts, resume) if resume is not None else Counters()
        start = time.perf_counter() - counters.wall_time_s
        for update in range(counters.updates + 1, config.total_updates + 1):
            tick = time.perf_counter()
            rollout = parts.collector.collect()
            objective, returns = rollout_objective(rollout, model, config)
            rollout_done = time.perf_counter()
            measured = probe is not None and probe.due(update)
            fidelity = probe.before_step(objective) if measured else {}
            stats = optimizer.step(objective)
            if measured:
                fidelity |= probe.after_step(objective)
            elif probe is not None:
                fidelity = not_measured()
            terms = {name: float(value) for name, value in objective.terms.items()}
            update_done = time.perf_counter()

            counters.updates = update
            counters.env_steps += config.batch_size
            counters.wall_time_s = update_done - start
            finished = env.pop_episodes()
            counters.episodes += len(finished)
            counters.recent.extend(finished)
            row = {
                **progress_columns(
                    counters.env_steps,
                    update,
                    counters.episodes,
                    counters.recent,
                    wall_time_s=counters.wall_time_s,
                    rollout_time_s=rollout_done - tick,
                    update_time_s=update_done - rollout_done,
                ),
                **terms,
                "explained_variance": _explained_variance(rollout.values.flatten(), returns.flatten()),
                **stats,
                **fidelity,
            }
            if logger is not None:
                logger.log_episodes(counters.env_steps, finished)
                logger.log_update(row)
            if not math.isfinite(terms["loss"]):
                error = f"non-finite loss ({terms['loss']}) at update {update}"
                return _result("diverged", parts, counters, error)
            if _stop_reached(counters.recent, config.stop):
                return _result("done", parts, counters)
            if checkpoints is not None and checkpoints.due():
                checkpoints.save(learning_state.capture(parts, counters))
                if checkpoints.stop_requested:
                    return _result("stopped", parts, counters)
        return _result("done", parts, counters)


def _result(state: str, parts: Learner, counters: Counters, error: str | None = None) -> TrainResult:
    return TrainResult(
        state,
        counters.env_steps,
        counters.updates,
        error=error,
        env_state=parts.env.state_dict(),
        policy={name: tensor.detach().cpu().clone() for name, tensor in parts.model.state_dict().items()},
    )
