"""``acktr-bench report SUITE``: the suite's results as one standalone HTML page.

Exit status: 0 when the page was written (unreadable run directories are listed on it and named
on stderr); 2 on bad input (no results, a bad timing file, a bad ``--reps``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from algorithms.errors import ConfigError
from bench import PROG, exit_status_help

DEFAULT_REPS = 2000


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "report",
        help="turn results/SUITE into reports/SUITE/index.html (and CSV tables)",
        description="Turn a suite's run directories and the machine's latest timing run into one "
        "standalone HTML page, OUT/SUITE/index.html, with the tables as CSV files beside it.",
        epilog=exit_status_help(__doc__),
    )
    parser.add_argument("suite", help="the suite's name: its runs are in RESULTS/SUITE")
    parser.add_argument("--results", default="results", help="results directory (default: results)")
    parser.add_argument("--out", default="reports", help="reports directory (default: reports)")
    parser.add_argument(
        "--timing", help="a saved acktr-bench timing JSON (default: the newest of the runs' machine)"
    )
    parser.add_argument(
        "--reps", type=int, default=DEFAULT_REPS, help=f"bootstrap resamples (default {DEFAULT_REPS})"
    )
    parser.add_argument(
        "--no-agents",
        dest="agents",
        action="store_false",
        help="leave out each task's filmstrip of its best agent (playing it takes seconds a task)",
    )
    parser.set_defaults(handler=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    if args.reps < 1:
        raise ConfigError(f"bad --reps {args.reps}; accepted: a positive number of bootstrap resamples")
    if args.timing and not Path(args.timing).is_file():
        raise ConfigError(f"no timing file {args.timing!r}; accepted: a JSON saved by acktr-bench timing")
    timing = Path(args.timing) if args.timing else None
    write_report(args.suite, Path(args.results), Path(args.out), timing, args.reps, args.agents)
    return 0


def write_report(
    suite: str,
    results: Path,
    out: Path,
    timing_file: Path | None = None,
    reps: int = DEFAULT_REPS,
    agents: bool = True,
) -> None:
    """Write ``out/suite/index.html`` and its CSV tables from ``results/suite``, naming any unreadable
    run directory on stderr; ``agents``: with each task's best agent's filmstrip."""
    # Imported here: the report's stack (pandas, scipy, rliable, matplotlib) takes seconds to load,
    # which every train, run and --help would pay otherwise.
    from bench.report.build import build_report

    report = build_report(suite, results, out, timing_file=timing_file, reps=reps, agents=agents)
    for run, reason in report.unreadable:
        print(f"{PROG}: unreadable run {run}: {reason}", file=sys.stderr)
    print(f"report written: {report.page} ({len(report.tables)} CSV tables, {report.seconds:.1f} s)")
