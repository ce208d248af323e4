"""``acktr-bench run SUITE``: every run of a suite, resumable, then optionally its report.

Exit status: 0 when no run failed (a diverged run is an outcome, recorded like a finished one);
1 when a run failed (recorded in its run directory, and the others went on) or was stopped on its
own by a signal (it keeps its checkpoint: running the suite again continues it); 2 on bad input;
143 when stopped by SIGTERM, which, like Ctrl-C, stops the runs it had running: each saves a
checkpoint first, and running the suite again continues them from there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from algorithms.errors import ConfigError
from bench import PROG, exit_status_help
from bench.progress import add_progress_option
from bench.report_command import write_report
from bench.runner import (
    STOPPED,
    local_backend,
    parse_only,
    run_state,
    run_sweep,
    select_runs,
    summary_line,
)
from bench.suites import available, load_suite

BACKENDS = ("local", "ray")


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "run",
        help="run every run of a suite (bench/suites/SUITE.toml), resumable",
        description="Run every run of a suite, each in its own process writing RESULTS/SUITE/ENV/"
        "OPTIMIZER/seedK; runs already done or diverged are kept, the others are run again.",
        epilog=exit_status_help(__doc__),
    )
    parser.add_argument("suite", help=f"one of: {', '.join(available())}, or a path to a suite .toml file")
    parser.add_argument("--results", default="results", help="results directory (default: results)")
    parser.add_argument(
        "--backend",
        default="local",
        help="local: processes on this machine (default); ray: Ray tasks (on --ray-address, or a Ray "
        "instance started here)",
    )
    parser.add_argument(
        "--ray-address", help="address of an existing Ray cluster to join (auto: the one on this machine)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="runs at a time (default: the cores here, or the Ray cluster's CPUs)",
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument(
        "--only", help="filters KEY=VALUE,… with KEY env, optimizer or seed (repeat a key for any of)"
    )
    parser.add_argument(
        "--redo", action="store_true", help="run every selected run again, even those done or diverged"
    )
    parser.add_argument(
        "--force-resume",
        action="store_true",
        help="continue runs found running from their checkpoints even where the config, code commit or "
        "package versions changed since (each resume records what changed)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the runs and their states, run nothing")
    parser.add_argument("--report", action="store_true", help="then write REPORTS/SUITE/index.html")
    parser.add_argument("--reports", default="reports", help="reports directory (default: reports)")
    add_progress_option(parser)
    parser.set_defaults(handler=cmd_run)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    """Turns SIGTERM into an exit that unwinds the backend, so it stops the runs it started."""
    print(f"\n{PROG}: run stopped by SIGTERM; run the suite again to continue its runs", file=sys.stderr)
    raise SystemExit(128 + signum)


def cmd_run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    if args.backend not in BACKENDS:
        raise ConfigError(f"bad --backend {args.backend!r}; accepted: {', '.join(BACKENDS)}")
    if args.ray_address and args.backend != "ray":
        raise ConfigError(f"--ray-address {args.ray_address!r} needs --backend ray")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"bad --workers {args.workers}; accepted: a positive number of runs at a time")
    if args.device not in ("cpu", "cuda"):
        raise ConfigError(f"bad --device {args.device!r}; accepted: cpu, cuda")
    runs = select_runs(suite, parse_only(args.only))
    suite_results = Path(args.results) / suite.name
    if args.dry_run:
        for run in runs:
            state = run_state(run.directory(suite_results)) or "new"
            print(f"{run.env_id:<22} {run.optimizer:<7} seed {run.seed:<3} {run.steps:>10,} steps  {state}")
        print(f"{len(runs)} runs of suite {suite.name}")
        return 0
    if args.backend == "ray":
        from bench.ray_backend import ray_backend

        backend = ray_backend(args.ray_address, args.workers, args.device)
    else:
        backend = local_backend(args.workers or os.cpu_count() or 1, args.device)
    with backend as submit:
        signal.signal(signal.SIGTERM, _exit_on_sigterm)  # set after ray.init, which sets its own
        states = run_sweep(
            runs,
            suite_results,
            submit,
            redo=args.redo,
            progress_every_s=args.progress_every,
            force_resume=args.force_resume,
        )
    print(f"suite {suite.name}: {summary_line(states)}", flush=True)
    if args.report:
        write_report(suite.name, Path(args.results), Path(args.reports))
    return 0 if states["failed"] == states[STOPPED] == 0 else 1
