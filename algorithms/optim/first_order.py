"""``sgd``: the first-order baseline (A2C). Inner rules: RMSprop (PyTorch's or TensorFlow 1's), SGD,
momentum, Adam."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from algorithms.config import FRACTION, NON_NEGATIVE, choices
from algorithms.objective import Objective
from algorithms.optim.base import LR_SCHEDULES, MOMENTUM, lr_at

RULES = ("rmsprop", "rmsprop-tf", "sgd", "momentum", "adam")


@dataclass
class FirstOrderConfig:
    """Hyperparameters of ``sgd``. Defaults are Stable-Baselines3's A2C: ``torch.optim.RMSprop`` with
    lr 7e-4, α 0.99, ε 1e-5 and gradient-norm clip 0.5 (the same numbers as OpenAI Baselines)."""

    rule: str = field(default="rmsprop", metadata=choices(*RULES))
    """``rmsprop``: PyTorch's (mean square from 0, ε outside the root), as Stable-Baselines3's A2C;
    ``rmsprop-tf``: TensorFlow 1's (:class:`TFRMSprop`), as the A2C and ACKTR papers."""
    lr: float = field(default=7e-4, metadata=NON_NEGATIVE)
    lr_schedule: str = field(default="constant", metadata=choices(*LR_SCHEDULES))
    alpha: float = field(default=0.99, metadata=FRACTION)
    """RMSprop decay of the mean square."""
    eps: float = field(default=1e-5, metadata=NON_NEGATIVE)
    """RMSprop: added to the root (``rmsprop``) or inside it (``rmsprop-tf``); Adam: added to the root."""
    momentum: float = field(default=0.9, metadata=MOMENTUM)
    """Used by ``momentum`` (heavy ball)."""
    betas: tuple[float, ...] = (0.9, 0.999)
    max_grad_norm: float = field(default=0.5, metadata=NON_NEGATIVE)
    """Global gradient-norm clip; 0 disables it."""


class TFRMSprop(torch.optim.Optimizer):
    """RMSprop as TensorFlow 1 (and so the A2C/ACKTR papers) defined it.

    v ← α v + (1 − α) g²,  θ ← θ − lr · g / √(v + ε), with v initialized to 1 (Stable-Baselines3's
    ``RMSpropTFLike`` without momentum). PyTorch's ``RMSprop`` differs twice: ε outside the root
    and v initialized to 0. Started at 1, v reaches the scale of small gradients only after about
    1/(1 − α) updates, and until then the steps are far smaller than PyTorch's.
    """

    def __init__(self, params: Iterable[nn.Parameter], lr: float, alpha: float, eps: float):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            grads = [p.grad for p in params]
            square_avgs = []
            for p in params:
                state = self.state[p]
                if "square_avg" not in state:
                    state["square_avg"] = torch.ones_like(p)
                square_avgs.append(state["square_avg"])
            torch._foreach_mul_(square_avgs, group["alpha"])
            torch._foreach_addcmul_(square_avgs, grads, grads, value=1 - group["alpha"])
            denominators = torch._foreach_add(square_avgs, group["eps"])
            torch._foreach_sqrt_(denominators)
            torch._foreach_addcdiv_(params, grads, denominators, value=-group["lr"])


def inner_rule(params: list[nn.Parameter], config: FirstOrderConfig) -> torch.optim.Optimizer:
    """``sgd``'s inner rule: the torch optimizer ``config.rule`` names, over ``params``."""
    if config.rule == "rmsprop":
        return torch.optim.RMSprop(params, lr=config.lr, alpha=config.alpha, eps=config.eps)
    if config.rule == "rmsprop-tf":
        return TFRMSprop(params, config.lr, config.alpha, config.eps)
    if config.rule == "adam":
        return torch.optim.Adam(params, lr=config.lr, betas=tuple(config.betas), eps=config.eps)
    momentum = config.momentum if config.rule == "momentum" else 0.0
    return torch.optim.SGD(params, lr=config.lr, momentum=momentum)


InnerRule = Callable[[list[nn.Parameter], Any], torch.optim.Optimizer]
"""Builds the torch optimizer that takes each step, from the trainable parameters and the config."""


class FirstOrder:
    """The first-order harness path: one gradient step per batch on ``loss``, the gradient clipped
    to ``config.max_grad_norm`` (0: no clip), the inner rule's learning rate set to ``config.lr``
    under ``config.lr_schedule`` before each step; non-finite gradients skip the update.

    ``make_inner`` builds the rule: ``sgd``'s (:func:`inner_rule`) or a plug-in
    ``torch.optim.Optimizer`` (:mod:`algorithms.optim.plugins`), whose config has those three
    fields too."""

    def __init__(
        self, model: nn.Module, config: Any, total_updates: int, make_inner: InnerRule = inner_rule
    ) -> None:
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.config = config
        self.total_updates = total_updates
        self.updates = 0
        self.inner = make_inner(self.params, config)

    def step(self, objective: Objective) -> dict[str, float]:
        loss, _ = objective.evaluate()
        self.inner.zero_grad(set_to_none=True)
        loss.backward()
        max_norm = self.config.max_grad_norm if self.config.max_grad_norm > 0 else float("inf")
        grad_norm = float(nn.utils.clip_grad_norm_(self.params, max_norm))
        lr = lr_at(self.config.lr, self.config.lr_schedule, self.updates, self.total_updates)
        finite = math.isfinite(grad_norm)
        if finite:
            for group in self.inner.param_groups:
                group["lr"] = lr
            self.inner.step()
        self.updates += 1
        return {"lr": lr, "grad_norm": grad_norm, "skipped": float(not finite)}

    def state_dict(self) -> dict[str, Any]:
        return {"updates": self.updates, "inner": self.inner.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.updates = state["updates"]
        self.inner.load_state_dict(state["inner"])
