"""A suite's run directories (``bench.results``' schema) in tidy pandas frames, every run accounted for.

``runs`` has one row per run directory, whatever its state; ``progress`` and ``episodes`` have
one row per row of ``progress.csv`` (a sampled update) and per finished episode, keyed by
``run`` (the directory relative to the suite, e.g. ``CartPole-v1/acktr/seed0``). A directory
that does not follow the schema is kept in ``unreadable`` with the reason, so it is listed,
never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from algorithms.errors import ConfigError
from bench.results import REQUIRED_PROGRESS_COLUMNS, RunRecord, SchemaError, read_run

RUN_COLUMNS = (
    "run",
    "task",
    "optimizer",
    "seed",
    "state",
    "error",
    "env_steps",
    "budget",
    "domain",
    "protocol",
    "device",
    "commit",
    "dirty",
    "cpu",
    "cores",
    "gpu",
)


@dataclass
class Sweep:
    """The runs of one suite: ``runs`` [run × RUN_COLUMNS], ``progress`` [update × (run, columns…)],
    ``episodes`` [episode × (run, env_steps, return, length, wall_time_s)], the configs by run,
    and the directories that could not be read, as (run, reason)."""

    suite: str
    runs: pd.DataFrame
    progress: pd.DataFrame
    episodes: pd.DataFrame
    configs: dict[str, dict[str, Any]]
    unreadable: list[tuple[str, str]] = field(default_factory=list)

    def done(self) -> pd.DataFrame:
        """The runs that finished (``done``)."""
        return self.runs[self.runs["state"] == "done"]

    def scored(self) -> pd.DataFrame:
        """The finished runs with at least one finished episode: the only ones that go into curves
        and scores (a budget shorter than an episode leaves a run with nothing to score)."""
        done = self.done()
        return done[done["run"].isin(set(self.episodes["run"]))]

    def run_seconds(self) -> pd.Series:
        """Each run's wall-clock seconds at its last update, by run (runs with no progress row
        are absent)."""
        if not len(self.progress):
            return pd.Series(dtype=float)
        return self.progress.groupby("run")["wall_time_s"].max()


def run_directories(root: Path) -> list[Path]:
    """Every directory under ``root`` holding a ``config.json`` or a ``status.json``."""
    found = {p.parent for name in ("config.json", "status.json") for p in root.rglob(name)}
    return sorted(found)


def _run_row(run: str, record: RunRecord) -> dict[str, Any]:
    config, provenance = record.config, record.config["provenance"]
    optimizer = config["optimizer"]
    if not isinstance(optimizer, dict) or "name" not in optimizer:
        raise SchemaError(f"{record.path / 'config.json'}: 'optimizer' has no 'name'")
    git, hardware = provenance.get("git") or {}, provenance.get("hardware") or {}
    return {
        "run": run,
        "task": config["env_id"],
        "optimizer": optimizer["name"],
        "seed": int(config["seed"]),
        "state": record.status["state"],
        "error": record.status.get("error"),
        "env_steps": int(record.status.get("env_steps") or 0),
        "budget": int(config["steps"]),
        "domain": config.get("domain"),
        "protocol": (config.get("env") or {}).get("protocol") if config.get("domain") == "atari" else None,
        "device": config.get("device"),
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "cpu": hardware.get("cpu"),
        "cores": hardware.get("cores"),
        "gpu": hardware.get("gpu"),
    }


def _episodes_with_wall_time(record: RunRecord) -> pd.DataFrame:
    """``episodes.csv`` with the wall-clock second each episode ended at, interpolated from the
    updates' ``(env_steps, wall_time_s)`` (0 s at 0 steps)."""
    steps = np.concatenate([[0.0], record.progress["env_steps"].to_numpy(float)])
    wall = np.concatenate([[0.0], record.progress["wall_time_s"].to_numpy(float)])
    episodes = record.episodes[["env_steps", "return", "length"]]
    return episodes.assign(wall_time_s=np.interp(episodes["env_steps"].to_numpy(float), steps, wall))


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    """The non-empty frames stacked, or an empty frame with ``columns``."""
    frames = [frame for frame in frames if len(frame)]
    if not frames:
        return pd.DataFrame({name: pd.Series(dtype=float) for name in columns})
    return pd.concat(frames, ignore_index=True)


def load_sweep(root: Path, suite: str | None = None) -> Sweep:
    """Reads every run directory under ``root`` (a suite's results, ``results/SUITE``).

    Raises :class:`ConfigError` when ``root`` is not a directory or holds no run directory at all.
    """
    root = Path(root)
    if not root.is_dir():
        raise ConfigError(
            f"no results directory {str(root)!r}; accepted: a suite's results, e.g. results/smoke"
        )
    directories = run_directories(root)
    if not directories:
        raise ConfigError(
            f"no run directories under {str(root)!r}; accepted: ENV/OPTIMIZER/seedK folders with "
            "config.json, progress.csv, episodes.csv and status.json"
        )
    rows, progress, episodes, configs, unreadable = [], [], [], {}, []
    for directory in directories:
        run = directory.relative_to(root).as_posix()
        try:
            record = read_run(directory)
            row = _run_row(run, record)
        except (SchemaError, KeyError, TypeError, ValueError) as error:
            message = (
                str(error)
                if isinstance(error, SchemaError)
                else f"{directory}: {type(error).__name__}: {error}"
            )
            unreadable.append((run, message))
            continue
        rows.append(row)
        configs[run] = record.config
        progress.append(record.progress.assign(run=run))
        episodes.append(_episodes_with_wall_time(record).assign(run=run))
    runs = pd.DataFrame(rows, columns=list(RUN_COLUMNS)).sort_values(["task", "optimizer", "seed"])
    return Sweep(
        suite=suite or root.name,
        runs=runs.reset_index(drop=True),
        progress=_concat(progress, ("run", *REQUIRED_PROGRESS_COLUMNS)),
        episodes=_concat(episodes, ("run", "env_steps", "return", "length", "wall_time_s")),
        configs=configs,
        unreadable=unreadable,
    )
