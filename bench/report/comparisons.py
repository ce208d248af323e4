"""What each comparison of a report compares: the settings in which the two optimizers' runs differ,
read from their ``config.json``, so a reader sees a confounded comparison instead of trusting a
sentence.

A pair of curvature optimizers that differ in one axis of the 2 × 2 (``algorithms.optim``) should
differ in that axis's settings alone; the table says so, or names what else differs. Every other
pair compares whole recipes (each optimizer with its own preset), and the table lists them all.
"""

from __future__ import annotations

import pandas as pd

from algorithms.optim import differing_axis
from algorithms.optim.settings import axis_keys
from bench.config_diff import config_differences
from bench.report.loading import Sweep
from bench.sb3_reference import ALGORITHMS as REFERENCES

AXIS_NAMES = {"curvature": "the curvature", "damping": "the damping rule"}


def _config(sweep: Sweep, task: str, optimizer: str) -> dict | None:
    """The config of the finished run of ``optimizer`` on ``task`` with the lowest seed."""
    done = sweep.done()
    runs = done[(done["task"] == task) & (done["optimizer"] == optimizer)].sort_values("seed")
    return sweep.configs[runs["run"].iloc[0]] if len(runs) else None


def _format(value: object) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _kind(x: str, y: str, differences: dict) -> str:
    if x in REFERENCES or y in REFERENCES:
        return "an outside reference, at its own settings"
    axis = differing_axis(x, y)
    if axis is None:
        return "whole recipes, each at its preset"
    outside = sorted(set(differences) - axis_keys(axis))
    if not outside:
        return f"{AXIS_NAMES[axis]} alone"
    return f"CONFOUNDED: {AXIS_NAMES[axis]}, and also {', '.join(outside)}"


def comparison_table(sweep: Sweep, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """One row per pair (X, Y) and task both finished runs on: ``what differs`` (the one axis of the
    2 × 2, whole recipes, or an outside reference) and ``settings`` that differ as
    ``key X-value / Y-value``. For two different optimizers (whole recipes) the ``optimizer.*``
    settings are summed up in one phrase, and an outside reference's settings are not listed (its
    config has another schema)."""
    rows = []
    for x, y in pairs:
        for task in sorted(sweep.runs["task"].unique()):
            first, second = _config(sweep, task, x), _config(sweep, task, y)
            if first is None or second is None:
                continue
            outside = x in REFERENCES or y in REFERENCES
            differences = {} if outside else config_differences(first, second)
            listed = differences
            if not outside and differing_axis(x, y) is None:  # different optimizers: all their settings
                listed = {
                    key: values for key, values in differences.items() if not key.startswith("optimizer.")
                }
            settings = "; ".join(f"{key} {_format(a)} / {_format(b)}" for key, (a, b) in listed.items())
            if listed is not differences:
                settings += ("; " if settings else "") + "and the optimizers' own settings"
            rows.append(
                {
                    "comparison": f"{x} vs {y}",
                    "task": task,
                    "what differs": _kind(x, y, differences),
                    "settings": settings,
                }
            )
    return pd.DataFrame(rows, columns=["comparison", "task", "what differs", "settings"])
