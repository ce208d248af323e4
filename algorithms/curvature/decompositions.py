"""Decompositions of symmetric matrices that survive float32 round-off.

Matrices of one shape are decomposed in one batched call. A batch that fails (or
comes out non-finite) in its dtype is retried in float64; if that fails too,
:class:`DecompositionError` is raised and the optimizer skips the update.
"""

from __future__ import annotations

from collections.abc import Callable

import torch


class DecompositionError(RuntimeError):
    """A matrix could not be decomposed even in float64."""


def decompose_all(
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, ...]], matrices: list[torch.Tensor]
) -> list[tuple[torch.Tensor, ...]]:
    """``fn`` on every matrix, batched by shape; a batch that fails or is not finite is retried
    in float64; results in each matrix's dtype. Raises :class:`DecompositionError`."""
    results: list[tuple[torch.Tensor, ...] | None] = [None] * len(matrices)
    groups: dict[tuple, list[int]] = {}
    for i, matrix in enumerate(matrices):
        groups.setdefault((matrix.shape, matrix.dtype), []).append(i)
    for (shape, dtype), members in groups.items():
        stacked = torch.stack([matrices[i] for i in members])
        for attempt in (dtype, torch.float64):
            try:
                outputs = fn(stacked.to(attempt))
            except torch.linalg.LinAlgError:
                continue
            if bool(torch.stack([torch.isfinite(o).all() for o in outputs]).all()):
                break
        else:
            raise DecompositionError(f"a matrix of size {shape[0]} could not be decomposed in float64")
        for position, i in enumerate(members):
            results[i] = tuple(o[position].to(dtype) for o in outputs)
    return results


def _cholesky(matrices: torch.Tensor) -> tuple[torch.Tensor]:
    factors, info = torch.linalg.cholesky_ex(matrices)
    if bool((info != 0).any()):
        raise torch.linalg.LinAlgError("a damped matrix is not positive definite")
    return (factors,)


def _cholesky_inverse(matrices: torch.Tensor) -> tuple[torch.Tensor]:
    return (torch.cholesky_inverse(_cholesky(matrices)[0]),)


def cholesky_factors(matrices: list[torch.Tensor]) -> list[torch.Tensor]:
    """The lower Cholesky factor of each symmetric positive-definite matrix, batched by shape, with the
    float64 retry; raises :class:`DecompositionError`."""
    return [factor for (factor,) in decompose_all(_cholesky, matrices)]


def cholesky_inverses(matrices: list[torch.Tensor]) -> list[torch.Tensor]:
    """The inverse of each symmetric positive-definite matrix, by Cholesky, batched by shape, with
    the float64 retry; raises :class:`DecompositionError`."""
    return [inverse for (inverse,) in decompose_all(_cholesky_inverse, matrices)]


def diagonal_blocks(matrix: torch.Tensor) -> list[torch.Tensor]:
    """Index sets [size_b] of the diagonal blocks of a symmetric ``matrix`` [P, P] up to a
    permutation: the connected components of the graph with an edge where an entry is non-zero,
    each found by breadth-first search, so every row is read once."""
    size = len(matrix)
    unassigned = torch.ones(size, dtype=torch.bool, device=matrix.device)
    blocks = []
    while bool(unassigned.any()):
        members = torch.zeros_like(unassigned)
        frontier = torch.zeros_like(unassigned)
        frontier[unassigned.nonzero()[0]] = True
        while bool(frontier.any()):
            members |= frontier
            frontier = matrix[frontier].ne(0).any(0) & ~members
        blocks.append(members.nonzero().squeeze(1))
        unassigned &= ~members
    return blocks
