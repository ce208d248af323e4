"""The exact Fisher of a small model as an optimizer's curvature (``ng``, ``lm``).

It offers what :class:`algorithms.kfac.KroneckerFisher` offers, so the optimizer
code is one: capture during the objective's forward, fold statistics into a
running matrix, refresh a decomposition, precondition, and evaluate vᵀF̂v.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from algorithms.curvature import exact_fisher, trainable_parameters
from algorithms.kfac.damped_inverse import DecompositionError, cholesky_inverses


class DenseFisher:
    """The closed-form Fisher of ``module``'s output over all its trainable parameters, dense [P, P].

    Statistics: :func:`algorithms.curvature.exact_fisher` on the observations of the
    captured forward (for an actor-critic, the joint Fisher with the critic read as a
    Gaussian with σ = 1, as K-FAC treats it), folded into an exponential moving
    average with decay ``min(stat_decay, k/(k+1))`` as K-FAC's factors are. Refresh:
    the inverse of F̂ + λI by Cholesky (float64 retry), one per diagonal block of F̂
    (a separate critic's parameters share no Fisher entry with the policy's), redone
    whenever λ changes, so the damping is exact at every λ. ``params`` is ``module``'s trainable parameters
    in order; every list of gradients or directions below follows it.
    """

    def __init__(self, module: nn.Module, stat_decay: float, max_params: int) -> None:
        self.module = module
        self.params = list(trainable_parameters(module, max_params).values())
        self.max_params = max_params
        self.stat_decay = stat_decay
        self.fisher: torch.Tensor | None = None
        self._blocks: list[torch.Tensor] = []
        self._inverses: list[torch.Tensor] = []
        self.inverse_damping = float("nan")
        """The λ of the inverse in use."""
        self._obs: torch.Tensor | None = None
        self._capturing = False
        module.register_forward_hook(self._capture)
        self.stat_updates = 0
        self.ready = False
        self.timings = {"stats": 0.0, "refresh": 0.0, "precondition": 0.0}

    def _capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        if self._capturing:
            self._obs = inputs[0].detach()

    @contextmanager
    def capturing(self, enabled: bool = True) -> Iterator[None]:
        """Record the observations of the forward run inside (when ``enabled``)."""
        self._obs = None
        self._capturing = enabled
        try:
            yield
        finally:
            self._capturing = False

    def update_statistics(self, *_outputs: object) -> bool:
        """Fold the captured batch's exact Fisher into the running one; False (nothing folded) if it
        is not finite. The objective's outputs, which K-FAC uses, are not needed here."""
        if self._obs is None:
            raise RuntimeError("update_statistics needs a forward run inside capturing()")
        start = time.perf_counter()
        fresh = exact_fisher(self.module, self._obs, max_params=self.max_params)
        self._obs = None
        finite = bool(fresh.isfinite().all())
        if finite and self.stat_updates == 0:
            self.fisher = fresh
        elif finite:
            decay = min(self.stat_decay, self.stat_updates / (self.stat_updates + 1))
            self.fisher.lerp_(fresh, 1 - decay)
        self.stat_updates += int(finite)
        self.timings["stats"] += time.perf_counter() - start
        return finite

    def needs_refresh(self, damping: float) -> bool:
        """True until a refresh succeeded, and whenever λ differs from the last refresh's."""
        return not self.ready or damping != self.inverse_damping

    def refresh(self, damping: float) -> bool:
        """Invert F̂ + λI; False if that failed even in float64 (then not ready)."""
        if self.stat_updates == 0:
            raise RuntimeError("refresh needs statistics: call update_statistics first")
        start = time.perf_counter()
        self._blocks = diagonal_blocks(self.fisher)
        damped = []
        for index in self._blocks:
            block = self.fisher[index[:, None], index]
            block.diagonal().add_(damping)  # a copy: the running Fisher stays undamped
            damped.append(block)
        try:
            self._inverses = cholesky_inverses(damped)
            self.inverse_damping, self.ready = damping, True
        except DecompositionError:
            self.ready = False
        self.timings["refresh"] += time.perf_counter() - start
        return self.ready

    def precondition(self, grads: list[torch.Tensor], damping: float) -> list[torch.Tensor]:
        """(F̂ + λI)⁻¹ applied to ``grads``, with λ the last refresh's (see :meth:`needs_refresh`)."""
        if not self.ready:
            raise RuntimeError("precondition needs a successful refresh")
        start = time.perf_counter()
        flat = _flatten(grads)
        direction = torch.empty_like(flat)
        for index, inverse in zip(self._blocks, self._inverses, strict=True):
            direction[index] = inverse @ flat[index]
        self.timings["precondition"] += time.perf_counter() - start
        return _unflatten(direction, grads)

    def quadratic_form(self, vectors: list[torch.Tensor]) -> torch.Tensor:
        """vᵀ F̂ v with the running Fisher (undamped)."""
        flat = _flatten(vectors)
        return flat @ (self.fisher @ flat)

    def pop_timings(self) -> dict[str, float]:
        """Seconds spent in statistics, refresh and preconditioning since the last call (host clock)."""
        timings, self.timings = self.timings, dict.fromkeys(self.timings, 0.0)
        return timings


def _flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflatten(flat: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in like]), like, strict=True)]


def diagonal_blocks(matrix: torch.Tensor) -> list[torch.Tensor]:
    """Index sets of the diagonal blocks of a symmetric ``matrix`` [P, P] up to a permutation: the
    connected components of the graph with an edge where an entry is non-zero (each index
    takes the smallest index it reaches, by repeated minimum over its row)."""
    linked = matrix.ne(0)
    linked.diagonal().fill_(True)
    size = len(matrix)
    labels = torch.arange(size, device=matrix.device)
    while True:
        reached = torch.where(linked, labels[None, :], size).amin(1)
        if torch.equal(reached, labels):
            return [(labels == label).nonzero().squeeze(1) for label in labels.unique()]
        labels = reached
