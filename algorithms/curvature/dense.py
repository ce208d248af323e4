"""The exact Fisher of a small model as an optimizer's curvature (``ng``, ``lm``).

It offers what :class:`algorithms.kfac.KroneckerFisher` offers, so the optimizer
code is one: capture during the objective's forward, fold statistics into a
running matrix, refresh a decomposition, precondition, and evaluate vᵀF̂v.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from algorithms.curvature.decompositions import cholesky_factors, diagonal_blocks
from algorithms.curvature.output_fisher import ModelOutput
from algorithms.curvature.reference import exact_fisher, trainable_parameters
from algorithms.curvature.running import RunningCurvature


class DenseFisher(RunningCurvature):
    """The closed-form Fisher of ``module``'s output over all its trainable parameters, dense [P, P].

    Statistics: :func:`algorithms.curvature.exact_fisher` on the observations of the
    captured forward (for an actor-critic, the joint Fisher with the critic read as a
    Gaussian with σ = 1, as K-FAC treats it), kept as :class:`RunningCurvature` keeps
    K-FAC's factors. Refresh: F̂ + λI by Cholesky (float64 retry), one factor
    per diagonal block of F̂ (a separate critic's parameters share no Fisher entry with
    the policy's), redone whenever λ changes, so the damping is exact at every λ.
    ``params`` is ``module``'s trainable parameters in order; every list of gradients
    or directions below follows it.
    """

    def __init__(self, module: nn.Module, stat_decay: float, max_params: int) -> None:
        super().__init__(stat_decay)
        self.module = module
        self.params = list(trainable_parameters(module, max_params).values())
        self.max_params = max_params
        self.fisher: torch.Tensor | None = None
        self._inverse: BlockInverse | None = None
        self.inverse_damping = float("nan")
        """The λ of the inverses in use."""
        self._clear_capture()
        module.register_forward_hook(self._capture)

    def _capture(self, module: nn.Module, inputs: tuple[torch.Tensor, ...], output: object) -> None:
        if self._capturing:
            self._obs = inputs[0].detach()

    def _clear_capture(self) -> None:
        """Forget the captured observations."""
        self._obs: torch.Tensor | None = None

    def update_statistics(self, sampled_nll: torch.Tensor | None, output: ModelOutput) -> bool:
        """Fold the captured batch's exact Fisher into the running one; False (nothing folded) if it
        is not finite. It is computed anew from the captured observations (in closed form, so
        ``sampled_nll`` and ``output`` are not needed)."""
        if self._obs is None:
            raise RuntimeError("update_statistics needs a forward run inside capturing()")
        with self._timed("stats"):
            fresh = exact_fisher(self.module, self._obs, max_params=self.max_params)
            self._clear_capture()
            folded = self._fold([self.fisher], [fresh])
            if folded is not None:
                (self.fisher,) = folded
        return folded is not None

    def _statistics_state(self) -> dict[str, Any]:
        """The running Fisher, and the factors in use with their λ."""
        inverse = vars(self._inverse) if self._inverse is not None else None
        return {"fisher": self.fisher, "inverse": inverse, "inverse_damping": self.inverse_damping}

    def _load_statistics_state(self, state: dict[str, Any]) -> None:
        self.fisher, self.inverse_damping = state["fisher"], state["inverse_damping"]
        self._inverse = BlockInverse(**state["inverse"]) if state["inverse"] is not None else None

    def needs_refresh(self, damping: float) -> bool:
        """True until a refresh succeeded, and whenever λ differs from the last refresh's."""
        return not self.ready or damping != self.inverse_damping

    def refresh(self, damping: float) -> bool:
        """Factor F̂ + λI block by block; False if that failed even in float64 (then not ready)."""

        def decompose() -> None:
            self._inverse = BlockInverse.of(self.fisher, damping)
            self.inverse_damping = damping

        return self._refresh_with(decompose)

    def precondition(self, grads: list[torch.Tensor], damping: float) -> list[torch.Tensor]:
        """(F̂ + λI)⁻¹ applied to ``grads``, with λ the last refresh's (see :meth:`needs_refresh`)."""
        self._require_ready()
        with self._timed("precondition"):
            return _unflatten(self._inverse.apply(flatten(grads)), grads)

    def quadratic_form(self, vectors: list[torch.Tensor]) -> torch.Tensor:
        """vᵀ F̂ v with the running Fisher (undamped)."""
        flat = flatten(vectors)
        return flat @ (self.fisher @ flat)


def flatten(tensors: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _unflatten(flat: torch.Tensor, like: list[torch.Tensor]) -> list[torch.Tensor]:
    return [part.view_as(t) for part, t in zip(flat.split([t.numel() for t in like]), like, strict=True)]


@dataclass
class BlockInverse:
    """(M + λI)⁻¹ for a symmetric PSD matrix M [P, P], kept as the lower Cholesky factor of each
    damped diagonal block of M (``blocks``: each block's indices, a slice where contiguous).
    Applying it is two triangular solves per block: no inverse is formed."""

    blocks: list[slice | torch.Tensor]
    factors: list[torch.Tensor]

    @classmethod
    def of(cls, matrix: torch.Tensor, damping: float) -> BlockInverse:
        """The inverse of ``matrix`` + ``damping``·I over its :func:`diagonal_blocks`, with the float64
        retry; raises ``DecompositionError``."""
        blocks = [_as_slice(index) for index in diagonal_blocks(matrix)]
        damped = []
        for index in blocks:
            block = matrix[index, index] if isinstance(index, slice) else matrix[index[:, None], index]
            block = block.clone()  # ``matrix`` stays undamped
            block.diagonal().add_(damping)
            damped.append(block)
        return cls(blocks, cholesky_factors(damped))

    def apply(self, vector: torch.Tensor) -> torch.Tensor:
        """(M + λI)⁻¹ vector, for a vector [P]."""
        result = torch.empty_like(vector)
        for index, factor in zip(self.blocks, self.factors, strict=True):
            lower = torch.linalg.solve_triangular(factor, vector[index, None], upper=False)
            result[index] = torch.linalg.solve_triangular(factor.mT, lower, upper=True).squeeze(1)
        return result


def _as_slice(index: torch.Tensor) -> slice | torch.Tensor:
    """A sorted index set as a slice where it is a contiguous range (a view, not a gather)."""
    start, stop = int(index[0]), int(index[-1]) + 1
    return slice(start, stop) if stop - start == len(index) else index
