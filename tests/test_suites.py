"""Suites (bench/suites/*.toml) and acktr-bench run: validation, resume after SIGKILL, failures."""

import json
import os
import signal
import subprocess
import time

import pytest

from algorithms.config import ConfigError
from bench.results import read_run
from bench.suites import available, load_suite

SUITE = """description = "two CartPole runs"
seeds = [0]

[[tasks]]
env = "CartPole-v1"
steps = {first}
optimizers = ["sgd"]

[[tasks]]
env = "CartPole-v1"
steps = {second}
optimizers = ["sgd"]
seeds = [1]
"""


def test_the_shipped_suites_load_with_their_runs():
    counts = {name: len(load_suite(name).runs) for name in available()}
    assert counts == {"atari-10m": 36, "mujoco-1m": 200, "small-nets": 70, "smoke": 34}
    smoke = load_suite("smoke")
    assert {(r.env_id, r.optimizer) for r in smoke.runs if r.env_id == "ALE/Pong-v5"} == {
        ("ALE/Pong-v5", name) for name in ("sgd", "acktr", "kfac")
    }


HEAD = 'description = "x"\nseeds = [0]\n'


def task(env="CartPole-v1", optimizers='["sgd"]', extra=""):
    return f'[[tasks]]\nenv = "{env}"\nsteps = 1\noptimizers = {optimizers}\n{extra}'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD + "tasks = []\nextra = 1\n", "unknown key 'extra'; accepted: description"),
        ("seeds = [0]\n" + task(), "missing key 'description'"),
        (
            'description = "x"\nseeds = ["a"]\ntasks = []\n',
            "bad seeds ['a']; expected a non-empty list of int",
        ),
        (HEAD + task(extra="foo = 2\n"), "[[tasks]] 1: unknown key 'foo'; accepted: env, steps"),
        (HEAD + task(env="Nope-v0"), "[[tasks]] 1: unknown or unsupported env id 'Nope-v0'"),
        (
            HEAD + task(env="ALE/Pong-v5", optimizers='["ng"]'),
            "[[tasks]] 1: optimizer 'ng' does not apply to atari",
        ),
        (HEAD + task(optimizers='["adam"]'), "[[tasks]] 1: unknown optimizer 'adam'"),
        (
            HEAD + task(env="ALE/Pong-v5", optimizers='["sb3-a2c"]'),
            "[[tasks]] 1: optimizer 'sb3-a2c' does not apply to atari",
        ),
        (HEAD + 'settings = ["nope=1"]\n' + task(), "[[tasks]] 1: unknown setting 'nope'"),
        ('description = "x\n', "not valid TOML"),
    ],
)
def test_a_bad_suite_is_one_line_naming_the_file_and_key(cli, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_suite(str(path))
    assert str(path) in str(error.value) and message in str(error.value)
    done = cli("run", str(path), "--dry-run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def test_bad_run_options_are_one_line(cli):
    for args, message in (
        (["nosuch"], "unknown suite 'nosuch'; accepted: atari-10m, mujoco-1m, small-nets, smoke"),
        (["smoke", "--only", "task=x"], "bad --only 'task=x'"),
        (["smoke", "--workers", "0"], "bad --workers 0"),
    ):
        done = cli("run", *args, "--dry-run")
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def _state(path):
    return json.loads((path / "status.json").read_text())["state"]


def test_a_sweep_killed_with_sigkill_resumes_keeping_finished_runs(cli, tmp_path):
    """A sweep is killed (runner and runs, SIGKILL) while one run is running; every file stays
    readable, and running the suite again keeps the finished run and redoes the other."""
    suite = tmp_path / "pair.toml"
    suite.write_text(SUITE.format(first=2_000, second=5_000_000))
    first, second = (tmp_path / "results" / "pair" / "CartPole-v1" / "sgd" / f"seed{s}" for s in (0, 1))
    sweep = subprocess.Popen(
        [cli.executable, "run", str(suite), "--results", str(tmp_path / "results"), "--workers", "2"],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        (first / "status.json").exists() and _state(first) == "done" and (second / "progress.csv").exists()
    ):
        time.sleep(0.5)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert _state(first) == "done" and _state(second) == "running"
    for run in (first, second):
        record = read_run(run)
        assert len(record.progress) > 0
    finished_config = (first / "config.json").stat().st_mtime_ns

    suite.write_text(SUITE.format(first=2_000, second=2_000))
    listed = cli("run", str(suite), "--results", str(tmp_path / "results"), "--dry-run", check=True)
    assert "done" in listed.stdout and "running" in listed.stdout
    done = cli("run", str(suite), "--results", str(tmp_path / "results"), "--workers", "2")
    assert done.returncode == 0, done.stderr
    assert "1 done, 1 kept" in done.stdout
    assert (first / "config.json").stat().st_mtime_ns == finished_config
    assert _state(second) == "done" and read_run(second).progress["env_steps"].iloc[-1] >= 2_000


def test_a_failed_run_is_recorded_and_the_sweep_goes_on(cli, tmp_path):
    suite = tmp_path / "mixed.toml"
    suite.write_text(
        HEAD
        + task(optimizers='["ng", "sgd"]', extra='settings = ["net.hidden=256,256"]\n').replace(
            "steps = 1", "steps = 1_000"
        )
    )
    done = cli(
        "run",
        str(suite),
        "--results",
        str(tmp_path),
        "--workers",
        "1",
        "--report",
        "--reports",
        str(tmp_path),
    )
    assert done.returncode == 1
    assert "1 done, 1 failed" in done.stdout
    failed = read_run(tmp_path / "mixed" / "CartPole-v1" / "ng" / "seed0")
    assert failed.status["state"] == "failed" and "dense Fisher" in failed.status["error"]
    assert read_run(tmp_path / "mixed" / "CartPole-v1" / "sgd" / "seed0").status["state"] == "done"
    assert "dense Fisher" in (tmp_path / "mixed" / "CartPole-v1" / "ng" / "seed0" / "train.log").read_text()
    runs = (tmp_path / "mixed" / "runs.csv").read_text()
    assert "CartPole-v1/ng/seed0" in runs and "failed" in runs
