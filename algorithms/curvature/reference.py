"""Dense curvature matrices of a small policy: the exact Fisher and K-FAC's approximation of it.

Both functions take a ``model`` mapping observations [N, *obs_shape] to a
``Categorical`` or a diagonal Gaussian (``Independent(Normal)``), or to a pair
(that distribution, values [N]) for an actor-critic, whose critic is then read
as a Gaussian with σ = 1 around V (the joint Fisher of ACKTR), and return a
[P, P] matrix over ``[p for p in model.parameters() if p.requires_grad]``, each
flattened with ``reshape(-1)`` and concatenated in that order. They refuse nets
above ``max_params`` parameters: the matrix alone takes 4·P² bytes in float32.

The exact Fisher is F = (1/N) Σ_n J_nᵀ Λ_n J_n, J_n the Jacobian (torch.func, vmap over
samples) of the output's natural parameters, in which Λ_n is diagonal
(:mod:`algorithms.curvature.output_fisher`: normalized logits with Λ = diag(p), or (μ, log σ)
with Λ = diag(1/σ², 2), and V with Λ = 1). So F = UᵀU / N with U = Λ^{1/2} J stacked over
samples: one product, accumulated over chunks of samples to bound memory.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.func import functional_call, jacrev, vmap

from algorithms.config import DEFAULT_MAX_PARAMS
from algorithms.curvature.decompositions import diagonal_blocks
from algorithms.curvature.kronecker.engine import KroneckerFisher
from algorithms.curvature.output_fisher import ModelOutput, natural_parameters
from algorithms.errors import ConfigError
from algorithms.objective import sampled_nll

_CHUNK_ENTRIES = 2**25
"""Entries of the Jacobian held at once (128 MiB in float32)."""
_GRAM_TILE = 1024
"""Width of the column tiles of a symmetric Gram product."""


def trainable_parameters(model: nn.Module, max_params: int) -> dict[str, nn.Parameter]:
    """``model``'s trainable parameters by name; :class:`ConfigError` above ``max_params`` of them."""
    params = {name: p for name, p in model.named_parameters() if p.requires_grad}
    count = sum(p.numel() for p in params.values())
    if count > max_params:
        raise ConfigError(
            f"a dense Fisher of {count} parameters is above the limit of {max_params} "
            "(raise max_params to allow it); for nets this size use kfac or acktr"
        )
    return params


def _natural(output: ModelOutput) -> tuple[torch.Tensor, torch.Tensor]:
    """(natural parameters [N, K], √Λ [N, K]) of a model's output, all its parts side by side."""
    parts = natural_parameters(output)
    return torch.cat([part.value for part in parts], -1), torch.cat([part.root for part in parts], -1)


def exact_fisher(
    model: nn.Module,
    obs: torch.Tensor,
    dtype: torch.dtype | None = None,
    max_params: int = DEFAULT_MAX_PARAMS,
) -> torch.Tensor:
    """The closed-form Fisher (1/N) Σ_n E_{a~π(·|s_n)}[∇log π ∇log πᵀ] over ``obs`` [N, ...]: [P, P].

    No sampling. Computed in ``dtype`` (default: the parameters' dtype).
    """
    params = trainable_parameters(model, max_params)
    dtype = dtype or next(iter(params.values())).dtype
    names, shapes = list(params), [p.shape for p in params.values()]
    flat = torch.cat([p.detach().to(dtype).reshape(-1) for p in params.values()])  # [P]
    frozen = {
        name: t.detach().to(dtype) if t.is_floating_point() else t
        for name, t in [*model.named_parameters(), *model.named_buffers()]
        if name not in params
    }
    obs = obs.to(dtype) if obs.is_floating_point() else obs

    def output(flat_params: torch.Tensor, batch: torch.Tensor) -> ModelOutput:
        parts = flat_params.split([shape.numel() for shape in shapes])
        unflat = {name: part.view(shape) for name, part, shape in zip(names, parts, shapes, strict=True)}
        return functional_call(model, {**frozen, **unflat}, (batch,))

    def scaled_natural(
        flat_params: torch.Tensor, one_obs: torch.Tensor, one_root: torch.Tensor
    ) -> torch.Tensor:
        # √Λ held fixed: its Jacobian is √Λ J
        return _natural(output(flat_params, one_obs[None]))[0][0] * one_root

    with torch.no_grad():
        _, root = _natural(output(flat, obs))
    jacobian = vmap(jacrev(scaled_natural), in_dims=(None, 0, 0))  # [n, K, P]
    chunk = max(1, _CHUNK_ENTRIES // (root.shape[-1] * len(flat)))
    fisher = torch.zeros(len(flat), len(flat), dtype=dtype, device=obs.device)
    for start in range(0, obs.shape[0], chunk):
        _accumulate_gram(fisher, jacobian(flat, obs[start : start + chunk], root[start : start + chunk]))
    return fisher.div_(obs.shape[0])


def _accumulate_gram(fisher: torch.Tensor, rows: torch.Tensor) -> None:
    """fisher += Σ_{n,k} u_{nk} u_{nk}ᵀ for rows u [n, K, P], one product per group of outputs whose
    reaches (the parameters they depend on) overlap, over the index range that spans the group's
    reaches. Outside its reach a row is exactly 0, so the range adds exact zeros there, and a
    separate critic's output (which reaches only the critic) or a state-independent log σ_d (only
    itself) keeps its product small, while the outputs of one head share one product."""
    reach = rows.any(0)  # [K, P]: non-zero somewhere
    overlap = reach.to(rows.dtype) @ reach.T.to(rows.dtype)  # [K, K]
    for outputs in diagonal_blocks(overlap):
        index = reach[outputs].any(0).nonzero().squeeze(1)
        if len(index) == 0:  # outputs that reach nothing here (e.g. an action of probability 0)
            continue
        start, stop = int(index[0]), int(index[-1]) + 1
        _add_symmetric_gram(fisher[start:stop, start:stop], rows[:, outputs, start:stop].flatten(0, 1))


def _add_symmetric_gram(out: torch.Tensor, block: torch.Tensor) -> None:
    """out += blockᵀ block for block [M, R]. With at least a tile's width of rows (where a tile's
    product is bound by its arithmetic) the lower tiles by products and the upper by transposing
    them, so T column tiles take (T + 1) / 2T of one product's arithmetic; otherwise one product."""
    tiles = [slice(i, i + _GRAM_TILE) for i in range(0, block.shape[1], _GRAM_TILE)]
    if len(tiles) == 1 or block.shape[0] < _GRAM_TILE:
        out.addmm_(block.T, block)
        return
    columns = [block[:, tile] for tile in tiles]
    for i, (row_tile, left) in enumerate(zip(tiles, columns, strict=True)):
        out[row_tile, row_tile].addmm_(left.T, left)
        for col_tile, right in zip(tiles[:i], columns[:i], strict=True):
            product = left.T @ right
            out[row_tile, col_tile] += product
            out[col_tile, row_tile] += product.T


def kfac_fisher(
    model: nn.Module,
    obs: torch.Tensor,
    dtype: torch.dtype | None = None,
    max_params: int = DEFAULT_MAX_PARAMS,
    fisher: str = "exact",
) -> torch.Tensor:
    """K-FAC's block-diagonal approximation of :func:`exact_fisher`, densely: [P, P].

    The factors are the optimizer's own (``KroneckerFisher`` on one forward of ``obs``,
    on a copy of ``model`` so that no hook stays behind): one block Ā ⊗ G per Linear /
    Conv2d layer and 2·I for a Gaussian log σ, zero between blocks. ``fisher="exact"``
    takes G in closed form; ``"sampled"`` from one action per observation drawn from the
    policy (and a critic target V + ε, ε ~ N(0, 1)), as ACKTR estimates it.
    """
    params = trainable_parameters(model, max_params)
    model = copy.deepcopy(model).to(dtype or next(iter(params.values())).dtype)
    engine = KroneckerFisher(model, fisher=fisher)
    obs = obs.to(engine.params[0].dtype) if obs.is_floating_point() else obs
    with engine.capturing():
        output = model(obs)
    dist, values = output if isinstance(output, tuple) else (output, None)
    nll = sampled_nll(dist.log_prob(dist.sample()), values) if fisher == "sampled" else None
    if not engine.update_statistics(nll, output):
        raise ValueError("the K-FAC factors of this batch are not finite")
    return engine.to_dense()
