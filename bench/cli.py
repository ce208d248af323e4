"""The ``acktr-bench`` command line."""

from __future__ import annotations

import argparse
import math
import signal
import sys
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from algorithms.config import RunConfig, parse_settings
from algorithms.envs import CLASSIC_IDS, DOMAINS, MUJOCO_IDS, Episode
from algorithms.errors import ConfigError
from algorithms.optim import known_optimizers, refused_plugins
from algorithms.optim.plugins import IMPORT_PATH_FORM
from bench import PROG, evaluate_command, report_command, run_command, timing_command
from bench.checkpoints import RunCheckpoints, discard_checkpoints
from bench.progress import Progress, add_progress_option
from bench.provenance import provenance
from bench.results import RunWriter
from bench.resume import Resume, plan_resume
from bench.sb3_reference import ALGORITHMS, REFERENCE_DOMAINS, ReferenceConfig
from bench.trainers import resolve_run, run_optimizers, train_run

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
    config: RunConfig | ReferenceConfig,
    writer: RunWriter,
    show_progress: bool,
    progress_every_s: float,
    resume: dict[str, Any] | None = None,
) -> tuple[str, int]:
    """Train one run into ``writer``'s directory (from the learning state ``resume`` when given),
    showing its progress (where output is not a terminal, a line every ``progress_every_s``
    seconds), with checkpoints as ``config.checkpoint`` says; failures are recorded, never lost.
    Returns the state it ended in and the exit status: 0 ``done``, 1 ``diverged`` or ``failed``,
    128 + the signal's number when a stop signal ended it after a checkpoint (still ``running``)."""
    logger = ProgressLogger(writer, config, progress_every_s, show_progress)
    every_s = config.checkpoint.every_s if isinstance(config, RunConfig) else 0.0
    checkpoints = RunCheckpoints(writer.run_dir, every_s, writer) if every_s > 0 else None
    try:
        with checkpoints.on_signals() if checkpoints is not None else nullcontext():
            result = train_run(config, logger, checkpoints, resume)
    except Exception as error:  # a run that crashes is recorded as failed, with the reason
        writer.finish("failed", f"{type(error).__name__}: {error}")
        raise
    finally:
        logger.close()
    if result.state == "stopped":
        writer.flush()
        writer.write_status(
            "running",
            f"stopped by {checkpoints.stop_signal} after update {result.updates}, checkpoint saved; "
            "continue it with --resume",
        )
        return "running", 128 + signal.Signals[checkpoints.stop_signal].value
    writer.finish(result.state, result.error, result.env_state, result.policy)
    discard_checkpoints(writer.run_dir)
    return result.state, 0 if result.state == "done" else 1


def _resolved(args: argparse.Namespace) -> RunConfig | ReferenceConfig:
    return resolve_run(
        args.env,
        args.optimizer,
        args.steps,
        seed=args.seed,
        device=args.device,
        num_envs=args.num_envs,
        overrides=parse_settings(args.set),
    )


def _writer(
    args: argparse.Namespace, out: Path
) -> tuple[RunWriter, RunConfig | ReferenceConfig, Resume | None]:
    """The run directory's writer, the config and, with ``--resume``, how the run continues."""
    given = {"--env": args.env, "--optimizer": args.optimizer, "--steps": args.steps}
    missing = [name for name, value in given.items() if value is None]
    if args.resume:
        if 0 < len(missing) < len(given):
            raise ConfigError(
                f"--resume without {', '.join(missing)}; "
                "accepted: all three (checked against the run's config) or none (the run's own)"
            )
        resume = plan_resume(out, None if missing else _resolved(args), args.force)
        writer = RunWriter(out, resume.config, resume.provenance, resumes=resume.resumes)
        writer.continue_after(resume.updates, resume.env_steps)
        return writer, resume.config, resume
    if missing:
        raise ConfigError(f"missing {', '.join(missing)}; required unless --resume")
    if (out / "status.json").exists() and not args.force:
        raise ConfigError(
            f"run directory {str(out)!r} already holds a run; "
            "pass --resume to continue it or --force to overwrite it"
        )
    config = _resolved(args)
    return RunWriter(out, config, provenance()), config, None


def cmd_train(args: argparse.Namespace) -> int:
    out = Path(args.out)
    writer, config, resume = _writer(args, out)
    try:
        state, status = run_training(
            config, writer, not args.quiet, args.progress_every, resume.state if resume else None
        )
    except ConfigError:
        raise  # bad input seen only once the env is built (a net too big for ng): one line, exit 2
    except Exception as error:
        print(f"{PROG}: run failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    if state != "done":
        status_text = (out / "status.json").read_text()
        print(f"{PROG}: run {state}: {status_text.strip()}", file=sys.stderr)
        return status
    print(f"run done: {out}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    print("optimizers (name, what it is [domains] (where it comes from)):")
    for entry in known_optimizers().values():
        print(f"  {entry.name:<7} {entry.summary} [{', '.join(entry.presets)}] ({entry.origin})")
    for name, algorithm in ALGORITHMS.items():
        summary = f"Stable-Baselines3's {algorithm} with its defaults (a reference)"
        print(f"  {name:<7} {summary} [{', '.join(REFERENCE_DOMAINS)}] (stable-baselines3)")
    for reason in refused_plugins().values():
        print(f"  refused: {reason}")
    print(f"  and {IMPORT_PATH_FORM}, in sgd's first-order harness path")
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
        "says why); 2 on bad input, with one line naming it; 128 + N when signal N (SIGTERM, SIGINT) "
        "stopped it after saving a checkpoint (continue it with --resume)",
    )
    train_cmd.add_argument(
        "--env", help="Gymnasium id, e.g. CartPole-v1, ALE/Pong-v5 (see list); required unless --resume"
    )
    train_cmd.add_argument(
        "--optimizer",
        help=f"one of: {', '.join(run_optimizers())}, or {IMPORT_PATH_FORM}; required unless --resume",
    )
    train_cmd.add_argument(
        "--steps", type=int, help="env steps (agent steps, not frames); required unless --resume"
    )
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
    train_cmd.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its last checkpoint, with its own config (or with the "
        "one --env, --optimizer, --steps and the rest give, which must be the same)",
    )
    train_cmd.add_argument(
        "--force",
        action="store_true",
        help="overwrite an existing run directory; with --resume, continue despite a changed config, "
        "code commit or package versions (recorded in config.json)",
    )
    train_cmd.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    add_progress_option(train_cmd)
    train_cmd.set_defaults(handler=cmd_train)

    list_cmd = commands.add_parser("list", help="list optimizers and supported envs")
    list_cmd.set_defaults(handler=cmd_list)

    timing_command.add_parser(commands)
    report_command.add_parser(commands)
    run_command.add_parser(commands)
    evaluate_command.add_parser(commands)
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
