"""What an optimizer asks of a curvature: the interface K-FAC and the dense Fisher both implement."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any, Protocol

import torch
from torch import nn

from algorithms.curvature.output_fisher import ModelOutput


class Curvature(Protocol):
    """A running estimate F̂ of a module's Fisher over its trainable parameters ``params``.

    Every list of gradients, directions or vectors below holds one tensor per entry of
    ``params``, shaped like it. One update uses it in this order:

    1. the objective's forward runs inside ``capturing(collect)``, which records what the
       statistics need (layer inputs and outputs, or the observations);
    2. when ``collect``, ``update_statistics(sampled_nll, output)`` folds that batch into F̂:
       ``sampled_nll`` is the summed NLL of actions sampled from the model (true-Fisher
       statistics), ``output`` the forward's own output for closed-form statistics;
    3. ``refresh(λ)`` decomposes F̂ when the optimizer's schedule says so or
       ``needs_refresh(λ)``; ``precondition(grads, λ)`` returns (F̂ + λI)⁻¹ grads;
    4. ``quadratic_form(v)`` gives vᵀ F̂ v (undamped), for the Levenberg–Marquardt model.
    """

    params: list[nn.Parameter]
    stat_updates: int
    """Batches folded into F̂ so far."""

    def capturing(self, enabled: bool = True) -> AbstractContextManager[None]: ...

    def update_statistics(self, sampled_nll: torch.Tensor | None, output: ModelOutput) -> bool:
        """Fold the captured batch into F̂; False, with nothing folded, if it is not finite."""

    def needs_refresh(self, damping: float) -> bool:
        """Whether ``precondition`` at this λ needs a new decomposition."""

    def refresh(self, damping: float) -> bool:
        """Decompose F̂ (at λ where the decomposition depends on it); False if that failed."""

    def precondition(self, grads: list[torch.Tensor], damping: float) -> list[torch.Tensor]:
        """(F̂ + λI)⁻¹ ``grads``."""

    def quadratic_form(self, vectors: list[torch.Tensor]) -> torch.Tensor:
        """vᵀ F̂ v, a scalar tensor."""

    def pop_timings(self) -> dict[str, float]:
        """Seconds spent in ``stats``, ``refresh`` and ``precondition`` since the last call."""

    def state_dict(self) -> dict[str, Any]:
        """F̂ and the decompositions in use, as tensors and plain values (a checkpoint's part)."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` of the same curvature over the same module."""
