"""Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2), a plain
``torch.optim.Optimizer``: acktr-bench runs it as a first-order rule in its A2C harness path, by
its entry point ``lion`` or by import path ``example_optimizers.lion:Lion``."""

from __future__ import annotations

from collections.abc import Iterable

import torch


class Lion(torch.optim.Optimizer):
    """c ← β₁ m + (1 − β₁) g;  θ ← θ − lr · (sign(c) + weight_decay · θ);  m ← β₂ m + (1 − β₂) g.

    The update has the same size in every coordinate, so lr is typically 3–10× smaller than
    Adam's (the paper's advice)."""

    def __init__(
        self,
        params: Iterable[torch.nn.Parameter],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
    ) -> None:
        if not 0.0 <= betas[0] < 1.0 or not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"bad betas {betas!r}: expected two numbers in [0, 1)")
        super().__init__(params, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: None = None) -> None:
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if "exp_avg" not in state:
                    state["exp_avg"] = torch.zeros_like(param)
                momentum = state["exp_avg"]
                direction = (beta1 * momentum + (1 - beta1) * param.grad).sign_()
                param.mul_(1 - group["lr"] * group["weight_decay"]).add_(direction, alpha=-group["lr"])
                momentum.mul_(beta2).add_(param.grad, alpha=1 - beta2)
