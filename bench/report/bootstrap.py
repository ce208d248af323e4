"""Stratified bootstrap confidence intervals with rliable (Agarwal et al. 2021), reproducible.

rliable draws its resamples from NumPy's global generator; :func:`interval_estimates` seeds it
for the call and puts the caller's state back, so the same results give the same report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from rliable import library as rly

CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its 95 % interval; arrays of the same shape as ``func``'s output."""

    point: np.ndarray
    low: np.ndarray
    high: np.ndarray


def interval_estimates(
    scores: Mapping[str, np.ndarray | list[np.ndarray]],
    func: Callable[..., np.ndarray],
    reps: int,
    seed: int = 0,
) -> dict[str, Estimate]:
    """``func`` on each key's scores and its percentile interval over ``reps`` stratified resamples.

    A value is an array [runs × tasks × …] (runs resampled within each task), or a list of such
    arrays that ``func`` takes together (each resampled on its own, e.g. two optimizers' runs).
    """
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        points, intervals = rly.get_interval_estimates(
            dict(scores), func, reps=reps, confidence_interval_size=CONFIDENCE
        )
    finally:
        np.random.set_state(state)
    return {
        key: Estimate(np.asarray(points[key], float), intervals[key][0], intervals[key][1]) for key in scores
    }


def mean_interval(values: np.ndarray, reps: int) -> tuple[float, float, float]:
    """The mean of ``values`` [runs] (NaNs left out) and its bootstrap interval; NaNs when none."""
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    estimate = interval_estimates({"x": values[:, None]}, lambda x: np.array([x.mean()]), reps)["x"]
    return float(estimate.point[0]), float(estimate.low[0]), float(estimate.high[0])
