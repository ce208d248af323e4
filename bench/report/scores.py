"""Per-task scores of finished runs: learning curves on a common grid, final performance, area
under the curve, env steps to a threshold and the sample-efficiency ratio over ``sgd``.

Conventions:

- A run's **curve** at x (env steps, or wall-clock seconds) is the mean raw return of its last
  ``WINDOW`` episodes that ended by x (fewer early on; undefined before its first episode). A run
  that ended before x holds its last value, so a run stopped at its threshold stays there.
- **Grid**: ``GRID_POINTS`` evenly spaced points up to the task's budget (or the longest run's
  wall time); curves of several runs are compared only at points where every one is defined.
- **Final performance**: the mean raw return of a run's last ``WINDOW`` episodes.
- **AUC**: the mean of a run's curve over the grid points where it is defined (the area under the
  curve over the budget, in return units).
- **Steps to threshold**: the first env step at which the mean of the last ``window`` episodes
  reaches the task's threshold (:func:`bench.results.steps_to_threshold`).
- **Sample-efficiency ratio** of an optimizer over ``sgd``: the env steps ``sgd`` needs to reach
  a level over the env steps the optimizer needs, so 2 means half the samples (the paper's 2–3×
  claim). The level is the task's threshold when the median ``sgd`` run reaches it (steps: the
  median over runs of steps to threshold), else ``sgd``'s final level, its mean curve at the end
  of the budget (steps: where each mean curve first reaches it). A run or curve that never gets
  there counts as the whole budget, so the ratio is then an upper bound. Its interval resamples
  whole runs of both optimizers. No ratio is given when that level is below the task's learned
  level (:data:`bench.report.normalization.LEARNED`): ``sgd`` learned nothing to compare with.
- Only finished runs with a finished episode are scored (:meth:`Sweep.scored`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.report.bootstrap import Estimate, interval_estimates
from bench.report.loading import Sweep
from bench.report.normalization import LEARNED, LEARNED_MEANING, reference
from bench.results import steps_to_threshold

WINDOW = 100
GRID_POINTS = 100
BASELINE = "sgd"
SCORE_COLUMNS = (
    "task",
    "optimizer",
    "seed",
    "final_return",
    "auc",
    "threshold",
    "steps_to_threshold",
    "normalized",
    "steps_per_s",
)


@dataclass(frozen=True)
class Threshold:
    """A task's threshold on the mean raw return of the last ``window`` episodes, and where it is from."""

    value: float
    window: int
    source: str


def run_curve(ends: np.ndarray, returns: np.ndarray, grid: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Mean of the last ``window`` returns among episodes that ended at or before each grid point.

    ``ends`` [episodes] ascending (env steps or seconds), ``returns`` [episodes], ``grid`` [points];
    returns [points], NaN where no episode had ended yet.
    """
    counts = np.searchsorted(ends, grid, side="right")
    starts = np.maximum(counts - window, 0)
    sums = np.concatenate([[0.0], np.cumsum(returns, dtype=float)])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, (sums[counts] - sums[starts]) / (counts - starts), np.nan)


def task_threshold(sweep: Sweep, task: str) -> Threshold | None:
    """The runs' own ``stop.return_mean`` (with its window) when they all set the same one, else the
    task's reference level (:mod:`bench.report.normalization`) over 100 episodes; None without
    either."""
    runs = sweep.runs.loc[sweep.runs["task"] == task, "run"]
    stops = {
        (float(stop.get("return_mean", math.nan)), int(stop.get("window", WINDOW)))
        for stop in (sweep.configs[run].get("stop") or {} for run in runs)
    }
    if len(stops) == 1:
        value, window = stops.pop()
        if not math.isnan(value):
            return Threshold(value, window, "the runs' stop.return_mean")
    scale = reference(task)
    return None if scale is None else Threshold(scale.target, WINDOW, scale.target_source)


def task_curves(
    sweep: Sweep, task: str, axis: str = "env_steps", log_grid: bool = False
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The grid and each optimizer's scored runs' curves on it, [runs × points] ordered by seed.

    ``axis`` is ``env_steps`` (grid up to the task's budget) or ``wall_time_s`` (up to the
    longest run's last update). The grid's points are evenly spaced, or with ``log_grid`` evenly
    spaced in log from 1/1000 of its end.
    """
    done = sweep.scored()
    done = done[done["task"] == task]
    if axis == "env_steps":
        end = float(done["budget"].max())
    else:
        seconds = sweep.run_seconds().reindex(done["run"])
        end = float(seconds.max()) if seconds.notna().any() else 0.0
    first = end / 1000 if log_grid else end / GRID_POINTS
    grid = (np.geomspace if log_grid else np.linspace)(first, end, GRID_POINTS)
    episodes = sweep.episodes.groupby("run")
    curves = {}
    for optimizer, runs in done.groupby("optimizer"):
        rows = []
        for run in runs["run"]:
            frame = episodes.get_group(run)
            rows.append(run_curve(frame[axis].to_numpy(float), frame["return"].to_numpy(float), grid))
        curves[optimizer] = np.vstack(rows)
    return grid, curves


def curve_estimates(grid: np.ndarray, curves: dict[str, np.ndarray], reps: int) -> pd.DataFrame:
    """Mean over runs at each grid point with its 95 % bootstrap interval (runs resampled at each
    point): one row per optimizer and point where all its runs are defined (``x``, ``mean``,
    ``low``, ``high``, ``runs``)."""
    frames = []
    for optimizer, matrix in curves.items():
        defined = ~np.isnan(matrix).any(axis=0)
        if not defined.any():
            continue
        values = matrix[:, None, defined]
        estimate = interval_estimates({optimizer: values}, lambda x: np.mean(x, axis=0)[0], reps)[optimizer]
        frames.append(
            pd.DataFrame(
                {
                    "optimizer": optimizer,
                    "x": grid[defined],
                    "mean": estimate.point,
                    "low": estimate.low,
                    "high": estimate.high,
                    "runs": len(matrix),
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def steps_to_level(grid: np.ndarray, curve: np.ndarray, level: float) -> float:
    """The first grid point at which ``curve`` reaches ``level`` (inf if it never does)."""
    reached = np.nonzero(curve >= level)[0]
    return float(grid[reached[0]]) if len(reached) else math.inf


def efficiency_ratio(
    grid: np.ndarray,
    baseline: np.ndarray,
    other: np.ndarray,
    baseline_steps: np.ndarray | None = None,
    other_steps: np.ndarray | None = None,
) -> float:
    """The sample-efficiency ratio of ``other`` over ``baseline`` (curves [runs × points], defined
    everywhere; steps to threshold [runs], or None for the final-level basis): see the module's
    conventions. Never reaching the level counts as the grid's end, the budget."""
    budget = float(grid[-1])
    if baseline_steps is not None and other_steps is not None:
        censored = [np.minimum(steps, budget) for steps in (baseline_steps, other_steps)]
        return float(np.median(censored[0]) / np.median(censored[1]))
    baseline_mean, other_mean = baseline.mean(axis=0), other.mean(axis=0)
    level = baseline_mean[-1]
    steps = [min(steps_to_level(grid, mean, level), budget) for mean in (baseline_mean, other_mean)]
    return steps[0] / steps[1]


def _ratio_estimate(
    grid: np.ndarray,
    baseline: np.ndarray,
    other: np.ndarray,
    baseline_steps: np.ndarray | None,
    other_steps: np.ndarray | None,
    reps: int,
) -> Estimate:
    """:func:`efficiency_ratio` with an interval from resampling whole runs: the bootstrap draws
    run indices of each optimizer and the ratio looks the runs up."""

    def ratio(baseline_index: np.ndarray, other_index: np.ndarray) -> np.ndarray:
        b, o = baseline_index[:, 0].astype(int), other_index[:, 0].astype(int)
        steps = (None, None) if baseline_steps is None else (baseline_steps[b], other_steps[o])
        return np.array([efficiency_ratio(grid, baseline[b], other[o], *steps)])

    indices = [np.arange(len(runs), dtype=float)[:, None] for runs in (baseline, other)]
    estimate = interval_estimates({"ratio": indices}, ratio, reps)["ratio"]
    return Estimate(estimate.point[0], estimate.low[0], estimate.high[0])


@dataclass(frozen=True)
class Ratio:
    """A sample-efficiency ratio with its interval; ``upper_bound`` when the optimizer (its median
    run, or its mean curve) never reached the level, so the budget stood in for its steps."""

    estimate: Estimate
    upper_bound: bool


@dataclass(frozen=True)
class EfficiencyRatios:
    """Each optimizer's :class:`Ratio` over ``sgd`` on one task; ``basis`` names the level they
    are measured at (``threshold`` or ``final level of sgd``). Without ratios, ``withheld`` says
    why (empty when there is no ``sgd`` to compare with)."""

    ratios: dict[str, Ratio]
    basis: str = ""
    withheld: str = ""


def efficiency_ratios(
    grid: np.ndarray,
    curves: dict[str, np.ndarray],
    steps: dict[str, np.ndarray] | None,
    reps: int,
    threshold: float | None = None,
    learned_level: float = -math.inf,
) -> EfficiencyRatios:
    """Each optimizer's sample-efficiency ratio over ``sgd``. ``curves`` [runs × points] on the
    env-steps ``grid``; ``steps`` each optimizer's runs' steps to ``threshold`` (inf: never),
    None without one. The level is the threshold when the median ``sgd`` run reaches it and it is
    at least ``learned_level``, else ``sgd``'s final level; below ``learned_level`` no ratio is
    given."""
    if BASELINE not in curves:
        return EfficiencyRatios({})
    baseline = curves[BASELINE]
    use_threshold = (
        steps is not None
        and threshold is not None
        and threshold >= learned_level
        and bool(np.median(steps[BASELINE]) < math.inf)
    )
    if not use_threshold:
        level = float(baseline.mean(axis=0)[-1])
        if not level >= learned_level:
            return EfficiencyRatios(
                {},
                withheld=f"sgd's final level {level:.4g} is below {learned_level:.4g}, the lowest that "
                f"counts as learned ({LEARNED_MEANING})",
            )
    estimates = {}
    for optimizer, matrix in curves.items():
        if optimizer == BASELINE:
            continue
        defined = ~(np.isnan(matrix).any(axis=0) | np.isnan(baseline).any(axis=0))
        if not defined.any():
            continue
        points, base, other = grid[defined], baseline[:, defined], matrix[:, defined]
        base_steps, other_steps = (steps[BASELINE], steps[optimizer]) if use_threshold else (None, None)

        if use_threshold:
            never = bool(np.median(other_steps) == math.inf)
        else:
            never = steps_to_level(points, other.mean(axis=0), base.mean(axis=0)[-1]) == math.inf
        estimates[optimizer] = Ratio(
            _ratio_estimate(points, base, other, base_steps, other_steps, reps), never
        )
    return EfficiencyRatios(estimates, "threshold" if use_threshold else "final level of sgd")


def learned_tasks(run_scores: pd.DataFrame) -> set[str]:
    """The tasks where some optimizer's mean normalized final score reaches
    :data:`bench.report.normalization.LEARNED` (from :func:`run_scores`)."""
    means = run_scores.groupby(["task", "optimizer"])["normalized"].mean()
    return {task for (task, _), value in means.items() if value >= LEARNED}


def duration_spread(sweep: Sweep, task: str) -> float:
    """The longest over the shortest of the optimizers' median run times (wall-clock seconds of
    their scored runs) on ``task``; 1 with fewer than two optimizers."""
    runs = sweep.scored()
    runs = runs[runs["task"] == task]
    seconds = runs.assign(seconds=runs["run"].map(sweep.run_seconds()))
    medians = seconds.groupby("optimizer")["seconds"].median()
    return float(medians.max() / medians.min()) if len(medians) > 1 and medians.min() > 0 else 1.0


def run_speeds(sweep: Sweep) -> pd.Series:
    """Env steps per wall-clock second of every finished run's whole run, by run."""
    done = sweep.done().set_index("run")
    return (done["env_steps"] / sweep.run_seconds().reindex(done.index)).astype(float)


def run_scores(sweep: Sweep) -> pd.DataFrame:
    """One row per scored run: ``task``, ``optimizer``, ``seed``, ``final_return``, ``auc``,
    ``threshold``, ``steps_to_threshold`` (inf if never reached, NaN without a threshold),
    ``normalized`` (the final return on the task's reference scale, NaN without one) and
    ``steps_per_s`` (env steps over wall-clock seconds of the whole run)."""
    done = sweep.scored()
    episodes = sweep.episodes.groupby("run")
    speeds = run_speeds(sweep)
    rows = []
    for task, runs in done.groupby("task"):
        grid, curves = task_curves(sweep, task)
        threshold, scale = task_threshold(sweep, task), reference(task)
        for optimizer, group in runs.groupby("optimizer"):
            for (_, run), curve in zip(group.iterrows(), curves[optimizer], strict=True):
                frame = episodes.get_group(run["run"])
                final = float(frame["return"].tail(WINDOW).mean())
                steps = math.nan
                if threshold is not None:
                    steps = steps_to_threshold(frame, threshold.value, threshold.window)
                    steps = math.inf if math.isnan(steps) else steps
                rows.append(
                    (
                        task,
                        optimizer,
                        run["seed"],
                        final,
                        float(np.nanmean(curve)),
                        math.nan if threshold is None else threshold.value,
                        steps,
                        math.nan if scale is None else scale.normalize(final),
                        speeds.get(run["run"], math.nan),
                    )
                )
    frame = pd.DataFrame(rows, columns=list(SCORE_COLUMNS))
    return frame.astype({"seed": int, **{column: float for column in SCORE_COLUMNS[3:]}})
