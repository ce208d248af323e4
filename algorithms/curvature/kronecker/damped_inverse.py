"""Applying (Ā ⊗ G + damping)⁻¹ to a gradient matrix V of shape (out, in + 1).

Two preconditioners:

- ``eigen``: Ā = Q_A diag(d_A) Q_Aᵀ, G = Q_G diag(d_G) Q_Gᵀ and
  Δ = Q_G [(Q_Gᵀ V Q_A) ⊘ (d_G d_Aᵀ + λ)] Q_Aᵀ: the exact inverse of the damped
  Kronecker product, for any λ without a new decomposition.
- ``tikhonov``: factored Tikhonov damping (Martens & Grosse 2015 §6.3),
  Δ = (G + (γ/π) I)⁻¹ V (Ā + π γ I)⁻¹ with γ = √λ and
  π = √[(tr Ā / dim Ā) / (tr G / dim G)], inverted by Cholesky (faster than eigh
  for large factors; docs/optimizers.md). λ is fixed at each refresh.

Decompositions go through :mod:`algorithms.curvature.decompositions` (batched by shape,
retried in float64, else :class:`DecompositionError`, and the caller skips the
update).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from algorithms.curvature.decompositions import cholesky_inverses, decompose_all

PRECONDITIONERS = ("eigen", "tikhonov")


def _eigh(matrices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    values, vectors = torch.linalg.eigh(matrices)
    return values.clamp(min=0.0), vectors  # factors are PSD; negative values are round-off


class DampedInverse(Protocol):
    def apply(self, matrix: torch.Tensor, damping: float) -> torch.Tensor:
        """(Ā ⊗ G + damping)⁻¹ applied to ``matrix`` (out, in + 1)."""


@dataclass
class EigenInverse:
    """Ā = Q_A diag(d_A) Q_Aᵀ and G = Q_G diag(d_G) Q_Gᵀ."""

    d_A: torch.Tensor
    Q_A: torch.Tensor
    d_G: torch.Tensor
    Q_G: torch.Tensor

    def apply(self, matrix: torch.Tensor, damping: float) -> torch.Tensor:
        rotated = self.Q_G.T @ matrix @ self.Q_A
        rotated = rotated / (torch.outer(self.d_G, self.d_A) + damping)
        return self.Q_G @ rotated @ self.Q_A.T


def tikhonov_pi(A: torch.Tensor, G: torch.Tensor) -> float:
    """π = √[(tr Ā / dim Ā) / (tr G / dim G)]; 1 when either trace is zero or not finite."""
    ratio = float((A.trace() / A.shape[0]) / (G.trace() / G.shape[0]))
    return ratio**0.5 if 0.0 < ratio < float("inf") else 1.0


@dataclass
class TikhonovInverse:
    """(Ā + π γ I)⁻¹ and (G + γ/π I)⁻¹ at the λ of their refresh."""

    A_inv: torch.Tensor
    G_inv: torch.Tensor

    def apply(self, matrix: torch.Tensor, damping: float) -> torch.Tensor:
        # A⁻¹ is symmetric: (A⁻¹ (G⁻¹V)ᵀ)ᵀ = G⁻¹ V A⁻¹, and this order runs faster in MKL (3137-wide A).
        return (self.A_inv @ (self.G_inv @ matrix).T).T


def damped_inverses(
    kind: str, factors: list[tuple[torch.Tensor, torch.Tensor]], damping: float
) -> list[DampedInverse]:
    """One damped inverse per (Ā, G) pair, decompositions batched across layers of equal size."""
    if kind == "eigen":
        parts = decompose_all(_eigh, [m for pair in factors for m in pair])
        return [EigenInverse(*parts[2 * i], *parts[2 * i + 1]) for i in range(len(factors))]
    if kind == "tikhonov":
        shifted = []
        for A, G in factors:
            pi, gamma = tikhonov_pi(A, G), damping**0.5
            shifted += [A + pi * gamma * _eye_like(A), G + gamma / pi * _eye_like(G)]
        inverses = cholesky_inverses(shifted)
        return [TikhonovInverse(inverses[2 * i], inverses[2 * i + 1]) for i in range(len(factors))]
    raise ValueError(f"unknown preconditioner {kind!r}; accepted: {', '.join(PRECONDITIONERS)}")


INVERSE_TYPES: dict[str, type] = {"eigen": EigenInverse, "tikhonov": TikhonovInverse}
"""The damped inverse each preconditioner keeps (a checkpoint restores one from its fields)."""


def _eye_like(matrix: torch.Tensor) -> torch.Tensor:
    return torch.eye(matrix.shape[0], dtype=matrix.dtype, device=matrix.device)
