"""``acktr-bench evaluate RUN_DIR``: a finished run's agent played on fresh envs, and a video.

Exit status: 0 when the episodes were played (and the video written); 2 on bad input (no such
run, a run without an agent, a bad ``--episodes``, a video the machine cannot render).
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from algorithms.errors import ConfigError
from algorithms.evaluation import EVALUATION_SEED_OFFSET, evaluate_policy
from bench import exit_status_help
from bench.results import AGENT_FILE, read_agent, read_json
from bench.sb3_reference import ALGORITHMS
from bench.trainers import config_of_record
from bench.video import VideoWriter


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate",
        help="play a finished run's agent on fresh envs; optionally write a video",
        description="Play the agent a finished run kept (RUN_DIR/agent.pt) on fresh envs of its id "
        "and protocol, its observations normalized by the training statistics, and print the mean "
        "and standard deviation of the raw episode returns.",
        epilog=exit_status_help(__doc__),
    )
    parser.add_argument("run_dir", help="a run directory that ended done or diverged")
    parser.add_argument("--episodes", type=int, default=10, help="episodes to play (default: 10)")
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="take the policy's most likely action (default: sample it, as in training)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        help=f"seed of the env and the sampling (default: the run's + {EVALUATION_SEED_OFFSET})",
    )
    parser.add_argument(
        "--video",
        help="write the first episode to this MP4 file (Atari: the agent's own 84×84 frames, enlarged)",
    )
    parser.set_defaults(handler=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if args.episodes < 1:
        raise ConfigError(f"bad --episodes {args.episodes}; accepted: a positive number of episodes")
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"no run in {str(run_dir)!r}: it has no config.json")
    record = read_json(run_dir / "config.json")
    if record["optimizer"]["name"] in ALGORITHMS:
        raise ConfigError(
            f"run {str(run_dir)!r} is a reference run ({record['optimizer']['name']}): it keeps no agent"
        )
    if not (run_dir / AGENT_FILE).is_file():
        state = read_json(run_dir / "status.json").get("state")
        raise ConfigError(
            f"run {str(run_dir)!r} has no {AGENT_FILE} (it is {state}); "
            "accepted: a run that ended done or diverged"
        )
    config = config_of_record(record)
    seed = args.seed if args.seed is not None else config.seed + EVALUATION_SEED_OFFSET
    video = VideoWriter(Path(args.video)) if args.video is not None else None
    evaluation = evaluate_policy(
        config,
        *read_agent(run_dir),
        args.episodes,
        seed,
        deterministic=args.deterministic,
        frames=video,
    )
    returns = evaluation.returns
    spread = statistics.stdev(returns) if len(returns) > 1 else 0.0
    policy = "most likely actions" if args.deterministic else "sampled actions"
    name = f"{config.env_id} {config.optimizer_name} seed {config.seed}"
    length = statistics.mean(evaluation.lengths)
    print(
        f"{name}: return {statistics.mean(returns):.2f} ± {spread:.2f} over {len(returns)} episodes "
        f"(mean length {length:.0f} steps; {policy}; env seed {seed})"
    )
    if video is not None:
        video.close()
        print(f"video: {args.video} ({video.frames} frames at {video.frames_per_second:g} fps)")
    return 0
