"""Closed-form Fisher of a model's output distributions, in coordinates where it is diagonal.

For one sample, the Fisher of an output distribution w.r.t. its parameters is
Λ = E_y[∇ log p(y) ∇ log p(y)ᵀ]. In the natural parameters z chosen here Λ is
diagonal, so the model's Fisher is J_zᵀ Λ J_z = Σ_k (√Λ_k ∇z_k)(√Λ_k ∇z_k)ᵀ:

- Categorical: z = the normalized logits log p, Λ = diag(p). Through the
  log-softmax, the column √p_k e_k reaches the raw logits as √p_k (e_k − p),
  the square-root columns of diag(p) − ppᵀ.
- Diagonal Gaussian: z = (μ, log σ), Λ = diag(1/σ², 2); a state-independent
  log σ_d gets 2 per dimension and no cross term with the mean.
- Critic, read as a Gaussian with σ = 1 around V(s): z = V, Λ = 1.

Policy and critic outputs are independent, so the joint Λ is block-diagonal over
the parts below. :func:`algorithms.curvature.reference.exact_fisher` differentiates
√Λ z; K-FAC's exact mode backpropagates the columns √Λ_k e_k of each part to its
layer outputs (:func:`exact_fisher_columns`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.distributions import Categorical, Distribution, Independent, Normal

ModelOutput = Distribution | tuple[Distribution, torch.Tensor] | torch.Tensor
"""What a model maps observations [N, ...] to: a policy's distribution, an actor-critic's pair
(distribution, values [N]), or a critic's values [N, 1] alone."""

LOG_STD_FISHER = 2.0
"""Exact Fisher of a state-independent Gaussian log σ_d, per dimension."""


@dataclass
class NaturalPart:
    """One output's natural parameters ``value`` [N, K] (with graph) and √Λ ``root`` [N, K] (detached)."""

    name: str
    """``logits``, ``mean``, ``log_std`` or ``value``."""
    value: torch.Tensor
    root: torch.Tensor


def natural_parameters(output: ModelOutput) -> list[NaturalPart]:
    """The parts of a model's output: a ``Categorical`` or ``Independent(Normal)`` policy; the
    pair (that distribution, values [N]) of an actor-critic, whose critic is one more part; or
    a critic's values [N, 1] alone."""
    if isinstance(output, tuple):
        dist, values = output
        return [*natural_parameters(dist), *natural_parameters(values[:, None])]
    if isinstance(output, torch.Tensor):
        return [NaturalPart("value", output, torch.ones_like(output).detach())]
    if isinstance(output, Categorical):
        return [NaturalPart("logits", output.logits, output.probs.detach().sqrt())]
    if isinstance(output, Independent) and isinstance(output.base_dist, Normal):
        mean, std = output.base_dist.loc, output.base_dist.scale.expand_as(output.base_dist.loc)
        root_log_std = torch.full_like(std, LOG_STD_FISHER**0.5).detach()
        return [
            NaturalPart("mean", mean, std.detach().reciprocal()),
            NaturalPart("log_std", std.log(), root_log_std),
        ]
    raise TypeError(
        f"no closed-form Fisher for {type(output).__name__}; accepted: Categorical, Independent(Normal)"
    )


def exact_fisher_columns(parts: list[NaturalPart]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Outputs and batched grad-outputs for ``autograd.grad(..., is_grads_batched=True)``.

    Returns ``([z_1, …, z_m], [columns_1 [C, N, K_1], …])`` with C = Σ K_i: column c is
    √Λ_k e_k on the part it belongs to and zero on every other part.
    """
    total = sum(part.value.shape[-1] for part in parts)
    outputs, columns, offset = [], [], 0
    for part in parts:
        width = part.value.shape[-1]
        block = part.root.new_zeros(total, *part.root.shape)
        block[offset : offset + width] = torch.diag_embed(part.root).movedim(-1, 0)
        outputs.append(part.value)
        columns.append(block)
        offset += width
    return outputs, columns
