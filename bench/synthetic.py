"""Synthetic rollout batches: given observations, actions sampled from the policy, random targets.

An update's cost and the optimizers' algebra do not depend on where a batch came
from, so timing benchmarks and unit tests build their objectives here.
"""

from __future__ import annotations

import torch

from algorithms.nets import ActorCritic
from algorithms.objective import ActorCriticObjective


def synthetic_objective(
    model: ActorCritic, obs: torch.Tensor, seed: int = 0, advantages: torch.Tensor | None = None
) -> ActorCriticObjective:
    """An objective on ``obs`` [B, ...]: actions ~ π(·|obs), advantages and returns ~ N(0, 1) [B].

    ``advantages`` replaces the random ones when given. Coefficients are the A2C
    defaults (value 0.5, entropy 0.01).
    """
    generator = torch.Generator().manual_seed(seed)
    batch = obs.shape[0]
    with torch.no_grad():
        dist, _ = model(obs)
        actions = dist.sample()
        old_log_probs = dist.log_prob(actions)
    if advantages is None:
        advantages = torch.randn(batch, generator=generator).to(obs.device)
    return ActorCriticObjective(
        model,
        obs=obs,
        actions=actions,
        advantages=advantages,
        returns=torch.randn(batch, generator=generator).to(obs.device),
        old_log_probs=old_log_probs,
        value_coef=0.5,
        entropy_coef=0.01,
    )
