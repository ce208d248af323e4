"""The five optimizers on small nets, with the curvature-fidelity diagnostics on every run.

Each optimizer trains with its presets (64-64 tanh MLPs) on CartPole-v1 and
InvertedPendulum-v5 for a few seeds, until the task's threshold or budget, logging
``diagnostics.fidelity_every``: how far K-FAC's curvature is from the exact Fisher along each
optimizer's own trajectory. The summary gives, per task and optimizer, the env steps until
the mean return of the last 20 episodes reaches the task's threshold
(:func:`bench.results.steps_to_threshold`; "—" if it never did) and the medians of the
fidelity columns over every measured update of every seed.

Runs are ``acktr-bench train`` processes writing ``OUT/ENV/OPTIMIZER/seedK/``, ``--jobs`` at
a time with one thread each. A run that ended (``done`` or ``diverged``) is kept, so an
interrupted sweep resumes; a failed or diverged run is recorded by the run itself and does
not stop the others.

Run: ``python -m bench.small_nets run results/fidelity`` (then the table alone:
``python -m bench.small_nets summary results/fidelity``).
"""

from __future__ import annotations

import argparse
import math
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from algorithms.config import parse_settings
from algorithms.fidelity import COLUMNS as FIDELITY_COLUMNS
from algorithms.optim import OPTIMIZERS
from algorithms.presets import resolve_config
from bench import runner
from bench.results import RunRecord, read_run, run_directory, steps_to_threshold
from bench.runner import KEPT_STATES, run_state
from bench.suites import RunSpec


@dataclass(frozen=True)
class Task:
    steps: int
    threshold: float
    fidelity_interval: int
    """Env steps between fidelity measurements (``diagnostics.fidelity_every`` is this over the
    optimizer's batch size); a measurement builds float64 dense matrices and their Cholesky
    factors, seconds each at P = 9 k."""
    settings: tuple[str, ...] = ()
    """More ``KEY=VALUE`` settings for every run of the task."""


# Budgets: sgd reached the thresholds within 206 k (CartPole-v1) and 129 k (InvertedPendulum-v5)
# env steps on seeds 0-4. A run stops at the first update at or after its steps to the threshold
# (``stop.return_mean`` with the same 20-episode window), so the fidelity medians cover training
# until the task is solved.
TASKS = {
    "InvertedPendulum-v5": Task(steps=150_000, threshold=950, fidelity_interval=25_000),
    "CartPole-v1": Task(steps=220_000, threshold=475, fidelity_interval=10_000),
}
WINDOW = 20


def train_one(out: Path, env_id: str, task: Task, optimizer: str, seed: int) -> str:
    """Train one run unless it ended before; returns its state (``done``, ``diverged``, ``failed``)."""
    run_dir = run_directory(out, env_id, optimizer, seed)
    ended = run_state(run_dir)
    if ended in KEPT_STATES:
        return ended
    batch = resolve_config(env_id, optimizer, task.steps, overrides=parse_settings(task.settings)).batch_size
    every = max(1, round(task.fidelity_interval / batch))
    stop = (f"stop.return_mean={task.threshold}", f"stop.window={WINDOW}")
    settings = (f"diagnostics.fidelity_every={every}", *stop, *task.settings)
    return runner.train_one(RunSpec(env_id, optimizer, seed, task.steps, settings), run_dir, "cpu", threads=1)


def run_all(out: Path, tasks: dict[str, Task], optimizers: list[str], seeds: list[int], jobs: int) -> None:
    """Every (task, optimizer, seed) run, ``jobs`` at a time; prints each one's final state."""
    grid = [
        (env_id, task, name, seed) for env_id, task in tasks.items() for name in optimizers for seed in seeds
    ]
    with ThreadPoolExecutor(jobs) as pool:
        states = pool.map(lambda args: train_one(out, *args), grid)
        for (env_id, _, name, seed), state in zip(grid, states, strict=True):
            print(f"{env_id:<20} {name:<6} seed {seed}: {state}", flush=True)


def summarize(out: Path, tasks: dict[str, Task], optimizers: list[str]) -> str:
    """A Markdown table: steps to the threshold per seed and their median, the fidelity medians, and
    the median of the trust-region optimizers' KL estimate on the measured updates, beside the
    realized KL."""
    header = [
        "task",
        "optimizer",
        "steps to threshold (per seed)",
        "median",
        *FIDELITY_COLUMNS,
        "kl_estimate",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for env_id, task in tasks.items():
        for name in optimizers:
            runs = sorted(run_directory(out, env_id, name, 0).parent.glob("seed*"))
            if not runs:
                continue
            records = [read_run(run) for run in runs]
            steps = [steps_to_threshold(record.episodes, task.threshold, WINDOW) for record in records]
            medians = [_median(record.progress[column] for record in records) for column in FIDELITY_COLUMNS]
            medians.append(_median(_estimate_where_measured(record) for record in records))
            per_seed = ", ".join(
                _steps(value) if record.status["state"] == "done" else record.status["state"]
                for value, record in zip(steps, records, strict=True)
            )
            median_steps = statistics.median(math.inf if math.isnan(s) else s for s in steps)
            cells = [f"{env_id} ≥ {task.threshold:g}", name, per_seed, _steps(median_steps)]
            lines.append(
                "| " + " | ".join(cells + ["—" if math.isnan(m) else f"{m:.3g}" for m in medians]) + " |"
            )
    return "\n".join(lines)


def _estimate_where_measured(record: RunRecord) -> pd.Series:
    """A trust-region optimizer's KL estimate on the updates whose realized KL was measured (empty for
    the others, whose estimate bounds nothing: sgd, and an optimizer with ``kl_clip`` 0)."""
    if not record.config["optimizer"].get("kl_clip"):
        return pd.Series(dtype=float)
    progress = record.progress
    return progress.loc[progress["fidelity_kl_realized"].notna(), "kl_estimate"]


def _median(columns) -> float:
    values = [v for column in columns for v in column.dropna().tolist()]
    return statistics.median(values) if values else math.nan


def _steps(value: float) -> str:
    return "—" if math.isinf(value) or math.isnan(value) else f"{value / 1000:.0f}k"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "summary"))
    parser.add_argument("out", nargs="?", default="results/fidelity", help="directory of the runs")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time")
    args = parser.parse_args()
    optimizers = args.optimizers.split(",")
    if args.command == "run":
        run_all(Path(args.out), TASKS, optimizers, [int(s) for s in args.seeds.split(",")], args.jobs)
    print(summarize(Path(args.out), TASKS, optimizers))


if __name__ == "__main__":
    main()
