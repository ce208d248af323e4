"""Running a suite: every run is its own ``acktr-bench train`` process writing its own run
directory, ``workers`` at a time, so a run that crashes or is killed touches no other run's files.

Resume: a run whose directory already says ``done`` or ``diverged`` (an outcome) is kept; any
other (``running`` when its process was killed, ``failed``, or never started) is run again from
the start. A failed or diverged run is recorded by the run itself, and the sweep goes on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from algorithms.config import ConfigError
from bench.suites import RunSpec, Suite

KEPT_STATES = ("done", "diverged")
FILTER_KEYS = ("env", "optimizer", "seed")


def _status(directory: Path) -> dict:
    """``directory/status.json``, or {} when there is none (or it is unreadable)."""
    try:
        status = json.loads((directory / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def run_state(directory: Path) -> str | None:
    """The run's state (``running``, ``done``, ``diverged``, ``failed``), or None without one."""
    return _status(directory).get("state")


def parse_only(text: str | None) -> dict[str, set[str]]:
    """``env=CartPole-v1,optimizer=acktr,optimizer=sgd`` → {key: accepted values}; a key given
    several times accepts any of its values."""
    accepted: dict[str, set[str]] = {}
    for pair in (text or "").split(","):
        if not pair.strip():
            continue
        key, sep, value = pair.partition("=")
        if not sep or key.strip() not in FILTER_KEYS:
            raise ConfigError(
                f"bad --only {pair!r}; accepted: KEY=VALUE with KEY one of {', '.join(FILTER_KEYS)}"
            )
        accepted.setdefault(key.strip(), set()).add(value.strip())
    return accepted


def select_runs(suite: Suite, only: dict[str, set[str]]) -> list[RunSpec]:
    """The suite's runs that every ``only`` filter accepts."""
    fields = {"env": lambda r: r.env_id, "optimizer": lambda r: r.optimizer, "seed": lambda r: str(r.seed)}
    return [run for run in suite.runs if all(fields[key](run) in values for key, values in only.items())]


def train_command(run: RunSpec, directory: Path, device: str) -> list[str]:
    command = [sys.executable, "-m", "bench", "train", "--env", run.env_id, "--optimizer", run.optimizer]
    command += ["--seed", str(run.seed), "--steps", str(run.steps), "--device", device]
    command += [arg for setting in run.settings for arg in ("--set", setting)]
    return command + ["--out", str(directory), "--force", "--quiet"]


def train_one(run: RunSpec, directory: Path, device: str, threads: int) -> str:
    """Trains one run in its own process, its output in ``directory/train.log``; returns the state
    it ended in (``failed`` if the process died before recording one)."""
    directory.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    with open(directory / "train.log", "w") as log:
        subprocess.run(
            train_command(run, directory, device), env=environment, stdout=log, stderr=log, check=False
        )
    state = run_state(directory)
    return state if state in ("done", "diverged", "failed") else "failed"


def run_local(
    runs: list[RunSpec], suite_results: Path, workers: int, device: str, show_progress: bool = True
) -> Counter:
    """Every run not kept from before, ``workers`` at a time; returns the count of each end state
    (``kept`` for the runs skipped). One progress bar for the sweep: env steps of all runs, runs
    done / running / failed, env steps per second and the time left."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    directories = {run: run.directory(suite_results) for run in runs}
    todo = [run for run in runs if run_state(directories[run]) not in KEPT_STATES]
    states = Counter({"kept": len(runs) - len(todo)})
    bar = tqdm(
        total=sum(run.steps for run in todo), unit="step", unit_scale=True, disable=not show_progress or None
    )
    with ThreadPoolExecutor(workers) as pool:
        futures: dict[RunSpec, Future] = {
            run: pool.submit(train_one, run, directories[run], device, threads) for run in todo
        }
        finished: set[RunSpec] = set()
        while len(finished) < len(todo):
            time.sleep(1.0)
            for run, future in futures.items():
                if run not in finished and future.done():
                    finished.add(run)
                    state = future.result()
                    states[state] += 1
                    bar.write(f"{run.env_id} {run.optimizer} seed {run.seed}: {state}")
            running = [run for run in todo if futures[run].running()]
            progress = (int(_status(directories[run]).get("env_steps") or 0) for run in running)
            steps = sum(run.steps for run in finished) + sum(progress)
            bar.update(max(0, steps - bar.n))
            bar.set_postfix_str(
                f"runs done {states['done']} / diverged {states['diverged']} / failed {states['failed']}"
                f" / running {len(running)} of {len(todo)}",
            )
    bar.close()
    return states


def summary_line(states: Counter) -> str:
    """The end states of a sweep in one line, e.g. ``10 done, 1 diverged, 4 kept``."""
    parts = [f"{states[key]} {key}" for key in ("done", "diverged", "failed", "kept") if states[key]]
    return ", ".join(parts) or "no runs"
