"""Options, case parametrization and the round policy shared by the timing benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import pytest
import torch

from algorithms.errors import ConfigError
from algorithms.optim import optimizer_entry
from bench.progress import PROGRESS_EVERY_S, Progress
from bench.provenance import provenance
from bench.timing import cases
from bench.timing_results import STEADY_ROUNDS, drop_round_times
from bench.update_cost import MODELS

ROUND_POLICIES = {"full": (STEADY_ROUNDS, 10.0), "quick": (1, 1.0)}
"""Rounds of each benchmark: (minimum, seconds after which no round is added)."""
UNTIMED_SETTINGS = {
    "optimizer.cold_start": "0",
    "optimizer.value_cold_start": "0",
    "optimizer.value_iterations": "1",
}
"""A curvature optimizer's shortest way through every stage of its update, policy and critic alike,
when the tests run the benchmarks untimed: no cold starts and one critic update a batch (with the
preset's 25, each exact-Fisher MuJoCo case took 25 s of the tests' time, with this 5 s)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("acktr-bench timing")
    group.addoption("--timing-devices", help="comma-separated cpu, cuda (default: every one present)")
    group.addoption("--timing-optimizers", help="comma-separated registry names (default: all)")
    group.addoption("--timing-models", help=f"comma-separated models (default: all of {', '.join(MODELS)})")
    group.addoption("--timing-quick", action="store_true", help="fewer rounds per benchmark")
    group.addoption(
        "--timing-progress-every",
        type=float,
        default=PROGRESS_EVERY_S,
        help="where standard error is not a terminal, a progress line this often (seconds; 0: none)",
    )


def selection(config: pytest.Config) -> cases.Selection:
    """The cases the options choose; a bad value is a usage error naming it."""
    try:
        chosen = cases.parse_selection(
            config.getoption("--timing-devices"),
            config.getoption("--timing-optimizers"),
            config.getoption("--timing-models"),
        )
        return replace(chosen, devices=chosen.timed_devices)
    except ConfigError as error:
        raise pytest.UsageError(str(error)) from None


CASE_FIXTURES = {
    "update_case": cases.update_cases,
    "stage_case": cases.stage_cases,
    "env_case": cases.env_cases,
    "iteration_case": cases.iteration_cases,
}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    for fixture, make_cases in CASE_FIXTURES.items():
        if fixture in metafunc.fixturenames:
            chosen = make_cases(selection(metafunc.config))
            metafunc.parametrize(fixture, chosen, ids=[case.id for case in chosen])


PROGRESS = pytest.StashKey[Progress]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Benchmarks done, their rate and the time left, as lines among pytest's own where its output
    is not a terminal (on one, pytest's own progress shows)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")

    def emit(line: str) -> None:
        reporter.write_line(line)
        reporter.flush()

    session.config.stash[PROGRESS] = Progress(
        len(session.items),
        unit="benchmark",
        label="timing",
        every_s=session.config.getoption("--timing-progress-every"),
        enabled=reporter is not None and not reporter.isatty,
        emit=emit,
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    yield
    progress = item.config.stash[PROGRESS]
    progress.update(progress.done + 1, f"last {item.name}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    if PROGRESS in session.config.stash:
        session.config.stash[PROGRESS].close()


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: list, output_json: dict) -> None:
    output_json["provenance"] = provenance()
    drop_round_times(output_json)


@dataclass
class Timing:
    """Runs one benchmark: the first round alone sizes the number of rounds from the policy."""

    benchmark: Any
    min_rounds: int
    max_time_s: float

    def settings(self, optimizer: str) -> dict[str, str]:
        """Settings over the optimizer's presets: none when timed; where benchmarks are disabled
        (the tests run each once, untimed), :data:`UNTIMED_SETTINGS` for a curvature optimizer."""
        untimed = self.benchmark.disabled and optimizer_entry(optimizer).curvature is not None
        return dict(UNTIMED_SETTINGS) if untimed else {}

    def run(
        self,
        target: Callable[..., object],
        info: dict[str, Any],
        iterations: int = 1,
        setup: Callable[[], tuple[tuple, dict]] | None = None,
    ) -> None:
        """Times ``target``: each round calls ``setup`` (untimed), then ``target`` ``iterations``
        times; the statistics are per call. ``info`` goes to the JSON's ``extra_info``."""
        self.benchmark.extra_info.update(info, torch=torch.__version__)
        if self.benchmark.disabled:  # the benchmark runs once, untimed
            self.benchmark.pedantic(target, setup=setup, iterations=iterations)
            return
        args, kwargs = setup() if setup else ((), {})
        start = time.perf_counter()
        for _ in range(iterations):
            target(*args, **kwargs)
        first_round = time.perf_counter() - start
        rounds = max(self.min_rounds, math.floor(self.max_time_s / max(first_round, 1e-9)))
        self.benchmark.pedantic(target, setup=setup, iterations=iterations, rounds=rounds)


@pytest.fixture
def timing(benchmark: Any, request: pytest.FixtureRequest) -> Timing:
    policy = "quick" if request.config.getoption("--timing-quick") else "full"
    return Timing(benchmark, *ROUND_POLICIES[policy])
