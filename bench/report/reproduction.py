"""Published numbers beside ours: the ACKTR paper's Atari table (Wu et al. 2017, Table 1, final
episode rewards of ACKTR and A2C, and the episode at which each first reaches human level) and,
for MuJoCo, its 1 M-step curves and the RL Zoo's benchmark, each with its source, version and
budget."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from bench.report.loading import Sweep
from bench.report.normalization import atari_game
from bench.report.scores import WINDOW
from bench.results import first_reaching

# game: (ACKTR, A2C)
PAPER_FINAL_REWARD = {
    "BeamRider": (13581.4, 8148.1),
    "Breakout": (735.7, 581.6),
    "Pong": (20.9, 19.9),
    "Qbert": (23151.5, 15967.4),
    "Seaquest": (1776.0, 1754.0),
    "SpaceInvaders": (19723.0, 1757.2),
}


@dataclass(frozen=True)
class HumanLevel:
    """A game's human-level score and the episode at which the paper's methods first reach it,
    keyed by our optimizer that stands for each (``acktr`` for ACKTR, ``sgd`` for A2C)."""

    score: float
    paper_episode: dict[str, int]


# Wu et al. 2017, Table 1: human level (the human score of Mnih et al. 2015) and the first
# episode at which ACKTR and A2C reach it.
PAPER_HUMAN_LEVEL = {"Pong": HumanLevel(9.3, {"acktr": 904, "sgd": 4768})}


@dataclass(frozen=True)
class Published:
    """One published final return of a MuJoCo task."""

    algorithm: str
    value: float
    source: str
    """Who published it, the env version and the budget."""
    approximate: bool = False
    """Read off a plot rather than printed."""


# Wu et al. 2017, Figure 3 (Gym v1 MuJoCo tasks, 1 M timesteps): ACKTR's curves, read off the
# plot. RL Zoo benchmark (rl-baselines3-zoo, benchmark.md; v3 tasks, trained for n_timesteps,
# one run, deterministic evaluation).
MUJOCO_PUBLISHED = {
    "Hopper-v5": (
        Published("ACKTR", 3500, "Wu et al. 2017, Fig. 3, Hopper-v1, 1 M steps", approximate=True),
        Published("A2C", 733, "RL Zoo benchmark, Hopper-v3, 1 M steps, one run"),
        Published("PPO", 2410, "RL Zoo benchmark, Hopper-v3, 1 M steps, one run"),
    ),
    "Walker2d-v5": (
        Published("ACKTR", 450, "Wu et al. 2017, Fig. 3, Walker2d-v1, 1 M steps", approximate=True),
        Published("PPO", 3479, "RL Zoo benchmark, Walker2d-v3, 1 M steps, one run"),
    ),
}


def _published_text(reference: Published) -> str:
    about = "≈ " if reference.approximate else ""
    return f"{reference.algorithm} {about}{reference.value:g} ({reference.source})"


def mujoco_sentences(sweep: Sweep, run_scores: pd.DataFrame) -> list[str]:
    """For each MuJoCo task of the sweep with published numbers, one sentence: where our ``acktr``
    and ``sgd`` end (mean final return of their finished runs, with the budget) beside them."""
    sentences = []
    for task, runs in sweep.runs.groupby("task"):
        if task not in MUJOCO_PUBLISHED:
            continue
        scores = run_scores[run_scores["task"] == task] if len(run_scores) else run_scores
        ours = []
        for name in ("acktr", "sgd"):
            finals = scores.loc[scores["optimizer"] == name, "final_return"] if len(scores) else pd.Series()
            if len(finals):
                ours.append(f"our {name} ends at {finals.mean():,.0f} ({len(finals)} runs)")
        if ours:
            budget = int(runs["budget"].max())
            published = "; ".join(_published_text(r) for r in MUJOCO_PUBLISHED[task])
            sentences.append(f"{task}, {budget:,} env steps: {' and '.join(ours)}; published: {published}.")
    return sentences


def reproduction_table(sweep: Sweep, run_scores: pd.DataFrame) -> pd.DataFrame:
    """One row per task of the sweep that is one of the paper's games: our protocol, budget and
    finished runs, and the mean final return (last 100 episodes, raw score) of ``acktr`` and
    ``sgd`` beside the paper's ACKTR and A2C."""
    rows = []
    for task, runs in sweep.runs.groupby("task"):
        game = atari_game(task)
        if game not in PAPER_FINAL_REWARD:
            continue
        scores = run_scores[run_scores["task"] == task] if len(run_scores) else run_scores
        row = {
            "task": task,
            "protocol": ", ".join(sorted(set(runs["protocol"].dropna()))),
            "budget (env steps)": int(runs["budget"].max()),
        }
        for ours, theirs, paper in (("acktr", "ACKTR", 0), ("sgd", "A2C", 1)):
            finals = scores.loc[scores["optimizer"] == ours, "final_return"] if len(scores) else pd.Series()
            row[f"{ours} runs"] = len(finals)
            row[f"{ours} final return"] = finals.mean() if len(finals) else float("nan")
            row[f"paper {theirs}"] = PAPER_FINAL_REWARD[game][paper]
        rows.append(row)
    return pd.DataFrame(rows)


def human_level_table(sweep: Sweep) -> pd.DataFrame:
    """One row per run (whatever its state: a long run shows how far it got) of a game with a
    published human-level episode: its episodes and env steps so far, and the first ``WINDOW``
    episodes whose mean raw return reached human level, counted by their last episode (and its
    env step) and by their first, beside the paper's episode for the method it stands for."""
    rows = []
    for run in sweep.runs.sort_values(["task", "optimizer", "seed"]).itertuples():
        level = PAPER_HUMAN_LEVEL.get(atari_game(run.task) or "")
        if level is None or run.optimizer not in level.paper_episode:
            continue
        episodes = sweep.episodes[sweep.episodes["run"] == run.run]
        reached = first_reaching(episodes, level.score, WINDOW)
        reached_at = "" if reached is None else int(episodes["env_steps"].iloc[reached])
        rows.append(
            {
                "task": run.task,
                "optimizer": run.optimizer,
                "seed": run.seed,
                "state": run.state,
                "env steps so far": run.env_steps,
                "episodes so far": len(episodes),
                "human level": level.score,
                "episode at human level": "not yet" if reached is None else reached + 1,
                "env steps at human level": reached_at,
                f"first episode of those {WINDOW}": "" if reached is None else reached + 2 - WINDOW,
                "paper episode": level.paper_episode[run.optimizer],
            }
        )
    return pd.DataFrame(rows)
