"""The timing grid: which optimizer, model, batch, env and device each benchmark covers.

Every optimizer is timed on every benchmark model whose domain its presets cover, except
``ng`` and ``lm`` (a dense P×P Fisher), which are timed on the two small-net models only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from algorithms.errors import ConfigError, did_you_mean
from algorithms.optim import UnknownOptimizer, known_optimizers, optimizer_entry
from algorithms.optim.plugins import IMPORT_PATH_FORM
from algorithms.presets import DOMAIN_PRESETS
from bench.update_cost import MODELS

BATCHES = {
    "nature-cnn": (80, 640),  # A2C's 16 × 5 and ACKTR's 32 × 20 (Wu et al. 2017)
    "mlp-64-64": (2500,),  # ACKTR's MuJoCo batch
    "mlp-64-64-cartpole": (160,),  # 8 envs × 20 steps
    "mlp-64-64-invpendulum": (2500,),
}
SMALL_NETS = ("mlp-64-64-cartpole", "mlp-64-64-invpendulum")
DENSE_OPTIMIZERS = ("ng", "lm")

STAGE_OPTIMIZERS = ("acktr", "kfac")
"""Optimizers whose K-FAC stages are timed, where they hold one curvature over the whole model
(the MuJoCo presets' separate critic has a curvature of its own: timed as a whole update only)."""
STAGES = ("forward", "gradient", "statistics", "refresh", "precondition")

DEVICES = ("cpu", "cuda")

ENV_MODELS = ("nature-cnn", "mlp-64-64", "mlp-64-64-cartpole")
"""Models whose env (Pong, HalfCheetah, CartPole: one per family) is stepped alone and trained for
one whole iteration (rollout and update) by each optimizer."""


@dataclass(frozen=True)
class Selection:
    """Which cases to time or show; None keeps every value (every device present, for devices)."""

    devices: tuple[str, ...] | None = None
    optimizers: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None

    def keeps(
        self, optimizer: str | None = None, model: str | None = None, device: str | None = None
    ) -> bool:
        """A case is kept unless a filter names other values of a key it has (None: it has none)."""
        filters = ((optimizer, self.optimizers), (model, self.models), (device, self.devices))
        return all(value is None or chosen is None or value in chosen for value, chosen in filters)

    @property
    def timed_devices(self) -> tuple[str, ...]:
        """The devices to time on; raises :class:`ConfigError` for one this machine lacks."""
        present = available_devices()
        missing = [device for device in self.devices or () if device not in present]
        if missing:
            raise ConfigError(
                f"bad --device {missing[0]!r}: not present here; accepted here: {', '.join(present)}"
            )
        return self.devices or present


def _names(option: str, value: str | None, accepted: tuple[str, ...]) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = tuple(name.strip() for name in value.split(","))
    bad = [name for name in names if name not in accepted]
    if bad:
        hint = did_you_mean(bad[0], accepted)
        raise ConfigError(f"bad {option} value {bad[0]!r}{hint}; accepted: {', '.join(accepted)}")
    return names


def parse_selection(devices: str | None, optimizers: str | None, models: str | None) -> Selection:
    """A :class:`Selection` from comma-separated names; raises :class:`ConfigError` naming a bad one."""
    chosen = tuple(name.strip() for name in optimizers.split(",")) if optimizers is not None else None
    for name in chosen or ():
        try:
            optimizer_entry(name)  # a bad MODULE:CLASS is one line naming what is wrong with it
        except UnknownOptimizer:
            known = tuple(known_optimizers())
            hint = did_you_mean(name, known)
            accepted = f"{', '.join(known)}, or {IMPORT_PATH_FORM}"
            raise ConfigError(f"bad --optimizers value {name!r}{hint}; accepted: {accepted}") from None
    return Selection(
        devices=_names("--device", devices, DEVICES),
        optimizers=chosen,
        models=_names("--models", models, tuple(MODELS)),
    )


def available_devices() -> tuple[str, ...]:
    return ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",)


def model_optimizers(model: str, selection: Selection) -> list[str]:
    """Names timed on ``model``, ``sgd`` first: the built-ins, the registered plug-ins and those
    the selection names by ``MODULE:CLASS``, each where its presets cover the model's domain."""
    domain = MODELS[model].domain
    names = dict.fromkeys([*known_optimizers(), *(selection.optimizers or ())])
    return [
        name
        for name in names
        if domain in optimizer_entry(name).presets and (name not in DENSE_OPTIMIZERS or model in SMALL_NETS)
    ]


@dataclass(frozen=True)
class UpdateCase:
    optimizer: str
    model: str
    batch: int
    device: str

    @property
    def id(self) -> str:
        return f"{self.optimizer}-{self.model}-{self.batch}-{self.device}"

    def info(self, n_params: int) -> dict[str, object]:
        """The ``extra_info`` keys of every benchmark of an optimizer on a model."""
        return optimizer_info(self.optimizer, self.model, self.batch, self.device, n_params)


@dataclass(frozen=True)
class StageCase:
    update: UpdateCase
    stage: str

    @property
    def id(self) -> str:
        return f"{self.stage}-{self.update.id}"


@dataclass(frozen=True)
class EnvCase:
    """The vector env of ``model``'s env with its family's default number of copies."""

    model: str

    @property
    def env_id(self) -> str:
        return MODELS[self.model].env_id

    @property
    def family(self) -> str:
        return MODELS[self.model].domain

    @property
    def num_envs(self) -> int:
        return DOMAIN_PRESETS[self.family]["rollout.num_envs"]

    @property
    def id(self) -> str:
        return f"{self.family}-{self.num_envs}"


@dataclass(frozen=True)
class IterationCase:
    optimizer: str
    model: str
    device: str

    @property
    def env_id(self) -> str:
        return MODELS[self.model].env_id

    @property
    def id(self) -> str:
        return f"{self.optimizer}-{self.model}-{self.device}"


def optimizer_info(optimizer: str, model: str, batch_size: int, device: str, n_params: int) -> dict:
    """What reports read from every benchmark of one optimizer on one model (``extra_info``)."""
    return {
        "optimizer": optimizer,
        "model": model,
        "batch_size": batch_size,
        "device": device,
        "n_params": n_params,
    }


def update_cases(selection: Selection) -> list[UpdateCase]:
    return [
        UpdateCase(name, model, batch, device)
        for device in selection.timed_devices
        for model, batches in BATCHES.items()
        for batch in batches
        for name in model_optimizers(model, selection)
        if selection.keeps(name, model)
    ]


def stage_cases(selection: Selection) -> list[StageCase]:
    return [
        StageCase(case, stage)
        for case in update_cases(selection)
        if case.optimizer in STAGE_OPTIMIZERS and not _separate_critic(case.optimizer, case.model)
        for stage in STAGES
    ]


def env_cases(selection: Selection) -> list[EnvCase]:
    """One per env family; envs step on the CPU whatever the device."""
    return [EnvCase(model) for model in ENV_MODELS if selection.keeps(model=model)]


def iteration_cases(selection: Selection) -> list[IterationCase]:
    return [
        IterationCase(name, model, device)
        for device in selection.timed_devices
        for model in ENV_MODELS
        for name in model_optimizers(model, selection)
        if selection.keeps(name, model)
    ]


def _separate_critic(optimizer: str, model: str) -> bool:
    preset = optimizer_entry(optimizer).presets[MODELS[model].domain]
    return preset.get("optimizer.critic") == "separate"
