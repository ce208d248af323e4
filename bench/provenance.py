"""Where a result came from: package versions, the git commit, the hardware."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from bench.results import write_json

_SOURCE_DIR = Path(__file__).resolve().parent
_PACKAGES = ("acktr-bench", "torch", "gymnasium", "ale-py", "mujoco", "numpy", "stable-baselines3")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(path: Path = _SOURCE_DIR) -> dict[str, Any]:
    """Commit of the checkout holding the code (``None`` outside a git checkout) and whether its code is
    dirty: a tracked file changed outside ``results/`` and ``reports/``, whose committed runs and
    reports a sweep or report may rewrite."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", *args], cwd=path, capture_output=True, text=True, timeout=10, check=True
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    code = [":(top)", ":(top,exclude)results", ":(top,exclude)reports"]
    status = git("status", "--porcelain", "--untracked-files=no", "--", *code) if commit else None
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "gpu": gpu,
        "platform": platform.platform(),
        "torch_threads": torch.get_num_threads(),
    }


def provenance() -> dict[str, Any]:
    """Everything above, plus the command line that produced the result."""
    return {
        "versions": package_versions(),
        "git": git_commit(),
        "hardware": hardware(),
        "command": sys.argv,
    }


def write_measurement(path: str, measurement: dict[str, Any]) -> None:
    """A benchmark's ``measurement`` as JSON at ``path``, with its :func:`provenance`."""
    write_json(Path(path), {**measurement, "provenance": provenance()})
