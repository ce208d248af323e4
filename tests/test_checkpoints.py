"""Checkpoints and resume with real processes and files: killed runs continue to the progress an
uninterrupted run makes, SIGTERM saves before exiting, bad checkpoints and changed configs are
refused, and the sweep resumes what it finds running."""

import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from algorithms.presets import resolve_config
from bench import runner
from bench.checkpoints import RunCheckpoints, load_checkpoint
from bench.results import RunWriter, is_wall_clock_column, read_run
from bench.suites import RunSpec
from bench.symmetric_packing import MIN_PACKED_SIZE, PackedSymmetric, pack, unpack


def start_train(cli, env_id, optimizer, steps, out, *settings):
    """An ``acktr-bench train`` process, started and left running."""
    command = [cli.executable, *cli.train_args(env_id, optimizer, steps, 1, out, *settings), "--quiet"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def checkpoint_update(out) -> int:
    """The update of the run's named checkpoint (0 before one)."""
    try:
        return json.loads((out / "checkpoint.json").read_text())["updates"]
    except (OSError, ValueError):
        return 0


def kill_after_checkpoint(process, out, update: int) -> int:
    """SIGKILLs ``process`` as soon as its checkpoint has reached ``update``; returns the update of
    the checkpoint it left (the process must still have been running: that is the point)."""
    deadline = time.monotonic() + 120
    while checkpoint_update(out) < update and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be killed: give it a larger budget"
    process.kill()
    process.wait()
    return checkpoint_update(out)


def learning_columns(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if not is_wall_clock_column(c)]]


# Budgets: several updates past the kill. The MuJoCo presets take 2500 env steps an update, with
# the separate critic in acktr and kfac alike; kfac there also carries its Levenberg-Marquardt λ.
# The CartPole run keeps a progress row every 480 env steps (3 updates), so a row is unkept when
# it stops: the resumed run keeps the same rows as the uninterrupted one.
KILLED_RUNS = [
    ("CartPole-v1", "acktr", 24_000, 20, ("log.rows=50",)),
    ("InvertedPendulum-v5", "acktr", 20_000, 3, ()),
    ("InvertedPendulum-v5", "kfac", 20_000, 3, ()),
]


@pytest.mark.parametrize(("env_id", "optimizer", "steps", "kill_at", "settings"), KILLED_RUNS)
def test_a_killed_run_resumes_to_the_progress_of_an_uninterrupted_one(
    cli, tmp_path, done_status, env_id, optimizer, steps, kill_at, settings
):
    """SIGKILLed after a checkpoint, resumed: the run ends ``done`` at its budget with every
    progress row it keeps and every episode, equal (clock columns aside) to those of the same seed
    run without a stop, and ``config.json`` records the resume with the envs restored."""
    whole = tmp_path / "whole"
    assert start_train(cli, env_id, optimizer, steps, whole, *settings).wait() == 0
    cut = tmp_path / "cut"
    process = start_train(cli, env_id, optimizer, steps, cut, *settings, "checkpoint.every_s=0.02")
    killed_at = kill_after_checkpoint(process, cut, kill_at)
    assert read_run(cut).status["state"] == "running"

    resumed = cli("train", "--out", str(cut), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    expected, record = read_run(whole), read_run(cut)
    assert record.status == done_status(record, steps)
    pd.testing.assert_frame_equal(learning_columns(record.progress), learning_columns(expected.progress))
    pd.testing.assert_frame_equal(record.episodes, expected.episodes)
    assert (record.progress["wall_time_s"].diff().dropna() > 0).all()
    assert record.progress["env_steps"].iloc[-1] == steps
    if settings:  # sampled: fewer rows than updates
        assert len(record.progress) < record.progress["updates"].iloc[-1]
    (resume,) = record.config["resumes"]
    assert resume["updates"] == killed_at and resume["envs"] == "restored" and resume["forced"] == []
    assert not (cut / "checkpoint.json").exists() and not (cut / "checkpoints").exists()
    assert torch.load(cut / "agent.pt", weights_only=True).keys() == torch.load(whole / "agent.pt").keys()


def test_sigterm_saves_an_atari_run_which_resumes_to_its_budget(cli, tmp_path):
    """SIGTERM ends a Pong run after its current update with a checkpoint (exit 128 + 15, still
    ``running``); resumed, its games restart and the run ends at its budget with one progress row
    per update, none lost or repeated."""
    out = tmp_path / "pong"
    process = start_train(cli, "ALE/Pong-v5", "sgd", 2_000, out, "rollout.num_envs=4")
    while not (out / "status.json").exists():
        time.sleep(0.01)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM, process.stderr.read()
    status = read_run(out).status
    assert status["state"] == "running" and status["error"].startswith("stopped by SIGTERM after update")
    stopped_at = checkpoint_update(out)
    assert 0 < stopped_at < 100

    resumed = cli("train", "--out", str(out), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    record = read_run(out)
    assert record.status["state"] == "done" and record.status["env_steps"] == 2_000
    assert record.progress["updates"].tolist() == list(range(1, 101))
    assert record.progress["env_steps"].tolist() == list(range(20, 2_001, 20))
    (resume,) = record.config["resumes"]
    assert resume["updates"] == stopped_at and resume["envs"] == "restarted"


@pytest.fixture
def stopped_run(cli, tmp_path):
    """A CartPole ``acktr`` run SIGKILLed after a checkpoint, its directory."""
    out = tmp_path / "run"
    process = start_train(cli, "CartPole-v1", "acktr", 40_000, out, "checkpoint.every_s=0.02")
    kill_after_checkpoint(process, out, 5)
    return out


def test_a_half_written_checkpoint_is_ignored_and_a_corrupt_one_refused(cli, stopped_run):
    named = stopped_run / json.loads((stopped_run / "checkpoint.json").read_text())["file"]
    (stopped_run / "checkpoints" / ".update-999.pt.x1y2.tmp").write_bytes(named.read_bytes()[:1000])
    good = named.read_bytes()
    named.write_bytes(good[:-10] + bytes(10))
    progress = (stopped_run / "progress.csv").read_text()
    refused = cli("train", "--out", str(stopped_run), "--resume")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "does not match its SHA-256" in refused.stderr
    assert str(named) in refused.stderr and (stopped_run / "progress.csv").read_text() == progress

    named.write_bytes(good)
    resumed = cli("train", "--out", str(stopped_run), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert read_run(stopped_run).status["env_steps"] == 40_000


def test_a_failed_save_keeps_the_previous_checkpoint(tmp_path):
    """A checkpoint whose writing fails half-way (here: a state torch.save cannot pickle) leaves
    the previous one named, whole and loadable, and no temporary file behind."""
    writer = RunWriter(tmp_path, resolve_config("CartPole-v1", "sgd", 100), {})
    checkpoints = RunCheckpoints(tmp_path, 1.0, writer)
    good = {"counters": {"updates": 1, "env_steps": 40}, "weights": torch.ones(3)}
    checkpoints.save(good)
    with pytest.raises(Exception, match="pickle"):
        checkpoints.save({"counters": {"updates": 2, "env_steps": 80}, "bad": lambda: None})
    assert json.loads((tmp_path / "checkpoint.json").read_text())["updates"] == 1
    assert [path.name for path in (tmp_path / "checkpoints").iterdir()] == ["update-1.pt"]
    assert torch.equal(load_checkpoint(tmp_path, "cpu")["weights"], good["weights"])


def test_symmetric_matrices_are_stored_as_their_upper_triangle_and_read_back_bit_for_bit():
    """An exactly symmetric matrix is packed to its upper triangle; a matrix one entry off
    symmetric, a small one and a vector are kept as they are."""
    rows = torch.randn(50, 40, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    factor = (rows.T @ rows + (rows.T @ rows).T) / 2
    skewed = factor.clone()
    skewed[0, 1] += 1e-12
    state = {"factors": [(factor, torch.eye(3))], "other": skewed, "vector": rows[0], "count": 7}
    packed = pack(state)
    assert isinstance(packed["factors"][0][0], PackedSymmetric)
    assert packed["factors"][0][0].upper.shape == (40 * 41 // 2,)
    assert packed["factors"][0][1] is state["factors"][0][1] and packed["other"] is skewed
    restored = unpack(packed)
    assert torch.equal(restored["factors"][0][0], factor) and restored["count"] == 7
    assert pack(restored["other"]) is skewed and torch.equal(restored["vector"], rows[0])


def test_a_kfac_checkpoint_holds_its_factors_packed(stopped_run):
    """The CartPole ``acktr`` checkpoint on disk holds every Kronecker factor of its 64-wide layers
    as an upper triangle, and reading it back gives the full matrices."""
    record = json.loads((stopped_run / "checkpoint.json").read_text())
    raw = torch.load(stopped_run / record["file"], weights_only=False)
    stored = [m for pair in raw["optimizer"]["curvature"]["factors"] for m in pair]
    assert any(isinstance(m, PackedSymmetric) for m in stored)
    assert all(isinstance(m, PackedSymmetric) or len(m) < MIN_PACKED_SIZE for m in stored)
    for A, G in load_checkpoint(stopped_run, "cpu")["optimizer"]["curvature"]["factors"]:
        assert torch.equal(A, A.T) and torch.equal(G, G.T)


def test_a_resume_with_a_changed_config_is_refused_unless_forced(cli, stopped_run):
    args = ["--env", "CartPole-v1", "--optimizer", "acktr", "--steps", "40000", "--seed", "1"]
    args += ["--out", str(stopped_run), "--resume", "--quiet", "--set", "optimizer.lr=0.1"]
    refused = cli("train", *args)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "refused: optimizer.lr 0.25 → 0.1" in refused.stderr and "--force" in refused.stderr
    assert "resumes" not in read_run(stopped_run).config

    forced = cli("train", *args, "--force")
    assert forced.returncode == 0, forced.stderr
    record = read_run(stopped_run)
    assert record.status["state"] == "done" and record.config["optimizer"]["lr"] == 0.1
    assert record.config["resumes"][-1]["forced"] == ["optimizer.lr 0.25 → 0.1"]


def test_the_sweep_resumes_a_run_it_finds_running_with_a_checkpoint(stopped_run, tmp_path):
    """``run`` continues a run found ``running`` with a checkpoint, and starts over one without."""
    spec = RunSpec("CartPole-v1", "acktr", 1, 40_000, ())
    assert "--resume" in runner.train_command(spec, stopped_run, "cpu")
    assert "--force" not in runner.train_command(spec, stopped_run, "cpu")
    forced = runner.train_command(spec, stopped_run, "cpu", force_resume=True)
    assert forced[forced.index("--resume") + 1] == "--force"
    saved_at = json.loads((stopped_run / "checkpoint.json").read_text())["env_steps"]
    assert runner.resumed_steps(stopped_run) == saved_at > 0  # the sweep's progress starts there
    state = runner.train_one(spec, stopped_run, "cpu", threads=1)
    assert state == "done" and len(read_run(stopped_run).config["resumes"]) == 1
    fresh = tmp_path / "fresh"
    assert "--resume" not in runner.train_command(spec, fresh, "cpu")
    assert runner.resumed_steps(fresh) == runner.resumed_steps(stopped_run) == 0


def test_a_reference_run_is_not_resumed(cli, tmp_path):
    """Stable-Baselines3 runs keep no checkpoint: a resume says so in one line."""
    committed = (
        Path(__file__).resolve().parents[1] / "results" / "small-nets" / "CartPole-v1" / "sb3-a2c" / "seed0"
    )
    run = shutil.copytree(committed, tmp_path / "run")
    (run / "status.json").write_text('{"state": "running"}')
    refused = cli("train", "--out", str(run), "--resume")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "as sb3-a2c: reference runs keep no checkpoint" in refused.stderr
