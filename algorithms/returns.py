"""n-step returns and GAE(λ) with the distinction between termination and truncation."""

from __future__ import annotations

import torch


def advantages_and_returns(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    final_values: torch.Tensor,
    last_values: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(λ) advantages and value targets for a rollout of T steps from N envs.

    Shapes: ``rewards``, ``values``, ``terminated``, ``truncated``, ``final_values``
    are [T, N]; ``last_values`` [N] is V of the observation after the last step.
    Step t of env i bootstraps from:

    - nothing, if the episode terminated at t (this wins when both flags are set);
    - ``final_values[t, i]`` = V(final observation), if it was truncated at t;
    - ``values[t + 1, i]`` (or ``last_values[i]`` at t = T − 1) otherwise.

    The λ-recursion never crosses an episode end. With ``gae_lambda = 1`` the
    returns are the n-step returns of A2C. Returns ``(advantages, returns)``,
    both [T, N], with ``returns = advantages + values``.
    """
    ended = terminated | truncated
    next_values = torch.cat([values[1:], last_values.unsqueeze(0)])
    bootstrap = torch.where(
        terminated, torch.zeros_like(values), torch.where(truncated, final_values, next_values)
    )
    deltas = rewards + gamma * bootstrap - values
    continues = (~ended).to(values.dtype)
    advantages = torch.empty_like(values)
    running = torch.zeros_like(last_values)
    for t in reversed(range(values.shape[0])):
        running = deltas[t] + gamma * gae_lambda * continues[t] * running
        advantages[t] = running
    return advantages, advantages + values
