"""acktr-bench evaluate on real finished runs: returns, a video that decodes, bad input."""

import re

import imageio_ffmpeg
import numpy as np
import pytest

from bench.video import MACRO_BLOCK

LINE = re.compile(
    r"^(?P<name>.+): return (?P<mean>-?[\d.]+) ± (?P<std>[\d.]+) over (?P<episodes>\d+) episodes "
    r"\(mean length (?P<length>\d+) steps; (?P<policy>most likely|sampled) actions; env seed (?P<seed>\d+)\)$"
)


def finished_run(cli, tmp_path, env_id, optimizer, steps, *settings):
    out = tmp_path / "run"
    cli(*cli.train_args(env_id, optimizer, steps, 2, out, *settings), "--quiet", check=True)
    return out


def decoded_frames(path) -> tuple[dict, list[np.ndarray]]:
    frames = imageio_ffmpeg.read_frames(str(path))
    meta = next(frames)
    width, height = meta["size"]
    return meta, [np.frombuffer(frame, np.uint8).reshape(height, width, 3) for frame in frames]


# (env, optimizer, steps, settings, episodes): a Pong game of an untrained agent is ~900 steps.
VIDEO_RUNS = [
    ("CartPole-v1", "acktr", 2_000, (), 2),
    ("InvertedPendulum-v5", "sgd", 400, (), 2),  # observations normalized by the training statistics
    ("ALE/Pong-v5", "sgd", 160, ("rollout.num_envs=4",), 1),
]


@pytest.mark.parametrize(("env_id", "optimizer", "steps", "settings", "episodes"), VIDEO_RUNS)
def test_evaluate_plays_the_agent_and_writes_a_video_that_decodes(
    cli, tmp_path, env_id, optimizer, steps, settings, episodes
):
    run = finished_run(cli, tmp_path, env_id, optimizer, steps, *settings)
    video = tmp_path / "agent.mp4"
    played = cli("evaluate", str(run), "--episodes", str(episodes), "--video", str(video), check=True)
    summary, written = played.stdout.splitlines()
    match = LINE.match(summary)
    assert match and match["name"] == f"{env_id} {optimizer} seed 2" and match["episodes"] == str(episodes)
    assert match["policy"] == "sampled" and match["seed"] == "10002"
    frame_count = int(re.match(r"video: .+ \((\d+) frames at [\d.]+ fps\)$", written)[1])
    meta, frames = decoded_frames(video)
    assert len(frames) == frame_count > 10
    assert meta["size"][0] % MACRO_BLOCK == 0 and meta["size"][1] % MACRO_BLOCK == 0
    assert float(np.std(frames[len(frames) // 2])) > 5  # a picture, not a blank


@pytest.fixture(scope="module")
def cartpole_run(cli, tmp_path_factory):
    """A finished CartPole ``sgd`` run, read only."""
    return finished_run(cli, tmp_path_factory.mktemp("cartpole"), "CartPole-v1", "sgd", 400)


def test_evaluation_is_seeded(cli, cartpole_run):
    first, second = (
        cli("evaluate", str(cartpole_run), "--episodes", "3", check=True).stdout for _ in range(2)
    )
    other = cli(
        "evaluate", str(cartpole_run), "--episodes", "3", "--seed", "7", "--deterministic", check=True
    )
    assert first == second and LINE.match(first)["policy"] == "sampled"
    assert (LINE.match(other.stdout)["seed"], LINE.match(other.stdout)["policy"]) == ("7", "most likely")


def test_evaluate_refuses_what_has_no_agent(cli, tmp_path, cartpole_run):
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    (unfinished / "config.json").write_text((cartpole_run / "config.json").read_text())
    (unfinished / "status.json").write_text('{"state": "running"}')
    for args, message in [
        ([str(unfinished)], "has no agent.pt (it is running); accepted: a run that ended done or diverged"),
        ([str(tmp_path / "missing")], "it has no config.json"),
        ([str(cartpole_run), "--episodes", "0"], "bad --episodes 0; accepted: a positive number"),
    ]:
        refused = cli("evaluate", *args)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1
        assert message in refused.stderr
