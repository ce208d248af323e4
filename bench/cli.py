"""The ``acktr-bench`` command line."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

from algorithms.config import RunConfig, parse_settings
from algorithms.envs import CLASSIC_IDS, DOMAINS, MUJOCO_IDS, Episode
from algorithms.errors import ConfigError
from algorithms.optim import OPTIMIZERS
from bench import PROG, report_command, run_command, timing_command
from bench.progress import Progress, add_progress_option
from bench.provenance import provenance
from bench.results import RunWriter
from bench.sb3_reference import ALGORITHMS, REFERENCE_DOMAINS, ReferenceConfig
from bench.trainers import RUN_OPTIMIZERS, resolve_run, train_run

EXAMPLE_ENVS = {
    "atari": "ALE/<Game>-v5 or <Game>NoFrameskip-v4, e.g. ALE/Pong-v5, BreakoutNoFrameskip-v4 "
    "(protocol chosen by env.protocol: paper | v5)",
    "mujoco": " ".join(MUJOCO_IDS),
    "classic": " ".join(CLASSIC_IDS),
}


class ProgressLogger:
    """Wraps a run logger with the run's progress (:class:`bench.progress.Progress`): env steps,
    steps/s, the latest mean return and the time left."""

    def __init__(
        self, inner: RunWriter, config: RunConfig | ReferenceConfig, every_s: float, enabled: bool
    ) -> None:
        self.inner = inner
        label = f"{config.env_id} {config.optimizer_name} seed {config.seed}"
        self.progress = Progress(config.steps, label=label, every_s=every_s, enabled=enabled)

    def log_episodes(self, env_steps: int, episodes: list[Episode]) -> None:
        self.inner.log_episodes(env_steps, episodes)

    def log_update(self, row: dict[str, float]) -> None:
        self.inner.log_update(row)
        latest = row["return_mean"]
        self.progress.update(int(row["env_steps"]), f"return {latest:.1f}" if math.isfinite(latest) else "")

    def close(self) -> None:
        self.progress.close()


def run_training(
    config: RunConfig | ReferenceConfig, out: Path, show_progress: bool, progress_every_s: float
) -> str:
    """Train one run into ``out``, showing its progress (where output is not a terminal, a line every
    ``progress_every_s`` seconds); returns its final state. Failures are recorded, never lost."""
    writer = RunWriter(out, config, provenance())
    logger = ProgressLogger(writer, config, progress_every_s, show_progress)
    try:
        result = train_run(config, logger)
    except Exception as error:  # a run that crashes is recorded as failed, with the reason
        writer.finish("failed", f"{type(error).__name__}: {error}")
        raise
    finally:
        logger.close()
    writer.finish(result.state, result.error, result.env_state)
    return result.state


def cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if (out / "status.json").exists() and not args.force:
        raise ConfigError(f"run directory {str(out)!r} already holds a run; pass --force to overwrite it")
    config = resolve_run(
        args.env,
        args.optimizer,
        args.steps,
        seed=args.seed,
        device=args.device,
        num_envs=args.num_envs,
        overrides=parse_settings(args.set),
    )
    try:
        state = run_training(config, out, not args.quiet, args.progress_every)
    except ConfigError:
        raise  # bad input seen only once the env is built (a net too big for ng): one line, exit 2
    except Exception as error:
        print(f"{PROG}: run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if state != "done":
        status = (out / "status.json").read_text()
        print(f"{PROG}: run {state}: {status.strip()}", file=sys.stderr)
        return 1
    print(f"run done: {out}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print("optimizers:")
    for entry in OPTIMIZERS.values():
        print(f"  {entry.name:<7} {entry.summary} [{', '.join(entry.presets)}]")
    for name, algorithm in ALGORITHMS.items():
        summary = f"Stable-Baselines3's {algorithm} with its defaults (a reference)"
        print(f"  {name:<7} {summary} [{', '.join(REFERENCE_DOMAINS)}]")
    print("envs:")
    for domain in DOMAINS:
        print(f"  {domain:<8} {EXAMPLE_ENVS[domain]}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Second-order optimizers for deep RL, compared.")
    commands = parser.add_subparsers(dest="command", required=True)

    train_cmd = commands.add_parser(
        "train",
        help="train one run into a run directory",
        description="Train one run into a run directory (config.json, progress.csv, episodes.csv, "
        "status.json).",
        epilog="exit status: 0 when the run is done; 1 when it diverged or failed (the run directory "
        "says why); 2 on bad input, with one line naming it",
    )
    train_cmd.add_argument(
        "--env", required=True, help="Gymnasium id, e.g. CartPole-v1, ALE/Pong-v5 (see list)"
    )
    train_cmd.add_argument("--optimizer", required=True, help=f"one of: {', '.join(RUN_OPTIMIZERS)}")
    train_cmd.add_argument("--steps", required=True, type=int, help="env steps (agent steps, not frames)")
    train_cmd.add_argument(
        "--seed", type=int, default=0, help="seeds the envs, the net and the sampling (default: 0)"
    )
    train_cmd.add_argument(
        "--device", default="auto", help="auto (CUDA when present; the default), cpu or cuda"
    )
    train_cmd.add_argument(
        "--num-envs", type=int, help="override the preset's env count (default: the preset's)"
    )
    train_cmd.add_argument("--out", required=True, help="run directory to write")
    train_cmd.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a setting (repeatable)"
    )
    train_cmd.add_argument("--force", action="store_true", help="overwrite an existing run directory")
    train_cmd.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    add_progress_option(train_cmd)
    train_cmd.set_defaults(handler=cmd_train)

    list_cmd = commands.add_parser("list", help="list optimizers and supported envs")
    list_cmd.set_defaults(handler=cmd_list)

    timing_command.add_parser(commands)
    report_command.add_parser(commands)
    run_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
