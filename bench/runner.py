"""Running a suite: every run is its own ``acktr-bench train`` process writing its own run
directory, so a run that crashes or is killed touches no other run's files. A backend starts
them: :func:`local_backend` (``workers`` at a time on this machine) or
:func:`bench.ray_backend.ray_backend` (Ray tasks).

Resume: a run whose directory already says ``done`` or ``diverged`` (an outcome) is kept; one
found ``running`` (its process was killed or stopped) with a checkpoint continues from it
(``acktr-bench train --resume``); any other (``failed``, never started, or killed before its
first checkpoint) is run again from the start. A failed or diverged run is recorded by the run
itself (or, when its task died before the run could, by the sweep), and the sweep goes on. A
local sweep that ends early (an error, Ctrl-C, SIGTERM) stops the runs it has running: each
saves a checkpoint and stays ``running``, to be continued.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from algorithms.errors import ConfigError
from bench import PROG
from bench.checkpoints import CheckpointError, checkpoint_record, discard_checkpoints, has_checkpoint
from bench.progress import PROGRESS_EVERY_S, Progress
from bench.results import write_json
from bench.suites import RunSpec, Suite

KEPT_STATES = ("done", "diverged")
END_STATES = (*KEPT_STATES, "failed")
STOPPED = "stopped"
"""What the sweep counts a run whose process ended leaving it ``running`` with a checkpoint (a stop
signal reached it alone, or it was killed after a checkpoint): not failed, and the suite's next run
continues it."""
FILTER_KEYS = ("env", "optimizer", "seed")
STOP_GRACE_S = 120.0
"""How long a stopped sweep waits for its runs to finish their update and save a checkpoint: an
Atari ``acktr`` update and its 60 MB checkpoint can take tens of seconds on a loaded machine."""


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


def resumable(directory: Path) -> bool:
    """Whether the run in ``directory`` continues from its checkpoint: found ``running`` with one."""
    return run_state(directory) == "running" and has_checkpoint(directory)


def resumed_steps(directory: Path) -> int:
    """The env steps a run continues from: its checkpoint's where :func:`resumable`, else 0 (also
    for an unreadable ``checkpoint.json``: its resume fails, and is recorded, in the run)."""
    if not resumable(directory):
        return 0
    try:
        return int(checkpoint_record(directory)["env_steps"])
    except CheckpointError:
        return 0


def train_command(run: RunSpec, directory: Path, device: str, force_resume: bool = False) -> list[str]:
    """The ``acktr-bench train`` command of ``run`` into ``directory``: a resume where
    :func:`resumable` (despite a changed config, code or versions with ``force_resume``), else a
    new run over whatever is there."""
    command = [sys.executable, "-m", "bench", "train", "--env", run.env_id, "--optimizer", run.optimizer]
    command += ["--seed", str(run.seed), "--steps", str(run.steps), "--device", device]
    command += [arg for setting in run.settings for arg in ("--set", setting)]
    if resumable(directory):
        command += ["--resume"] + (["--force"] if force_resume else [])
    else:
        command += ["--force"]
    return command + ["--out", str(directory), "--quiet"]


class RunProcesses:
    """The ``acktr-bench train`` processes of one sweep, from any thread: :meth:`run` runs one to
    its end; :meth:`stop` terminates those still running and refuses to start more."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self._stopped = False

    def run(self, command: list[str], **popen_options) -> int:
        """Runs ``command`` (``subprocess.Popen`` options) and returns its exit status."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("the sweep was stopped before this run started")
            process = subprocess.Popen(command, **popen_options)
            self._running.add(process)
        try:
            return process.wait()
        finally:
            with self._lock:
                self._running.discard(process)

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """SIGTERM to every process still running, SIGKILL to those alive ``grace_s`` later."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for process in running:
            process.terminate()
        deadline = time.monotonic() + grace_s
        for process in running:
            try:
                process.wait(max(deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                process.kill()
                print(
                    f"{PROG}: a run was still saving {grace_s:g} s after SIGTERM and was killed: "
                    "it continues from its last periodic checkpoint",
                    file=sys.stderr,
                )


def train_one(
    run: RunSpec,
    directory: Path,
    device: str,
    threads: int,
    processes: RunProcesses | None = None,
    force_resume: bool = False,
) -> str:
    """Trains one run in its own process (one of ``processes`` when given), resuming it where
    :func:`resumable`, its output appended to ``directory/train.log``; returns the state it ended
    in: :data:`STOPPED` if it can be resumed, ``failed`` if the process ended without recording
    either."""
    directory.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    command = train_command(run, directory, device, force_resume)
    with open(directory / "train.log", "a" if "--resume" in command else "w") as log:
        (processes or RunProcesses()).run(command, env=environment, stdout=log, stderr=log)
    state = run_state(directory)
    if state in END_STATES:
        return state
    return STOPPED if resumable(directory) else "failed"


Submit = Callable[[RunSpec, Path, bool], Future]
"""Starts one run (its spec, directory, and whether to force its resume) somewhere; the future's
result is the state it ended in."""


def _started(directory: Path, since: float) -> bool:
    """Whether the run wrote its ``status.json`` at or after ``since`` (a ``time.time()``)."""
    try:
        return (directory / "status.json").stat().st_mtime >= since
    except OSError:
        return False


def _ended_state(future: Future) -> tuple[str, str | None]:
    """A finished run's state, and why its task failed when it raised (never re-raised: one run's
    failure does not end the sweep)."""
    try:
        return future.result(), None
    except Exception as error:
        return "failed", f"{type(error).__name__}: {error}".splitlines()[0]


def _record_failure(directory: Path, error: str) -> None:
    """Marks a run ``failed`` whose task died before it could record an end state itself."""
    status = _status(directory)
    if status.get("state") not in END_STATES:
        directory.mkdir(parents=True, exist_ok=True)
        write_json(
            directory / "status.json",
            {"state": "failed", "error": error, "env_steps": status.get("env_steps", 0)},
        )


def run_sweep(
    runs: list[RunSpec],
    suite_results: Path,
    submit: Submit,
    redo: bool = False,
    progress_every_s: float = PROGRESS_EVERY_S,
    force_resume: bool = False,
) -> Counter:
    """Every run not kept from before (every run with ``redo``, their checkpoints discarded),
    started through ``submit`` (resuming despite changes with ``force_resume``);
    returns the count of each end state (``kept`` for the runs skipped). Shows the sweep's
    progress (:class:`bench.progress.Progress`; where output is not a terminal, a line every
    ``progress_every_s`` seconds, 0 for none): env steps of all runs, runs done / diverged /
    failed / running, the running runs' latest mean returns, env steps per second and the time
    left; and a line at each run's end, with its state and return."""
    directories = {run: run.directory(suite_results) for run in runs}
    todo = [run for run in runs if redo or run_state(directories[run]) not in KEPT_STATES]
    if redo:
        for run in todo:
            discard_checkpoints(directories[run])
    states = Counter({"kept": len(runs) - len(todo)})
    resumed_from = {run: resumed_steps(directories[run]) for run in todo}
    progress = Progress(sum(run.steps for run in todo), label="sweep", every_s=progress_every_s)
    since = time.time()
    futures = {run: submit(run, directories[run], force_resume) for run in todo}
    finished: set[RunSpec] = set()
    while len(finished) < len(todo):
        time.sleep(1.0)
        for run, future in futures.items():
            if run not in finished and future.done():
                finished.add(run)
                state, error = _ended_state(future)
                if error:
                    _record_failure(directories[run], error)
                states[state] += 1
                progress.write(
                    f"{_name(run)}: {state}"
                    + (f" ({error})" if error else _return_text(_status(directories[run])))
                )
        running = [run for run in todo if run not in finished and _started(directories[run], since)]
        statuses = {run: _status(directories[run]) for run in running}
        steps = sum(run.steps for run in finished)
        steps += sum(min(run.steps, int(status.get("env_steps") or 0)) for run, status in statuses.items())
        steps += sum(resumed_from[run] for run in todo if run not in finished and run not in statuses)
        returns = [f"{_name(run)}{_return_text(statuses[run])}" for run in running[:RUNS_SHOWN]]
        more = f", {len(running) - RUNS_SHOWN} more" if len(running) > RUNS_SHOWN else ""
        progress.update(
            steps,
            f"runs done {states['done']} / diverged {states['diverged']} / failed {states['failed']}"
            + (f" / stopped {states[STOPPED]}" if states[STOPPED] else "")
            + f" / running {len(running)} of {len(todo)}"
            + (f" ({', '.join(returns)}{more})" if running else ""),
        )
    progress.close()
    return states


RUNS_SHOWN = 4
"""Running runs named, with their latest return, in a sweep's progress line."""


def _name(run: RunSpec) -> str:
    return f"{run.env_id} {run.optimizer} seed {run.seed}"


def _return_text(status: dict) -> str:
    """`` return R`` from a run's status (the mean of its last 100 episodes), or nothing before one."""
    value = status.get("return_mean")
    return f" return {value:.1f}" if isinstance(value, int | float) else ""


@contextmanager
def local_backend(workers: int, device: str) -> Iterator[Submit]:
    """Runs on this machine, ``workers`` at a time, each with an equal share of the cores. On exit
    (early, when the sweep raised) the runs not started are dropped and those running are stopped."""
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = RunProcesses()
    with ThreadPoolExecutor(workers) as pool:
        try:
            yield lambda run, directory, force_resume: pool.submit(
                train_one, run, directory, device, threads, processes, force_resume
            )
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            processes.stop()


def summary_line(states: Counter) -> str:
    """The end states of a sweep in one line, e.g. ``10 done, 1 diverged, 4 kept``."""
    parts = [f"{states[key]} {key}" for key in (*END_STATES, STOPPED, "kept") if states[key]]
    return ", ".join(parts) or "no runs"
