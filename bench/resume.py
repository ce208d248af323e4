"""Resuming a run directory from its checkpoint: which config it continues with, what changed since
the checkpoint was written, and the ``resumes`` entry that records it.

A resume continues the run only with what wrote the checkpoint: the same resolved config
(``checkpoint.*`` aside: it only says when to save), the same code commit (and dirtiness) and the
same package versions. Anything else is refused with one line naming the differences, unless
forced; a forced resume lists them in its ``resumes`` entry.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algorithms.config import RunConfig
from algorithms.envs import continues_exactly
from algorithms.errors import ConfigError
from bench.checkpoints import checkpoint_record, load_checkpoint
from bench.config_diff import RECORDS, config_differences
from bench.provenance import provenance
from bench.results import read_json
from bench.sb3_reference import ReferenceConfig
from bench.trainers import config_of_record

RESUMABLE_STATES = ("running", "failed")
NOT_RESUMED = RECORDS | {"checkpoint"}
"""What may differ between a run's saved config and the one it resumes with."""
SHOWN = 3
"""Differences named in a refusal before ``and N more``."""


@dataclass
class Resume:
    """A run about to continue: its config, the provenance it started with, its ``resumes`` record
    (this resume last) and the learning state to continue from."""

    config: RunConfig
    provenance: dict[str, Any]
    resumes: list[dict[str, Any]]
    state: dict[str, Any]

    @property
    def updates(self) -> int:
        return self.state["counters"]["updates"]

    @property
    def env_steps(self) -> int:
        return self.state["counters"]["env_steps"]


def _code_and_versions(record: dict[str, Any]) -> dict[str, Any]:
    return {"git": record.get("git", {}), "versions": record.get("versions", {})}


def _describe(differences: dict[str, tuple[Any, Any]]) -> list[str]:
    return [f"{key} {before!r} → {after!r}" for key, (before, after) in differences.items()]


def plan_resume(run_dir: Path, config: RunConfig | ReferenceConfig | None, force: bool) -> Resume:
    """How ``run_dir`` continues: with ``config`` (None: the one it was saved with) from its last
    checkpoint. Raises :class:`ConfigError` naming what stops it: an ended run, a reference run, a
    missing or corrupt checkpoint, or (unless ``force``) a changed config, code or versions."""
    status = read_json(run_dir / "status.json")
    if status.get("state") not in RESUMABLE_STATES:
        raise ConfigError(
            f"run {str(run_dir)!r} is {status.get('state')}; "
            f"accepted for --resume: {', '.join(RESUMABLE_STATES)}"
        )
    record = read_json(run_dir / "config.json")
    config = config or config_of_record(record)
    if isinstance(config, ReferenceConfig):
        raise ConfigError(
            f"cannot resume {str(run_dir)!r} as {config.optimizer_name}: reference runs keep no checkpoint"
        )
    checkpoint = checkpoint_record(run_dir)
    last = (record.get("resumes") or [record])[-1]["provenance"]
    now = provenance()
    changes = _describe(config_differences(record, config.to_dict(), NOT_RESUMED))
    changes += _describe(config_differences(_code_and_versions(last), _code_and_versions(now), frozenset()))
    if changes and not force:
        more = f" and {len(changes) - SHOWN} more" if len(changes) > SHOWN else ""
        raise ConfigError(
            f"resume of {str(run_dir)!r} refused: {'; '.join(changes[:SHOWN])}{more} since its checkpoint; "
            "pass --force to resume anyway (recorded in config.json)"
        )
    state = load_checkpoint(run_dir, config.device)
    entry = {
        "updates": checkpoint["updates"],
        "env_steps": checkpoint["env_steps"],
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "envs": "restored" if continues_exactly(config.env_id) else "restarted",
        "forced": changes,
        "provenance": now,
    }
    return Resume(config, record["provenance"], [*record.get("resumes", []), entry], state)
