"""Runs still in progress (``running``): each one's curve as far as it got, and the optimizers
compared where every run of the task has got.

Conventions:

- A run in progress is never scored (:mod:`bench.report.scores` takes finished runs only); what
  is here is labelled partial wherever it is shown.
- **Common point** of a task with a run in progress: the fewest env steps at which any of its runs
  with an episode (in progress or finished) ended its last episode. Every run has data up to it,
  so comparing there gives each run the same number of samples.
- **Standing** of a run there: the mean raw return of its last ``WINDOW`` episodes that ended by
  the common point, with the interval over seeds and P(optimizer > ``sgd``) as in the finished
  runs' tables (:func:`bench.report.aggregate.probability_of_improvement`, one task).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from bench.report.aggregate import probability_of_improvement
from bench.report.bootstrap import interval_estimates, mean_interval
from bench.report.loading import Sweep
from bench.report.normalization import reference
from bench.report.scores import BASELINE, WINDOW, run_curve

PARTIAL_POINTS = 500
"""Points of a run in progress's curve (:func:`partial_curves`)."""

STANDING_COLUMNS = (
    "task",
    "env steps",
    "optimizer",
    "runs",
    "return",
    "return low",
    "return high",
    "normalized",
    "P(optimizer > sgd)",
    "P low",
    "P high",
)


def partial_curves(sweep: Sweep, task: str) -> pd.DataFrame:
    """Each ``running`` run of ``task`` as far as it got: the mean raw return of its last
    ``WINDOW`` episodes at ``PARTIAL_POINTS`` evenly spaced env steps up to its last episode
    (columns ``optimizer``, ``seed``, ``env_steps``, ``return_mean``; empty without one)."""
    running = sweep.runs[(sweep.runs["task"] == task) & (sweep.runs["state"] == "running")]
    frames = []
    for run in running.itertuples():
        episodes = sweep.episodes[sweep.episodes["run"] == run.run]
        if not len(episodes):
            continue
        ends = episodes["env_steps"].to_numpy(float)
        grid = np.linspace(ends[0], ends[-1], PARTIAL_POINTS)
        curve = run_curve(ends, episodes["return"].to_numpy(float), grid)
        frames.append(
            pd.DataFrame(
                {"optimizer": run.optimizer, "seed": run.seed, "env_steps": grid, "return_mean": curve}
            )
        )
    columns = ["optimizer", "seed", "env_steps", "return_mean"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)


def standings(sweep: Sweep, task: str, reps: int) -> pd.DataFrame:
    """Each optimizer's runs of ``task`` at the task's common point (module docstring): one row per
    optimizer with the columns ``STANDING_COLUMNS``, ``return``/``normalized`` the mean over its
    runs, ``P(optimizer > sgd)`` NaN for ``sgd`` itself or without ``sgd`` runs. Empty when the task
    has no run in progress with an episode."""
    runs = sweep.runs[sweep.runs["task"] == task]
    episodes = {run: frame for run, frame in sweep.episodes.groupby("run") if run in set(runs["run"])}
    runs = runs[runs["run"].isin(set(episodes))]
    if not (runs["state"] == "running").any():
        return pd.DataFrame(columns=list(STANDING_COLUMNS))
    common = min(float(frame["env_steps"].max()) for frame in episodes.values())
    values = {
        name: np.array(
            [
                run_curve(
                    episodes[run]["env_steps"].to_numpy(float),
                    episodes[run]["return"].to_numpy(float),
                    np.array([common]),
                    WINDOW,
                )[0]
                for run in group.sort_values("seed")["run"]
            ]
        )
        for name, group in runs.groupby("optimizer")
    }
    improvement = _improvement_over_baseline(values, reps)
    scale = reference(task)
    rows = []
    for name, returns in values.items():
        mean, low, high = mean_interval(returns, reps)
        normalized = math.nan if scale is None else scale.normalize(mean)
        rows.append(
            (
                task,
                common,
                name,
                len(returns),
                mean,
                low,
                high,
                normalized,
                *improvement.get(name, (math.nan,) * 3),
            )
        )
    return pd.DataFrame(rows, columns=list(STANDING_COLUMNS))


def _improvement_over_baseline(
    values: dict[str, np.ndarray], reps: int
) -> dict[str, tuple[float, float, float]]:
    """P(optimizer > ``sgd``) on one task with its interval, by optimizer other than ``sgd``."""
    if BASELINE not in values:
        return {}
    baseline = values[BASELINE][:, None]
    others = {name: returns[:, None] for name, returns in values.items() if name != BASELINE}
    estimates = interval_estimates(
        {name: [returns, baseline] for name, returns in others.items()},
        lambda x, y: np.array([probability_of_improvement(x, y)]),
        reps,
    )
    return {name: (float(e.point[0]), float(e.low[0]), float(e.high[0])) for name, e in estimates.items()}
