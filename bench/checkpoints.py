"""A run directory's checkpoints: written now and then and on a stop signal, read back to resume.

Layout: ``checkpoints/update-<U>.pt`` holds the learning state after update U
(:func:`algorithms.learning_state.capture`, written by ``torch.save`` with its symmetric matrices
packed: :mod:`bench.symmetric_packing`) and ``checkpoint.json`` names the one to resume from,
with its SHA-256, update, env steps, size and the seconds its writing took. A new checkpoint is
written to a temporary file, synced, renamed into ``checkpoints/``; only then does
``checkpoint.json`` (replaced atomically) point to it and the older file go. A process killed
at any moment leaves the previous checkpoint named and whole, and a file that does not match
its recorded hash is refused rather than resumed from.

A checkpoint holds Python objects (the envs' state), so it is read with ``torch.load``'s full
unpickler: resume only from run directories you trust, as with any pickle.
"""

from __future__ import annotations

import hashlib
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from algorithms.errors import ConfigError
from bench.results import RunWriter, read_json, write_atomic_with, write_json
from bench.symmetric_packing import pack, unpack

POINTER = "checkpoint.json"
DIRECTORY = "checkpoints"
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class CheckpointError(ConfigError):
    """A checkpoint that cannot be resumed from; the message names the file and why."""


def has_checkpoint(run_dir: Path) -> bool:
    return (Path(run_dir) / POINTER).is_file()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class RunCheckpoints:
    """The checkpoints of one run being trained (``algorithms.training.Checkpoints``): one every
    ``every_s`` seconds of wall time, and one when a stop signal arrives (see :meth:`on_signals`).
    Before each, ``writer`` writes out its rows, so the run directory's files reach at least as
    far as the checkpoint."""

    def __init__(self, run_dir: Path, every_s: float, writer: RunWriter) -> None:
        self.run_dir = Path(run_dir)
        self.every_s = every_s
        self.writer = writer
        self.stop_requested = False
        self.stop_signal: str | None = None
        self._last = time.monotonic()

    def due(self) -> bool:
        return self.stop_requested or time.monotonic() - self._last >= self.every_s

    def save(self, state: dict[str, Any]) -> None:
        start = time.perf_counter()
        self.writer.flush()
        updates = state["counters"]["updates"]
        directory = self.run_dir / DIRECTORY
        directory.mkdir(exist_ok=True)
        final = directory / f"update-{updates}.pt"
        write_atomic_with(final, lambda handle: torch.save(pack(state), handle))
        record = {
            "file": f"{DIRECTORY}/{final.name}",
            "sha256": _sha256(final),
            "updates": updates,
            "env_steps": state["counters"]["env_steps"],
            "bytes": final.stat().st_size,
        }
        record["write_s"] = round(time.perf_counter() - start, 4)
        write_json(self.run_dir / POINTER, record)
        for old in directory.iterdir():
            if old != final:
                old.unlink(missing_ok=True)
        self._last = time.monotonic()

    @contextmanager
    def on_signals(self) -> Iterator[None]:
        """Inside, SIGTERM and SIGINT ask the run to save a checkpoint after its current update and
        end (``stop_requested``), instead of killing it at once."""

        def request_stop(signum: int, frame: object) -> None:
            self.stop_requested = True
            self.stop_signal = signal.Signals(signum).name

        previous = {signum: signal.signal(signum, request_stop) for signum in STOP_SIGNALS}
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


def checkpoint_record(run_dir: Path) -> dict[str, Any]:
    """``checkpoint.json`` of a run directory; :class:`CheckpointError` when it is missing or bad."""
    try:
        return read_json(Path(run_dir) / POINTER)
    except ValueError as error:
        raise CheckpointError(f"no checkpoint to resume from: {error}") from None


def load_checkpoint(run_dir: Path, device: str | torch.device) -> dict[str, Any]:
    """The learning state ``checkpoint.json`` names, its tensors on ``device``, after checking the
    file against its recorded SHA-256; :class:`CheckpointError` naming the file otherwise."""
    record = checkpoint_record(run_dir)
    path = Path(run_dir) / record["file"]
    if not path.is_file():
        raise CheckpointError(f"checkpoint {str(path)!r} is missing")
    if _sha256(path) != record["sha256"]:
        raise CheckpointError(f"checkpoint {str(path)!r} does not match its SHA-256 in {POINTER}: corrupt")
    return unpack(torch.load(path, map_location=device, weights_only=False))


def discard_checkpoints(run_dir: Path) -> None:
    """Removes a run's checkpoints (a run that has ended needs none: its agent is kept)."""
    (Path(run_dir) / POINTER).unlink(missing_ok=True)
    directory = Path(run_dir) / DIRECTORY
    if directory.is_dir():
        for path in directory.iterdir():
            path.unlink()
        directory.rmdir()
