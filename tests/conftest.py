import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cli():
    """Run the real ``acktr-bench`` console script; returns the CompletedProcess."""
    executable = shutil.which("acktr-bench", path=str(Path(sys.executable).parent)) or "acktr-bench"

    def run(*args: str, check: bool = False) -> subprocess.CompletedProcess:
        done = subprocess.run([executable, *args], capture_output=True, text=True, timeout=600)
        if check and done.returncode != 0:
            raise AssertionError(f"acktr-bench {' '.join(args)} failed:\n{done.stderr}")
        return done

    def train_args(
        env_id: str, optimizer: str, steps: int, seed: int, out: Path, *settings: str
    ) -> list[str]:
        """The arguments of ``acktr-bench train`` for one run on CPU; ``settings`` are ``--set`` values."""
        sets = [arg for setting in settings for arg in ("--set", setting)]
        args = ["--env", env_id, "--optimizer", optimizer, "--steps", str(steps), "--seed", str(seed)]
        return ["train", *args, "--device", "cpu", "--out", str(out), *sets]

    run.executable = executable
    run.train_args = train_args
    return run


@pytest.fixture
def done_status():
    """The status.json of a run that ended ``done`` after ``steps`` env steps, for its record: the
    latest return_mean is the last progress row's (null while no episode had ended)."""

    def expected(record, steps: int) -> dict:
        latest = record.progress["return_mean"].iloc[-1]
        latest = None if math.isnan(latest) else pytest.approx(latest)
        return {"state": "done", "error": None, "env_steps": steps, "return_mean": latest}

    return expected
