"""``acktr-bench timing``: time every optimizer update, save the JSON, print and check the ratios.

Exit status: 0 when every benchmark ran and every check held; 1 when a benchmark failed,
``--compare`` found a benchmark slower than the threshold or a ``--max-ratio`` limit was
exceeded; 2 on bad input.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import bench.timing
from algorithms.optim import known_optimizers
from algorithms.optim.plugins import IMPORT_PATH_FORM
from bench import PROG, exit_status_help
from bench.progress import add_progress_option
from bench.provenance import git_commit, hardware
from bench.timing.cases import Selection, parse_selection
from bench.timing_results import (
    UNIT_OPTIMIZER,
    RatioLimit,
    check_ratio_limits,
    compare_runs,
    format_spread,
    format_tables,
    machine_id,
    previous_run,
    read_timing,
    select,
)
from bench.update_cost import MODELS

TIMING_DIR = Path(bench.timing.__file__).resolve().parent
COMPARE_THRESHOLD = 0.40
"""Default ``--compare`` threshold: a benchmark fails when its median is this fraction slower than
in the previous run. Above the largest spread of one benchmark's median over three runs of the
same code on a shared 2-core CPU (36.5 %; docs/timing.md, "Timing benchmarks")."""


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "timing",
        help="time every optimizer update (pytest-benchmark), save the JSON, print ratios to sgd",
        description="Time every optimizer update (pytest-benchmark), save the JSON under "
        "OUT/<machine-id>/ and print the medians with their ratios to sgd.",
        epilog=exit_status_help(__doc__),
    )
    parser.add_argument("--device", help="cpu or cuda: time on this device only (default: every one present)")
    parser.add_argument(
        "--optimizers",
        help=f"comma-separated, of: {', '.join(known_optimizers())}, or {IMPORT_PATH_FORM} (sgd is kept)",
    )
    parser.add_argument("--models", help=f"comma-separated, of: {', '.join(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="1 round minimum and about 1 s per benchmark")
    parser.add_argument(
        "--compare",
        nargs="?",
        const="previous",
        metavar="FILE",
        help="compare with FILE, or without one the previous saved run of this machine",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=COMPARE_THRESHOLD,
        help=f"--compare fails past this slowdown of a median (default {COMPARE_THRESHOLD}: +40%%)",
    )
    parser.add_argument(
        "--max-ratio",
        action="append",
        default=[],
        metavar="OPT:CASE=R",
        help="fail when OPT's update costs more than R times sgd's on CASE (e.g. acktr:cnn-640=2.0)",
    )
    add_progress_option(parser)
    parser.add_argument("--from-json", metavar="FILE", help="read this saved run instead of timing")
    parser.add_argument(
        "--spread",
        nargs="+",
        metavar="FILE",
        help="instead of timing, show the run-to-run spread of these saved runs of the same benchmarks",
    )
    parser.add_argument(
        "--out",
        default="results/timing",
        help="where runs are saved, one folder per machine (default: results/timing)",
    )
    parser.set_defaults(handler=cmd_timing)


def run_benchmarks(selection: Selection, quick: bool, json_path: Path, progress_every_s: float) -> int:
    """Runs ``bench/timing`` under pytest-benchmark into ``json_path``, with a progress line every
    ``progress_every_s`` seconds where output is not a terminal; pytest's exit status."""
    # No ini file (-c devnull): the benchmarks run alike from a checkout or an installed package.
    command = [sys.executable, "-m", "pytest", str(TIMING_DIR), "-c", os.devnull]
    command += ["--rootdir", str(TIMING_DIR)]
    # Off a terminal, one line per benchmark (-v), so the progress lines fall between whole lines.
    command += ["-p", "no:cacheprovider", "--no-header", "-q" if sys.stdout.isatty() else "-v"]
    command += ["--benchmark-enable", "--benchmark-quiet"]
    command += ["--benchmark-json", str(json_path)]
    for option, names in (
        ("--timing-devices", selection.devices),
        ("--timing-optimizers", selection.optimizers),
        ("--timing-models", selection.models),
    ):
        command += [option, ",".join(names)] if names else []
    command += ["--timing-quick"] if quick else []
    command += ["--timing-progress-every", str(progress_every_s)]
    # Started from a pytest-xdist worker (as by the tests), its variables would tell
    # pytest-benchmark that this run is one of xdist's too, and it would time nothing.
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_XDIST_")}
    return subprocess.run(command, env=environment).returncode


def _saved_name() -> str:
    commit = git_commit()["commit"]
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + f"-{(commit or 'nogit')[:7]}.json"


def cmd_timing(args: argparse.Namespace) -> int:
    out = Path(args.out)
    limits = [RatioLimit.parse(text) for text in args.max_ratio]
    selection = parse_selection(args.device, args.optimizers, args.models)
    if selection.optimizers:  # the unit of every ratio
        selection = replace(
            selection, optimizers=tuple(dict.fromkeys([UNIT_OPTIMIZER, *selection.optimizers]))
        )
    if args.spread:
        print(format_spread([select(read_timing(Path(file))[0], selection) for file in args.spread]))
        return 0
    if args.from_json:
        path = Path(args.from_json)
        frame, provenance = read_timing(path)
        frame = select(frame, selection)
    else:
        selection = replace(selection, devices=selection.timed_devices)  # refuses one this machine lacks
        directory = out / machine_id(hardware())
        directory.mkdir(parents=True, exist_ok=True)
        scratch = directory / f".running-{os.getpid()}.json"
        try:
            status = run_benchmarks(selection, args.quick, scratch, args.progress_every)
            if status != 0 or not scratch.exists():
                print(f"{PROG}: a benchmark failed (pytest exit {status}); nothing saved", file=sys.stderr)
                return 1
            path = directory / _saved_name()
            os.replace(scratch, path)
        finally:
            scratch.unlink(missing_ok=True)
        frame, provenance = read_timing(path)
        print(f"saved {path}")
    print(format_tables(frame))
    failures = check_ratio_limits(frame, limits)
    if args.compare:
        previous = (
            Path(args.compare)
            if args.compare != "previous"
            else previous_run(out / machine_id(provenance["hardware"]), path)
        )
        if previous is None:
            print(f"\nno previous run of this machine under {out} to compare with")
        else:
            table, slower = compare_runs(frame, read_timing(previous)[0], args.threshold)
            print(f"\ncompared with {previous}:\n{table}")
            failures += slower
    for failure in failures:
        print(f"{PROG}: timing check failed: {failure}", file=sys.stderr)
    return 1 if failures else 0
