"""Everything a run's learning depends on between two updates, taken out and put back: what a
checkpoint holds.

After update u the learning state is the model's parameters, the optimizer's state (running
averages, curvature statistics and decompositions, λ, step sizes, counters), the envs' state
(:meth:`algorithms.envs.BatchedEnv.snapshot`), the observation the next rollout starts from, the
run's counters and last episodes, and torch's random state. Put back into a learner built from
the same config, the updates after u are those the saved run would have made; where the envs
cannot be restored (Atari) they restart (:meth:`algorithms.envs.BatchedEnv.restore`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

from algorithms.config import RETURN_WINDOW
from algorithms.envs import Episode

if TYPE_CHECKING:
    from algorithms.training import Learner

FORMAT = 1
"""Changes when the layout below does; a checkpoint of another format is refused."""


@dataclass
class Counters:
    """Where a run is: updates and env steps done, episodes finished, the training wall time before
    this process (seconds), and the last ``RETURN_WINDOW`` episodes."""

    updates: int = 0
    env_steps: int = 0
    episodes: int = 0
    wall_time_s: float = 0.0
    recent: deque[Episode] = field(default_factory=lambda: deque(maxlen=RETURN_WINDOW))


def capture(learner: Learner, counters: Counters) -> dict[str, Any]:
    """The learning state of ``learner`` after
    ``counters.updates`` updates, as tensors and plain values (``torch.save`` writes it)."""
    random = {"torch": torch.get_rng_state()}
    if learner.collector.device.type == "cuda":
        random["cuda"] = torch.cuda.get_rng_state_all()
    return {
        "format": FORMAT,
        "counters": {
            "updates": counters.updates,
            "env_steps": counters.env_steps,
            "episodes": counters.episodes,
            "wall_time_s": counters.wall_time_s,
            "recent": [(e.raw_return, e.length) for e in counters.recent],
        },
        "model": learner.model.state_dict(),
        "optimizer": learner.optimizer.state_dict(),
        "env": learner.env.snapshot(),
        "observation": learner.collector.observation,
        "random": random,
    }


def restore(learner: Learner, state: dict[str, Any]) -> Counters:
    """Put a :func:`capture` ``state`` back into ``learner``, built from the same config, and return
    its counters. Envs that cannot be restored restart
    (:meth:`algorithms.envs.BatchedEnv.restore`), and the next rollout starts from their first
    observations."""
    if state.get("format") != FORMAT:
        raise ValueError(f"checkpoint format {state.get('format')!r}; this code reads format {FORMAT}")
    learner.model.load_state_dict(state["model"])
    learner.optimizer.load_state_dict(state["optimizer"])
    restarted = learner.env.restore(state["env"])
    observation = state["observation"] if restarted is None else torch.from_numpy(restarted)
    learner.collector.observation = observation.to(learner.collector.device)
    torch.set_rng_state(state["random"]["torch"])
    if "cuda" in state["random"]:
        torch.cuda.set_rng_state_all(state["random"]["cuda"])
    saved = state["counters"]
    return Counters(
        saved["updates"],
        saved["env_steps"],
        saved["episodes"],
        saved["wall_time_s"],
        deque((Episode(r, n) for r, n in saved["recent"]), maxlen=RETURN_WINDOW),
    )
