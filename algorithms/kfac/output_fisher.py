"""Closed-form Fisher of the model's output distributions, as square-root columns.

For one sample, the Fisher of an output distribution w.r.t. its parameters z is
Λ = E_y[∇_z log p(y) ∇_z log p(y)ᵀ]. Writing Λ = Σ_k u_k u_kᵀ, the exact
(expected) K-FAC statistic G = E_y[g gᵀ] at any layer output s is
Σ_k (J_sᵀ u_k)(J_sᵀ u_k)ᵀ: one backward pass per column u_k, batched.

- Categorical(logits): Λ = diag(p) − p pᵀ; u_k = √p_k (e_k − p) (Σ_k u_k u_kᵀ = Λ
  because Σ p = 1). Each u_k sums to 0, so backpropagating through the
  normalized logits equals backpropagating through the raw ones.
- Diagonal Gaussian, mean μ: Λ_μ = diag(1/σ²); u_d = e_d / σ_d. The state-
  independent log σ has Fisher 2·I and no layer; the engine treats it itself.
- Critic, read as a Gaussian with σ = 1 around V(s): Λ = 1; one column.

Policy and critic outputs are independent, so the joint Λ is block-diagonal and
the columns are the union of both sets (zero on the other output).
"""

from __future__ import annotations

import torch
from torch.distributions import Categorical, Distribution, Independent, Normal


def _policy_columns(dist: Distribution) -> tuple[torch.Tensor, torch.Tensor]:
    """(distribution parameter tensor z [N, K] with graph, columns [K, N, K])."""
    if isinstance(dist, Categorical):
        probs = dist.probs.detach()
        eye = torch.eye(probs.shape[-1], dtype=probs.dtype, device=probs.device)
        columns = probs.sqrt().T.unsqueeze(-1) * (eye.unsqueeze(1) - probs.unsqueeze(0))
        return dist.logits, columns
    if isinstance(dist, Independent) and isinstance(dist.base_dist, Normal):
        mean, std = dist.base_dist.loc, dist.base_dist.scale.detach()
        eye = torch.eye(mean.shape[-1], dtype=mean.dtype, device=mean.device)
        return mean, eye.unsqueeze(1) / std.unsqueeze(0)
    raise TypeError(
        f"no closed-form Fisher for {type(dist).__name__}; accepted: Categorical, Independent(Normal)"
    )


def exact_fisher_columns(
    dist: Distribution, values: torch.Tensor | None = None
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Outputs and batched grad-outputs for ``autograd.grad(..., is_grads_batched=True)``.

    Returns ``([z, values], [columns_z [C, N, K], columns_v [C, N]])`` with C = K + 1:
    K policy columns (zero on the value) and one critic column (zero on z); with
    ``values=None`` (a policy alone), ``([z], [columns_z [K, N, K]])``.
    """
    z, columns = _policy_columns(dist)
    if values is None:
        return [z], [columns]
    n_policy = columns.shape[0]
    columns_z = torch.cat([columns, columns.new_zeros(1, *columns.shape[1:])])
    columns_v = values.new_zeros(n_policy + 1, *values.shape)
    columns_v[-1] = 1.0
    return [z, values], [columns_z, columns_v]
