"""The paper's Atari numbers beside ours: Wu et al. 2017, Table 1, final episode rewards of
ACKTR and A2C."""

from __future__ import annotations

import pandas as pd

from bench.report.loading import Sweep
from bench.report.normalization import atari_game

# game: (ACKTR, A2C)
PAPER_FINAL_REWARD = {
    "BeamRider": (13581.4, 8148.1),
    "Breakout": (735.7, 581.6),
    "Pong": (20.9, 19.9),
    "Qbert": (23151.5, 15967.4),
    "Seaquest": (1776.0, 1754.0),
    "SpaceInvaders": (19723.0, 1757.2),
}


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
