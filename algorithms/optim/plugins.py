"""Optimizers from outside this package, run by the same harness as ours.

Two ways in:

- **A ``torch.optim.Optimizer`` by import path**, ``MODULE:CLASS`` (``mypkg.opt:Lion``;
  ``torch:Adam`` is ``torch.optim.Adam``): a first-order rule inside ``sgd``'s harness path
  (:class:`algorithms.optim.first_order.FirstOrder`: the gradient-norm clip, the learning-rate
  schedule, the skip of a non-finite gradient) with ``sgd``'s presets. Its settings are the
  harness's (``lr_schedule``, ``max_grad_norm``) and every constructor argument whose default is
  a number, a flag, a text or a tuple of numbers, at that default; ``--set optimizer.KEY=…``
  passes them to the constructor, and a key it does not take is refused in one line.
- **An entry point** of the group :data:`ENTRY_POINT_GROUP`, named as the optimizer is to be
  called, whose object is an :class:`~algorithms.optim.base.OptimizerEntry` (any optimizer that
  implements the ``step(objective)`` protocol of :class:`~algorithms.optim.base.Optimizer`, with
  its presets per domain) or a ``torch.optim.Optimizer`` subclass (run as above).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from dataclasses import field, make_dataclass
from importlib import metadata
from typing import Any

import torch
from torch import nn

from algorithms.config import NON_NEGATIVE, choices
from algorithms.envs import DOMAINS
from algorithms.errors import ConfigError
from algorithms.optim.base import LR_SCHEDULES, OptimizerEntry
from algorithms.optim.first_order import FirstOrder, FirstOrderConfig

ENTRY_POINT_GROUP = "acktr_bench.optimizers"
IMPORT_PATH_FORM = "a torch.optim.Optimizer as MODULE:CLASS (e.g. torch:Adam for torch.optim.Adam)"
TORCH_SHORTHAND = {"torch": "torch.optim"}

HARNESS_FIELDS = ("lr_schedule", "max_grad_norm")
"""The settings of ``sgd``'s harness path that a plug-in rule's config adds to its constructor's."""


def _refused(name: str, why: str) -> ConfigError:
    """The one-line error for the plug-in ``name``: why it is refused, and what is accepted."""
    return ConfigError(f"bad optimizer {name!r}: {why}; accepted: {IMPORT_PATH_FORM}")


def _setting_type(default: Any, annotation: Any) -> Any:
    """The setting type of a constructor argument with this default (None: not a setting)."""
    if isinstance(default, bool):
        return bool
    if isinstance(default, int | float):
        return int if annotation in (int, "int") else float  # an int default of a float argument
    if isinstance(default, str):
        return str
    if isinstance(default, tuple) and default and all(isinstance(v, int | float) for v in default):
        return tuple[float, ...]
    return None


def _rule_config(rule: type[torch.optim.Optimizer], name: str) -> type:
    """A dataclass of ``rule``'s settings: the harness's and its constructor's, with their defaults."""
    harness = {f.name: f for f in dataclasses.fields(FirstOrderConfig)}
    fields: list[tuple[str, Any, Any]] = [
        ("lr_schedule", str, field(default=harness["lr_schedule"].default, metadata=choices(*LR_SCHEDULES))),
        ("max_grad_norm", float, field(default=harness["max_grad_norm"].default, metadata=NON_NEGATIVE)),
    ]
    parameters = list(inspect.signature(rule).parameters.values())[1:]  # after params
    for parameter in parameters:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is parameter.empty:
            raise _refused(name, f"its constructor requires {parameter.name!r} with no default")
        if parameter.name in HARNESS_FIELDS:
            raise _refused(name, f"its constructor takes {parameter.name!r}, a setting of the harness")
        kind = _setting_type(parameter.default, parameter.annotation)
        if kind is not None:
            fields.append((parameter.name, kind, field(default=parameter.default)))
    if "lr" not in {name for name, _, _ in fields}:
        raise _refused(name, "its constructor takes no numeric lr (the harness schedules it)")
    return make_dataclass(f"{rule.__name__}Settings", fields)


def _constructor_arguments(config: Any) -> dict[str, Any]:
    return {
        f.name: getattr(config, f.name) for f in dataclasses.fields(config) if f.name not in HARNESS_FIELDS
    }


def _make_rule(
    rule: type[torch.optim.Optimizer], params: list[nn.Parameter], config: Any
) -> torch.optim.Optimizer:
    return rule(params, **_constructor_arguments(config))


def _distribution(module: str) -> str | None:
    """``name version`` of the installed distribution that provides top-level ``module``."""
    names = metadata.packages_distributions().get(module.partition(".")[0], [])
    return f"{names[0]} {metadata.version(names[0])}" if names else None


def rule_entry(name: str, rule: Any, origin: str) -> OptimizerEntry:
    """``rule`` (a ``torch.optim.Optimizer`` subclass) as the optimizer ``name``: a first-order
    rule in ``sgd``'s harness path with ``sgd``'s presets; :class:`ConfigError` naming it when it
    is not such a class or its constructor cannot be configured."""
    if not (isinstance(rule, type) and issubclass(rule, torch.optim.Optimizer)):
        raise _refused(name, f"{rule!r} is not a torch.optim.Optimizer subclass")
    closure = inspect.signature(rule.step).parameters.get("closure")
    if closure is not None and closure.default is closure.empty:
        raise _refused(name, "its step needs a closure")
    return OptimizerEntry(
        name=name,
        summary=f"{rule.__module__}.{rule.__qualname__} in sgd's first-order harness path",
        config_type=_rule_config(rule, name),
        build=functools.partial(FirstOrder, make_inner=functools.partial(_make_rule, rule)),
        presets={domain: {} for domain in DOMAINS},
        origin=origin,
    )


def import_path_entry(name: str) -> OptimizerEntry:
    """The optimizer named ``MODULE:CLASS``; :class:`ConfigError` of one line when the module does
    not import, has no such class, or the class is not a ``torch.optim.Optimizer``."""
    module_name, _, class_name = name.partition(":")
    if not module_name or not class_name:
        raise _refused(name, "no module or no class")
    module_name = TORCH_SHORTHAND.get(module_name, module_name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise _refused(name, f"module {module_name!r} does not import ({error})") from None
    rule = module
    for part in class_name.split("."):
        rule = getattr(rule, part, None)
    if rule is None:
        raise _refused(name, f"module {module_name!r} has no {class_name!r}")
    return rule_entry(name, rule, f"import path ({_distribution(module_name) or module.__file__})")


@functools.cache
def registered() -> tuple[dict[str, OptimizerEntry], dict[str, str]]:
    """The optimizers installed packages register under :data:`ENTRY_POINT_GROUP`, by name; and,
    by name, why each one that does not load is refused (it takes no other optimizer down)."""
    entries, refused = {}, {}
    for point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        origin = f"entry point of {point.dist.name} {point.dist.version}" if point.dist else "entry point"
        try:
            target = point.load()
            if isinstance(target, OptimizerEntry):
                entries[point.name] = dataclasses.replace(target, name=point.name, origin=origin)
            else:
                entries[point.name] = rule_entry(point.name, target, origin)
        except Exception as error:  # a broken plug-in is named, never fatal to the others
            message = str(error) if isinstance(error, ConfigError) else f"{type(error).__name__}: {error}"
            refused[point.name] = (
                f"optimizer {point.name!r} ({origin}, {point.value}) does not load: {message}"
            )
    return entries, refused
