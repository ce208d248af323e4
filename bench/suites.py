"""Named suites: TOML files in ``bench/suites/``, validated on load and expanded to runs.

A suite file::

    description = "what it is for"
    seeds = [0, 1]                      # every task's seeds, unless the task sets its own
    settings = ["key=value", ...]       # --set settings of every run (optional)

    [[tasks]]
    env = "CartPole-v1"
    steps = 20_000                      # env steps of each run
    optimizers = ["sgd", "acktr"]
    settings = ["key=value", ...]       # more settings for this task's runs (optional)
    seeds = [0, 1, 2]                   # optional

Every run is checked as ``acktr-bench train`` would check it (env, optimizer, where the
optimizer applies, every setting); a bad one is a :class:`ConfigError` of one line naming the
file and the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algorithms.config import parse_settings
from algorithms.errors import ConfigError, did_you_mean
from bench.results import run_directory
from bench.trainers import resolve_run

SUITES_DIR = Path(__file__).with_name("suites")
SUITE_KEYS = ("description", "seeds", "settings", "tasks")
TASK_KEYS = ("env", "steps", "optimizers", "seeds", "settings")


@dataclass(frozen=True)
class RunSpec:
    """One run of a suite."""

    env_id: str
    optimizer: str
    seed: int
    steps: int
    settings: tuple[str, ...]

    def directory(self, suite_results: Path) -> Path:
        """:func:`bench.results.run_directory` of this run."""
        return run_directory(suite_results, self.env_id, self.optimizer, self.seed)


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    path: Path
    runs: tuple[RunSpec, ...]


def available() -> list[str]:
    return sorted(path.stem for path in SUITES_DIR.glob("*.toml"))


def suite_path(name: str) -> Path:
    """A suite's file: ``bench/suites/NAME.toml``, or NAME itself when it is a path to a file."""
    path = Path(name)
    if path.suffix == ".toml" and path.is_file():
        return path
    path = SUITES_DIR / f"{name}.toml"
    if not path.is_file():
        raise ConfigError(
            f"unknown suite {name!r}{did_you_mean(name, available())}; accepted: {', '.join(available())} "
            "or a path to a .toml file"
        )
    return path


def _check_keys(
    where: str, table: dict[str, Any], accepted: tuple[str, ...], required: tuple[str, ...]
) -> None:
    unknown = sorted(set(table) - set(accepted))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}; accepted: {', '.join(accepted)}")
    for key in required:
        if key not in table:
            raise ConfigError(f"{where}: missing key {key!r}")


def _typed(where: str, key: str, value: Any, kind: type, item: type | None = None) -> Any:
    ok = isinstance(value, kind) and not isinstance(value, bool) if kind is int else isinstance(value, kind)
    if ok and item is not None:
        ok = bool(value) and all(isinstance(v, item) and not isinstance(v, bool) for v in value)
    if not ok:
        expected = f"a non-empty list of {item.__name__}" if item else kind.__name__
        raise ConfigError(f"{where}: bad {key} {value!r}; expected {expected}")
    return value


def load_suite(name: str) -> Suite:
    """Reads and validates a suite; raises :class:`ConfigError` naming the file and the key."""
    path = suite_path(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    _check_keys(str(path), data, SUITE_KEYS, ("description", "seeds", "tasks"))
    description = _typed(str(path), "description", data["description"], str)
    seeds = _typed(str(path), "seeds", data["seeds"], list, int)
    shared = tuple(_typed(str(path), "settings", data["settings"], list, str)) if "settings" in data else ()
    tasks = _typed(str(path), "tasks", data["tasks"], list, dict)
    runs = []
    for number, task in enumerate(tasks, start=1):
        where = f"{path} [[tasks]] {number}"
        _check_keys(where, task, TASK_KEYS, ("env", "steps", "optimizers"))
        env_id = _typed(where, "env", task["env"], str)
        steps = _typed(where, "steps", task["steps"], int)
        optimizers = _typed(where, "optimizers", task["optimizers"], list, str)
        task_seeds = _typed(where, "seeds", task.get("seeds", seeds), list, int)
        settings = shared + tuple(
            _typed(where, "settings", task["settings"], list, str) if "settings" in task else ()
        )
        for optimizer in optimizers:
            try:
                resolve_run(env_id, optimizer, steps, device="cpu", overrides=parse_settings(settings))
            except ConfigError as error:
                raise ConfigError(f"{where}: {error}") from None
            runs += [RunSpec(env_id, optimizer, seed, steps, settings) for seed in task_seeds]
    return Suite(path.stem, description, path, tuple(runs))
