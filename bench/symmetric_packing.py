"""Symmetric matrices stored as their upper triangle: how a checkpoint file halves K-FAC's state.

K-FAC's running factors Ā [n, n] and G [m, m] and Tikhonov's damped inverses are symmetric, and
on an Atari net they are most of a checkpoint (Ā of the Nature CNN's fc layer is 3137²). A
matrix is packed only where it equals its transpose exactly, so unpacking gives back the very
same values: nothing is rounded, and any other tensor is kept as it is.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

MIN_PACKED_SIZE = 16
"""Smaller matrices gain too little to be worth packing."""


@dataclass(frozen=True)
class PackedSymmetric:
    """A symmetric matrix [size, size]: ``upper`` [size·(size + 1)/2] holds its upper triangle,
    diagonal included, row by row."""

    upper: torch.Tensor
    size: int

    def unpack(self) -> torch.Tensor:
        """The matrix [size, size], bit for bit the one that was packed."""
        upper = _upper_mask(self.size, self.upper.device)
        matrix = self.upper.new_zeros(self.size, self.size)
        matrix[upper] = self.upper
        return torch.where(upper, matrix, matrix.mT)


def _upper_mask(size: int, device: torch.device) -> torch.Tensor:
    return torch.ones(size, size, dtype=torch.bool, device=device).triu()


def _is_symmetric_matrix(tensor: torch.Tensor) -> bool:
    return (
        tensor.dim() == 2
        and tensor.shape[0] == tensor.shape[1] >= MIN_PACKED_SIZE
        and tensor.is_floating_point()
        and torch.equal(tensor, tensor.mT)
    )


def _packed_leaf(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and _is_symmetric_matrix(value):
        return PackedSymmetric(value[_upper_mask(len(value), value.device)], len(value))
    return value


def _unpacked_leaf(value: Any) -> Any:
    return value.unpack() if isinstance(value, PackedSymmetric) else value


def _map_leaves(state: Any, leaf: Callable[[Any], Any]) -> Any:
    """``state`` with ``leaf`` applied to everything below its plain dicts, lists and tuples (an
    ``OrderedDict`` too); a container in which nothing changed is returned itself, so the
    attributes of a module's ``state_dict`` survive."""
    if type(state) in (dict, OrderedDict):
        mapped = {key: _map_leaves(value, leaf) for key, value in state.items()}
        if all(mapped[key] is value for key, value in state.items()):
            return state
        return type(state)(mapped)
    if type(state) in (list, tuple):
        items = [_map_leaves(value, leaf) for value in state]
        if all(new is old for new, old in zip(items, state, strict=True)):
            return state
        return type(state)(items)
    return leaf(state)


def pack(state: Any) -> Any:
    """``state`` with every exactly symmetric floating matrix of size ≥ ``MIN_PACKED_SIZE`` in its
    nested dicts, lists and tuples replaced by a :class:`PackedSymmetric`; all else unchanged."""
    return _map_leaves(state, _packed_leaf)


def unpack(state: Any) -> Any:
    """The inverse of :func:`pack`: every :class:`PackedSymmetric` back to its full matrix."""
    return _map_leaves(state, _unpacked_leaf)
