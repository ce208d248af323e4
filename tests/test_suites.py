"""Suites (bench/suites/*.toml) and acktr-bench run: validation, resume after SIGKILL, failures."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from algorithms.errors import ConfigError
from bench import runner
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
    assert counts == {"atari-10m": 36, "mujoco-1m": 200, "quickstart": 24, "small-nets": 70, "smoke": 34}
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
        (["nosuch"], "unknown suite 'nosuch'; accepted: atari-10m, mujoco-1m, quickstart, small-nets, smoke"),
        (["quickstar"], "unknown suite 'quickstar' (did you mean 'quickstart'?); accepted: "),
        (["smoke", "--only", "task=x"], "bad --only 'task=x'"),
        (["smoke", "--workers", "0"], "bad --workers 0"),
    ):
        done = cli("run", *args, "--dry-run")
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


def _state(path):
    return json.loads((path / "status.json").read_text())["state"]


def _start_sweep(cli, tmp_path, first_steps, second_steps, workers):
    """Starts ``SUITE`` as ``pair`` in a session of its own, its stderr in ``tmp_path/sweep.err``;
    returns the sweep process, the suite file and the two run directories (seed 0, seed 1)."""
    suite = tmp_path / "pair.toml"
    suite.write_text(SUITE.format(first=first_steps, second=second_steps))
    first, second = (tmp_path / "results" / "pair" / "CartPole-v1" / "sgd" / f"seed{s}" for s in (0, 1))
    args = ["run", str(suite), "--results", str(tmp_path / "results"), "--workers", str(workers)]
    args += ["--progress-every", "0.5"]
    with open(tmp_path / "sweep.err", "w") as err:
        sweep = subprocess.Popen(
            [cli.executable, *args],
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    return sweep, suite, first, second


def test_a_sweep_killed_with_sigkill_resumes_keeping_finished_runs(cli, tmp_path):
    """A sweep is killed (runner and runs, SIGKILL) while one run is running; every file stays
    readable, and running the suite again keeps the finished run and redoes the other. Off a
    terminal the sweep printed its progress and the finished run's end as they happened."""
    sweep, suite, first, second = _start_sweep(cli, tmp_path, 2_000, 5_000_000, workers=2)
    err = tmp_path / "sweep.err"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (
        (second / "progress.csv").exists() and "seed 0: done return" in err.read_text()
    ):
        time.sleep(0.5)
    os.killpg(sweep.pid, signal.SIGKILL)
    sweep.wait()
    assert _state(first) == "done" and _state(second) == "running"
    progress = re.findall(
        r"^sweep: [\d,]+/5,002,000 steps .*runs done (\d) .*$", err.read_text(), re.MULTILINE
    )
    assert progress and progress[-1] == "1" and "running 1 of 2 (CartPole-v1 sgd seed 1" in err.read_text()
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


def test_a_sweep_stopped_with_sigterm_stops_its_runs(cli, tmp_path):
    """SIGTERM to the sweep alone (as ``kill``, ``timeout`` or a batch scheduler send it) stops its
    running run, which saves a checkpoint and stays ``running``, and starts no queued run."""
    sweep, _, first, second = _start_sweep(cli, tmp_path, 5_000_000, 5_000_000, workers=1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (first / "progress.csv").exists():
        time.sleep(0.5)
    train = _train_process(first)
    assert train is not None and train[1] == sweep.pid
    sweep.send_signal(signal.SIGTERM)
    assert sweep.wait(timeout=60) == 128 + signal.SIGTERM
    err = (tmp_path / "sweep.err").read_text()
    assert err.strip().splitlines()[-1].startswith("acktr-bench: run stopped by SIGTERM")
    assert _train_process(first) is None
    assert _state(first) == "running" and not second.exists()
    assert read_run(first).status["error"].startswith("stopped by SIGTERM after update")
    assert (first / "checkpoint.json").exists()


def test_a_run_stopped_alone_is_counted_stopped_and_the_sweep_goes_on(cli, tmp_path):
    """SIGTERM to one run's process (not the sweep's) saves its checkpoint; the sweep counts it
    ``stopped``, not failed, runs the next one, and exits 1: the suite is not finished."""
    sweep, _, first, second = _start_sweep(cli, tmp_path, 5_000_000, 400, workers=1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (first / "progress.csv").exists():
        time.sleep(0.5)
    train = _train_process(first)
    assert train is not None
    os.kill(train[0], signal.SIGTERM)
    assert sweep.wait(timeout=120) == 1
    assert "CartPole-v1 sgd seed 0: stopped" in (tmp_path / "sweep.err").read_text()
    assert _state(first) == "running" and (first / "checkpoint.json").exists()
    assert _state(second) == "done"


def test_a_run_still_going_after_the_grace_period_is_killed_and_named(capfd, tmp_path):
    """A stopped sweep's SIGTERM is the run's cue to save; one that has not ended ``grace_s`` later
    (here: it ignores SIGTERM) is killed, and stderr says it goes on from its last checkpoint."""
    ready = tmp_path / "ready"
    stubborn = (
        "import pathlib, signal, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "pathlib.Path(sys.argv[1]).touch(); time.sleep(60)"
    )
    processes = runner.RunProcesses()
    with ThreadPoolExecutor(1) as pool:
        status = pool.submit(processes.run, [sys.executable, "-c", stubborn, str(ready)])
        while not ready.exists():
            time.sleep(0.01)
        started = time.monotonic()
        processes.stop(grace_s=0.5)
        assert status.result(timeout=10) == -signal.SIGKILL
    assert 0.5 <= time.monotonic() - started < 5
    assert "a run was still saving 0.5 s after SIGTERM and was killed" in capfd.readouterr().err


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
    assert f"report written: {tmp_path / 'mixed' / 'index.html'}" in done.stdout


RAY_SUITE = """description = "one run of ours and one reference"
seeds = [0]

[[tasks]]
env = "CartPole-v1"
steps = {steps}
optimizers = ["sgd", "sb3-a2c"]
"""


def test_the_ray_backend_runs_a_sweep_on_a_local_ray_instance(cli, tmp_path):
    suite = tmp_path / "pair.toml"
    suite.write_text(RAY_SUITE.format(steps=2_000))
    args = ("run", str(suite), "--results", str(tmp_path / "results"), "--backend", "ray", "--workers", "2")
    done = cli(*args)
    assert done.returncode == 0, done.stderr
    assert "suite pair: 2 done" in done.stdout
    for optimizer in ("sgd", "sb3-a2c"):
        record = read_run(tmp_path / "results" / "pair" / "CartPole-v1" / optimizer / "seed0")
        assert record.status["state"] == "done" and record.progress["env_steps"].iloc[-1] == 2_000
    again = cli(*args, check=True)
    assert "suite pair: 2 kept" in again.stdout


def _train_process(run_dir):
    """(pid, parent pid) of the ``acktr-bench train`` process writing ``run_dir``, or None."""
    for entry in os.listdir("/proc"):
        try:
            command = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        if b"train" in command and str(run_dir).encode() in command:
            parent = next(line for line in status.splitlines() if line.startswith("PPid:"))
            return int(entry), int(parent.split()[1])
    return None


def test_a_ray_task_whose_worker_is_killed_is_retried(cli, tmp_path):
    """The Ray worker running a task (and its run) is killed with SIGKILL mid-run; Ray runs the
    task again and the sweep ends with the run done."""
    suite = tmp_path / "pair.toml"
    suite.write_text(RAY_SUITE.format(steps=20_000).replace('"sgd", ', ""))
    run_dir = tmp_path / "results" / "pair" / "CartPole-v1" / "sb3-a2c" / "seed0"
    sweep = subprocess.Popen(
        [cli.executable, "run", str(suite), "--results", str(tmp_path / "results"), "--backend", "ray"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not (run_dir / "config.json").exists():
        time.sleep(0.1)
    process = _train_process(run_dir)
    assert process is not None, "no train process found"
    for pid in reversed(process):
        os.kill(pid, signal.SIGKILL)
    killed_at = time.time()
    out, err = sweep.communicate(timeout=600)
    assert sweep.returncode == 0, err
    assert "suite pair: 1 done" in out
    assert (run_dir / "config.json").stat().st_mtime > killed_at
    record = read_run(run_dir)
    assert record.status["state"] == "done" and record.progress["env_steps"].iloc[-1] == 20_000


def test_bad_backend_options_are_one_line(cli):
    for args, message in (
        (["--backend", "slurm"], "bad --backend 'slurm'; accepted: local, ray"),
        (["--ray-address", "auto"], "--ray-address 'auto' needs --backend ray"),
    ):
        done = cli("run", "smoke", *args, "--dry-run")
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and message in done.stderr


@pytest.mark.parametrize("command", ["train", "run", "report", "timing"])
def test_help_gives_defaults_and_exit_statuses(cli, command):
    done = cli(command, "--help", check=True)
    text = " ".join(done.stdout.split())
    assert "(default" in text and "exit status: 0 when" in text and "2 on bad input" in text


def test_the_commands_start_without_the_report_stack():
    """Every train process of a sweep starts through bench.cli: the report's libraries, seconds to
    load, stay out of it until a page is written."""
    heavy = ("bench.report.build", "rliable", "matplotlib", "seaborn", "scipy.stats", "ray")
    code = f"import sys, bench.cli; print([name for name in {heavy!r} if name in sys.modules])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
