"""Run directories in the public schema, written atomically and read back with validation.

A run directory holds:

- ``config.json``: the resolved config (``RunConfig.to_dict()``, or ``ReferenceConfig.to_dict()`` for a
  Stable-Baselines3 reference run) and ``provenance``.
- ``progress.csv``: one row per sampled update (``REQUIRED_PROGRESS_COLUMNS`` and every optimizer
  stat, each the value at that update): the first update at or after each multiple of
  ``steps / log.rows`` env steps, every update that measures fidelity, and the last update of a
  run that ended (every update with ``log.rows = 0``, and in runs written before ``log.rows``).
- ``episodes.csv``: one row per finished episode: ``env_steps`` (when it ended), ``return`` (raw), ``length``.
- ``status.json``: ``{"state": "running"|"done"|"diverged"|"failed", "error": str|null, "env_steps": int,
  "return_mean": float|null}`` (the latest progress row's, as of the last write: null before any episode).
- ``env_state.json``: what evaluation needs from the env (observation normalizer statistics), if any.
- ``agent.pt``: the final policy of a run that ended ``done`` or ``diverged`` (the model's
  ``state_dict``, read with ``torch.load(weights_only=True)``); not for reference runs.
- ``checkpoint.json`` and ``checkpoints/``: the learning state to resume from while the run is
  unfinished (:mod:`bench.checkpoints`); removed when it ends.

``config.json`` gains a ``resumes`` list when the run is resumed: each entry says at which update
and env step, when, with which provenance, whether the envs were restored or restarted, and the
differences a ``--force`` let through.

Every file is replaced whole (temp file + rename), so a reader never sees a
half-written row, whenever the writer dies.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pandas as pd
import torch

from algorithms.config import RunConfig
from algorithms.envs import Episode
from algorithms.fidelity import COLUMNS as FIDELITY_COLUMNS
from bench.sb3_reference import ReferenceConfig

STATES = ("running", "done", "diverged", "failed")
REQUIRED_PROGRESS_COLUMNS = (
    "env_steps",
    "updates",
    "wall_time_s",
    "episodes",
    "return_mean",
    "update_time_s",
)
EPISODE_COLUMNS = ("env_steps", "return", "length")
AGENT_FILE = "agent.pt"


def is_wall_clock_column(name: str) -> bool:
    """Columns that measure time, and so differ between otherwise identical runs."""
    return name.endswith("_time_s") or name == "steps_per_s"


class SchemaError(ValueError):
    """A run directory that does not follow the schema; the message names the file and the problem."""


def _file_mode() -> int:
    """The mode ``open`` gives a new file under this process's umask (mkstemp's is 0600)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


_FILE_MODE = _file_mode()


def write_atomic_with(path: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Replace ``path`` with what ``write`` writes to an open binary file, so that readers see the
    old or the new file, never a mix, whenever the writer dies. The file gets the mode any new
    file gets here (0644 under the usual umask 022)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _FILE_MODE)
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(path: Path, text: str) -> None:
    """:func:`write_atomic_with` for a text, in UTF-8."""
    write_atomic_with(path, lambda handle: handle.write(text.encode("utf-8")))


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, allow_nan=True) + "\n")


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([repr(v) if isinstance(v, float) else v for v in values])
    return buffer.getvalue()


class RunWriter:
    """Writes one run directory; implements ``algorithms.training.RunLogger``.

    Of the rows logged (one per update), ``progress.csv`` keeps those ``config.log.rows`` samples
    (see the module doc); the last one logged is kept when the run finishes. Rows are kept in
    memory and the CSV files are rewritten whole at most every ``flush_every_s`` seconds and at
    the end, so the cost stays small and a crash loses at most that much progress but never
    corrupts a file.
    """

    def __init__(
        self,
        run_dir: Path,
        config: RunConfig | ReferenceConfig,
        provenance: dict[str, Any],
        flush_every_s: float = 10.0,
        resumes: list[dict[str, Any]] | None = None,
    ):
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.flush_every_s = flush_every_s
        self._steps, self._rows = config.steps, config.log.rows
        self._columns: list[str] | None = None
        self._progress_lines: list[str] = []
        self._unkept: str | None = None
        self._episode_lines: list[str] = []
        self._env_steps = 0
        self._return_mean: float | None = None
        self._last_flush = time.monotonic()
        record = {**config.to_dict(), "provenance": provenance}
        write_json(self.run_dir / "config.json", record | ({"resumes": resumes} if resumes else {}))
        self.write_status("running")

    def _interval(self, env_steps: int) -> int:
        """Which of the ``log.rows`` intervals of the budget ``env_steps`` falls in (with
        ``log.rows = 0``, every env step count is an interval of its own)."""
        return env_steps * self._rows // self._steps if self._rows else env_steps

    def _keeps(self, row: dict[str, float]) -> bool:
        """Whether ``progress.csv`` keeps ``row``: the first of its interval, or a measurement."""
        first = self._interval(int(row["env_steps"])) > self._interval(self._env_steps)
        return first or any(math.isfinite(row.get(name, math.nan)) for name in FIDELITY_COLUMNS)

    def continue_after(self, updates: int, env_steps: int) -> None:
        """Keep the progress rows of the first ``updates`` updates (``env_steps`` env steps) already
        in the directory, and the episodes that ended by then, dropping any after them; later rows
        follow these. Raises :class:`SchemaError` when ``progress.csv`` does not reach that far:
        it lacks the row of the interval ``env_steps`` falls in."""
        path = self.run_dir / "progress.csv"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.exists() else []
        header, *values = csv.reader(lines) if lines else [[]]
        kept = [dict(zip(header, row, strict=True)) for row in values]
        kept = [row for row in kept if int(row["updates"]) <= updates]
        reached = self._interval(int(kept[-1]["env_steps"])) if kept else 0
        if reached < self._interval(env_steps):
            raise SchemaError(f"{path}: {len(values)} rows, short of update {updates}")
        if kept:
            self._columns = header
            return_mean = float(kept[-1]["return_mean"])
            self._return_mean = return_mean if math.isfinite(return_mean) else None
        self._progress_lines = lines[1 : len(kept) + 1]
        path = self.run_dir / "episodes.csv"
        episodes = path.read_text(encoding="utf-8").splitlines(keepends=True)[1:] if path.exists() else []
        self._episode_lines = [line for line in episodes if int(line.split(",", 1)[0]) <= env_steps]
        self._env_steps = env_steps
        self.flush()

    def write_status(self, state: str, error: str | None = None) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}; accepted: {', '.join(STATES)}")
        write_json(
            self.run_dir / "status.json",
            {"state": state, "error": error, "env_steps": self._env_steps, "return_mean": self._return_mean},
        )

    def log_episodes(self, env_steps: int, episodes: list[Episode]) -> None:
        self._episode_lines += [_csv_line([env_steps, e.raw_return, e.length]) for e in episodes]

    def log_update(self, row: dict[str, float]) -> None:
        if self._columns is None:
            self._columns = list(row)
        elif list(row) != self._columns:
            raise ValueError(f"progress row keys changed: {sorted(set(row) ^ set(self._columns))}")
        line = _csv_line(list(row.values()))
        if self._keeps(row):
            self._progress_lines.append(line)
            self._unkept = None
        else:
            self._unkept = line
        self._env_steps = int(row["env_steps"])
        self._return_mean = float(row["return_mean"]) if math.isfinite(row["return_mean"]) else None
        if time.monotonic() - self._last_flush >= self.flush_every_s:
            self.flush()

    def flush(self) -> None:
        if self._columns is not None:
            header = _csv_line(self._columns)
            write_atomic(self.run_dir / "progress.csv", header + "".join(self._progress_lines))
        header = _csv_line(list(EPISODE_COLUMNS))
        write_atomic(self.run_dir / "episodes.csv", header + "".join(self._episode_lines))
        self.write_status("running")
        self._last_flush = time.monotonic()

    def finish(
        self,
        state: str,
        error: str | None = None,
        env_state: dict[str, Any] | None = None,
        policy: dict[str, Any] | None = None,
    ) -> None:
        """Write everything and the final status (``done``, ``diverged`` or ``failed``), with the
        agent's final ``policy`` parameters when given; ``progress.csv`` ends with the last row logged."""
        if self._unkept is not None:
            self._progress_lines.append(self._unkept)
            self._unkept = None
        self.flush()
        if env_state:
            write_json(self.run_dir / "env_state.json", env_state)
        if policy is not None:
            write_atomic_with(self.run_dir / AGENT_FILE, lambda handle: torch.save(policy, handle))
        self.write_status(state, error)


@dataclass
class RunRecord:
    """A run directory read back: config, status, progress [updates × columns], episodes."""

    path: Path
    config: dict[str, Any]
    status: dict[str, Any]
    progress: pd.DataFrame
    episodes: pd.DataFrame


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"{path}: missing") from None
    except json.JSONDecodeError as error:
        raise SchemaError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(data, dict):
        raise SchemaError(f"{path}: expected a JSON object")
    return data


def _read_csv(path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame({name: pd.Series(dtype=float) for name in required})
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise SchemaError(f"{path}: unreadable CSV ({error})") from None
    missing = [name for name in required if name not in frame.columns]
    if missing:
        raise SchemaError(f"{path}: missing columns {', '.join(missing)}")
    return frame


def read_run(run_dir: Path) -> RunRecord:
    """Read and validate a run directory; raises :class:`SchemaError` naming the file and problem.

    A run that has not logged its first update yet has empty frames.
    """
    run_dir = Path(run_dir)
    config = read_json(run_dir / "config.json")
    for key in ("env_id", "optimizer", "seed", "steps", "provenance"):
        if key not in config:
            raise SchemaError(f"{run_dir / 'config.json'}: missing key {key!r}")
    status = read_json(run_dir / "status.json")
    if status.get("state") not in STATES:
        raise SchemaError(
            f"{run_dir / 'status.json'}: bad state {status.get('state')!r}; accepted: {', '.join(STATES)}"
        )
    progress = _read_csv(run_dir / "progress.csv", REQUIRED_PROGRESS_COLUMNS)
    episodes = _read_csv(run_dir / "episodes.csv", EPISODE_COLUMNS)
    return RunRecord(run_dir, config, status, progress, episodes)


def read_agent(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A finished run's kept policy (``agent.pt``, on the CPU) and the env statistics it was trained
    with (``env_state.json``; {} without one)."""
    run_dir = Path(run_dir)
    policy = torch.load(run_dir / AGENT_FILE, map_location="cpu", weights_only=True)
    env_state = read_json(run_dir / "env_state.json") if (run_dir / "env_state.json").is_file() else {}
    return policy, env_state


def run_directory(suite_results: Path, env_id: str, optimizer: str, seed: int) -> Path:
    """``SUITE_RESULTS/ENV/OPTIMIZER/seedK``, the layout of a suite's runs (a ``/`` in the env id
    becomes ``-``)."""
    return Path(suite_results) / env_id.replace("/", "-") / optimizer / f"seed{seed}"


def first_reaching(episodes: pd.DataFrame, threshold: float, window: int) -> int | None:
    """The 0-based row of the first episode at which the mean raw return of the last ``window``
    episodes (``window`` of them at least) reaches ``threshold``; None if none does. ``episodes``
    has the columns of ``episodes.csv``."""
    reached = (episodes["return"].rolling(window).mean() >= threshold).to_numpy().nonzero()[0]
    return int(reached[0]) if len(reached) else None


def steps_to_threshold(episodes: pd.DataFrame, threshold: float, window: int) -> float:
    """Env steps at which the mean raw return of the last ``window`` episodes first reaches
    ``threshold`` (:func:`first_reaching`); NaN if the run never got there."""
    row = first_reaching(episodes, threshold, window)
    return math.nan if row is None else float(episodes["env_steps"].iloc[row])
