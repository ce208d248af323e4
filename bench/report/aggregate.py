"""Across tasks, with rliable (Agarwal et al. 2021): IQM, mean, median and optimality gap of the
normalized final scores, the probability of improvement, and performance profiles, all with
stratified bootstrap intervals (runs resampled within each task).

rliable needs a [runs × tasks] matrix per optimizer, and optimizers compared over the same
tasks. A :class:`Block` is one such comparison: a set of tasks and every optimizer with finished,
normalizable runs on all of them, each with the same number of runs per task (its fewest over
those tasks; the lowest seeds are kept). One block is made for each optimizer's own task set, so
``ng`` (small nets only) and ``acktr`` (every task) are compared where both ran, and ``acktr``
and ``sgd`` over everything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from rliable import library as rly
from rliable import metrics

from algorithms.optim import one_difference_pairs
from bench.report.bootstrap import interval_estimates
from bench.report.normalization import LEARNED
from bench.report.scores import BASELINE

METRICS = {
    "IQM": metrics.aggregate_iqm,
    "median": metrics.aggregate_median,
    "mean": metrics.aggregate_mean,
    "optimality gap": metrics.aggregate_optimality_gap,
}


@dataclass(frozen=True)
class Block:
    """Optimizers compared over ``tasks``: ``scores[optimizer]`` is [runs × tasks], normalized."""

    tasks: tuple[str, ...]
    scores: dict[str, np.ndarray]

    @property
    def title(self) -> str:
        return f"{len(self.tasks)} task{'s' * (len(self.tasks) > 1)}: {', '.join(self.tasks)}"


def blocks(run_scores: pd.DataFrame) -> list[Block]:
    """The comparisons to make, from :func:`bench.report.scores.run_scores` (finished runs with a
    normalized score), largest task set first."""
    scored = run_scores.dropna(subset=["normalized"])
    coverage = scored.groupby("optimizer")["task"].agg(lambda tasks: tuple(sorted(set(tasks))))
    result = []
    for tasks in sorted(set(coverage), key=lambda t: (-len(t), t)):
        members = [name for name, covered in coverage.items() if set(tasks) <= set(covered)]
        scores = {}
        for name in members:
            runs = scored[(scored["optimizer"] == name) & scored["task"].isin(tasks)].sort_values("seed")
            per_task = [runs.loc[runs["task"] == task, "normalized"].to_numpy() for task in tasks]
            keep = min(len(values) for values in per_task)
            scores[name] = np.stack([values[:keep] for values in per_task], axis=1)
        result.append(Block(tasks, dict(sorted(scores.items()))))
    return result


def aggregate_estimates(block: Block, reps: int) -> pd.DataFrame:
    """One row per optimizer and metric: ``value``, ``low``, ``high`` (95 %), ``runs`` per task."""
    estimates = interval_estimates(
        block.scores, lambda scores: np.array([metric(scores) for metric in METRICS.values()]), reps
    )
    return pd.DataFrame(
        [
            {
                "optimizer": name,
                "metric": metric,
                "value": estimate.point[i],
                "low": estimate.low[i],
                "high": estimate.high[i],
                "runs": len(block.scores[name]),
            }
            for name, estimate in estimates.items()
            for i, metric in enumerate(METRICS)
        ]
    )


def comparison_pairs(names: list[str]) -> list[tuple[str, str]]:
    """(X, Y) pairs for P(X > Y): every optimizer over ``sgd``, ``acktr`` over every other, and the
    curvature optimizers that differ in one axis (Kronecker over exact, fixed over
    Levenberg–Marquardt damping)."""
    pairs = [(name, BASELINE) for name in names if name != BASELINE and BASELINE in names]
    if "acktr" in names:
        pairs += [("acktr", name) for name in names if name not in ("acktr", BASELINE)]
    axis_pairs = [(x, y) for x, y, _ in one_difference_pairs() if x in names and y in names]
    return pairs + [pair for pair in axis_pairs if pair not in pairs]


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) of two [runs × tasks] matrices: per task, the fraction of (run of X, run of Y)
    pairs where X scores higher, ties counting one half (Mann–Whitney U over n·m), then the mean
    over tasks. rliable's ``metrics.probability_of_improvement``, vectorized: the bootstrap calls
    it thousands of times."""
    above = x[:, None, :] > y[None, :, :]
    ties = x[:, None, :] == y[None, :, :]
    return float(np.mean(above.mean(axis=(0, 1)) + 0.5 * ties.mean(axis=(0, 1))))


def score_distribution(scores: np.ndarray, taus: np.ndarray) -> np.ndarray:
    """The fraction of all runs' scores above each τ: rliable's run-score performance profile,
    vectorized."""
    return (scores.reshape(-1, 1) > taus[None, :]).mean(axis=0)


def improvement_probabilities(block: Block, reps: int) -> pd.DataFrame:
    """P(X > Y): the probability that a run of X on a task scores above a run of Y, averaged over
    the tasks where X or Y learned (a mean normalized score of at least
    :data:`bench.report.normalization.LEARNED`; elsewhere both learned nothing to compare), with
    its interval. Rows: ``x``, ``y``, ``value``, ``low``, ``high``, and ``measured on``, those
    tasks; NaN and no task where neither learned on any."""
    learned = {name: scores.mean(axis=0) >= LEARNED for name, scores in block.scores.items()}
    pairs = comparison_pairs(list(block.scores))
    where = {(x, y): learned[x] | learned[y] for x, y in pairs}
    measured = [pair for pair in pairs if where[pair].any()]
    estimates = interval_estimates(
        {f"{x},{y}": [block.scores[x][:, where[x, y]], block.scores[y][:, where[x, y]]] for x, y in measured},
        lambda x, y: np.array([probability_of_improvement(x, y)]),
        reps,
    )
    rows = []
    for x, y in pairs:
        estimate = estimates.get(f"{x},{y}")
        values = (estimate.point[0], estimate.low[0], estimate.high[0]) if estimate else (np.nan,) * 3
        tasks = " ".join(task for task, kept in zip(block.tasks, where[x, y], strict=True) if kept)
        rows.append((x, y, *values, tasks))
    return pd.DataFrame(rows, columns=["x", "y", "value", "low", "high", "measured on"])


def performance_profiles(block: Block, reps: int, points: int = 101) -> pd.DataFrame:
    """The fraction of runs scoring above τ, for τ over the range of the normalized scores (with
    a margin of 5 % of it each side), with its interval: rows ``optimizer``, ``tau``,
    ``fraction``, ``low``, ``high``."""
    every = np.concatenate([scores.ravel() for scores in block.scores.values()])
    low, high = every.min(), every.max()
    margin = max(0.05 * (high - low), 0.01)
    taus = np.linspace(low - margin, high + margin, points)
    state = np.random.get_state()
    np.random.seed(0)
    try:
        profiles, intervals = rly.create_performance_profile(
            block.scores, taus, custom_profile_func=score_distribution, reps=reps
        )
    finally:
        np.random.set_state(state)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "optimizer": name,
                    "tau": taus,
                    "fraction": profiles[name],
                    "low": intervals[name][0],
                    "high": intervals[name][1],
                }
            )
            for name in block.scores
        ],
        ignore_index=True,
    )
