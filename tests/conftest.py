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

    run.executable = executable
    return run
