"""One entry for every optimizer name a run can have: ours (``algorithms.optim``) train through
``algorithms.training``, the Stable-Baselines3 references (``sb3-a2c``, ``sb3-ppo``) through
``bench.sb3_reference``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from algorithms.config import SECTIONS, RunConfig
from algorithms.errors import ConfigError, did_you_mean
from algorithms.optim import UnknownOptimizer, known_optimizers, optimizer_entry
from algorithms.optim.plugins import IMPORT_PATH_FORM
from algorithms.presets import resolve_config
from algorithms.training import Checkpoints, RunLogger, TrainResult, train
from bench.config_diff import ABSENT, RECORDS, config_differences
from bench.sb3_reference import ALGORITHMS, ReferenceConfig, resolve_reference, train_reference


def run_optimizers() -> tuple[str, ...]:
    """Every optimizer name a run can have besides the ``MODULE:CLASS`` form: the built-ins, the
    registered plug-ins, the references."""
    return (*known_optimizers(), *ALGORITHMS)


def resolve_run(
    env_id: str,
    optimizer: str,
    steps: int,
    seed: int = 0,
    device: str = "auto",
    num_envs: int | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> RunConfig | ReferenceConfig:
    """The complete config of one run of any optimizer; raises :class:`ConfigError` on bad input."""
    if optimizer in ALGORITHMS:
        return resolve_reference(env_id, optimizer, steps, seed, device, num_envs, overrides)
    try:
        optimizer_entry(optimizer)
    except UnknownOptimizer:
        hint, accepted = did_you_mean(optimizer, run_optimizers()), ", ".join(run_optimizers())
        raise ConfigError(
            f"unknown optimizer {optimizer!r}{hint}; accepted: {accepted}, or {IMPORT_PATH_FORM}"
        ) from None
    return resolve_config(env_id, optimizer, steps, seed, device, num_envs, overrides)


def train_run(
    config: RunConfig | ReferenceConfig,
    logger: RunLogger | None = None,
    checkpoints: Checkpoints | None = None,
    resume: dict[str, Any] | None = None,
) -> TrainResult:
    """Train one run as its config says (see :func:`algorithms.training.train`); a reference run
    takes no checkpoints and cannot resume."""
    if isinstance(config, ReferenceConfig):
        return train_reference(config, logger)
    return train(config, logger, checkpoints, resume)


NOT_SETTINGS = RECORDS | {"env_id", "steps", "seed", "device", "domain", "optimizer.name"}
"""What a ``config.json`` record holds besides the settings ``--set`` takes."""


def config_of_record(record: dict[str, Any]) -> RunConfig | ReferenceConfig:
    """The config a run directory's ``config.json`` ``record`` describes, resolved anew: the
    presets of its env, optimizer, steps, seed and device, with the settings where it differs
    from them."""
    identity = [record[key] for key in ("env_id", "steps", "seed", "device")]
    identity.insert(1, record["optimizer"]["name"])
    presets = resolve_run(*identity).to_dict()
    sections = {name: record[name] for name in SECTIONS if name in record}
    differences = config_differences(presets, sections, NOT_SETTINGS)
    return resolve_run(
        *identity, overrides={key: saved for key, (_, saved) in differences.items() if saved is not ABSENT}
    )
