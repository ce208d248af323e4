"""The objective on one fixed batch: the interface every optimizer's ``step`` consumes, from any
forward function (:class:`Objective`), and the actor-critic loss of our harness
(:class:`ActorCriticObjective`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

import torch
from torch import nn
from torch.distributions import Distribution, kl_divergence

from algorithms.nets import ActorCritic


class Forward(NamedTuple):
    """One forward pass over a batch of B transitions, with its graph.

    ``loss``: the scalar to minimize. ``dist``: π(·|s_b), batch shape [B]. ``log_probs``:
    log π(a_b|s_b) [B] of actions a_b sampled from the current policy (an on-policy rollout's
    own actions), whose NLL gives true-Fisher statistics. ``values``: V(s_b) [B], or None for a
    policy without a critic. ``terms``: detached scalars to log beside the optimizer's stats."""

    loss: torch.Tensor
    dist: Distribution
    log_probs: torch.Tensor
    values: torch.Tensor | None
    terms: Mapping[str, torch.Tensor] = {}


class Objective:
    """Loss and sampled NLL of one fixed batch, from ``forward`` (each call one forward pass at
    the current parameters, on the same batch).

    ``evaluate()`` runs ONE forward and returns ``(loss, sampled_nll)``, ``sampled_nll`` as
    :func:`sampled_nll` makes it from the forward's ``log_probs`` and ``values``. After it,
    ``terms`` holds the forward's terms (``loss`` among them) detached, and ``outputs`` the
    forward's ``(dist, values)`` with their graph (what closed-form curvature differentiates).
    ``loss_at_current_params()`` and ``realized_kl(old_policy)`` run a forward without a graph.
    """

    def __init__(self, forward: Callable[[], Forward]) -> None:
        self.forward = forward
        self.terms: dict[str, torch.Tensor] = {}
        self.outputs: tuple[Distribution, torch.Tensor | None] | None = None

    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        result = self.forward()
        self.outputs = (result.dist, result.values)
        self.terms = {
            "loss": result.loss.detach(),
            **{name: value.detach() for name, value in result.terms.items()},
        }
        return result.loss, sampled_nll(result.log_probs, result.values)

    @torch.no_grad()
    def loss_at_current_params(self) -> torch.Tensor:
        """The loss on the same batch at the current parameters, without a graph."""
        return self.forward().loss

    @torch.no_grad()
    def realized_kl(self, old_policy: Distribution) -> float:
        """The mean KL(π_old ‖ π) over the batch, π at the current parameters."""
        return float(kl_divergence(old_policy, self.current_policy()).mean())

    def current_policy(self) -> Distribution:
        """π(·|s) over the batch at the current parameters."""
        return self.forward().dist


class ActorCriticObjective(Objective):
    """Our harness's loss on one rollout batch of B = T·N transitions:

    - ``loss`` = policy term − entropy_coef · mean entropy + value_coef · mean (R − V)².
      The policy term is the surrogate −mean[(π_θ(a|s) / π_old(a|s)) Â]; at the
      rollout's parameters its gradient is A2C's −mean[∇log π(a|s) Â], and away
      from them it is the quantity whose change Levenberg–Marquardt compares with
      its model.
    - ``sampled_nll`` = Σ_b [−log π(a_b|s_b) + ½ (y_b − V(s_b))²], summed (not
      averaged) over the batch, with a_b the rollout's actions (samples of the
      current policy) and y_b = V(s_b).detach() + ε, ε ~ N(0, 1): the critic is
      read as a Gaussian with σ = 1 (constants dropped). Its gradients give
      true-Fisher statistics.

    ``terms`` holds ``loss``, ``policy_loss``, ``value_loss`` and ``entropy``.
    """

    def __init__(
        self,
        model: ActorCritic,
        obs: torch.Tensor,
        actions: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        old_log_probs: torch.Tensor,
        value_coef: float,
        entropy_coef: float,
    ) -> None:
        super().__init__(self._forward)
        self.model = model
        self.obs = obs
        self.actions = actions
        self.advantages = advantages
        self.returns = returns
        self.old_log_probs = old_log_probs
        self.value_coef = value_coef
        self.entropy_coef = entropy_coef

    @property
    def policy(self) -> nn.Module:
        """Observations → action distribution (``Categorical`` or ``Independent(Normal)``)."""
        return self.model.policy

    def _forward(self) -> Forward:
        dist, values = self.model(self.obs)
        log_probs = dist.log_prob(self.actions)
        ratio = torch.exp(log_probs - self.old_log_probs)
        policy_loss = -(ratio * self.advantages).mean()
        value_loss = (self.returns - values).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss - self.entropy_coef * entropy + self.value_coef * value_loss
        terms = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
        return Forward(loss, dist, log_probs, values, terms)

    def current_policy(self) -> Distribution:
        """The policy's forward alone (the critic is not needed for the KL)."""
        return self.policy(self.obs)


def sampled_nll(log_probs: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
    """−Σ_b log π(a_b|s_b) + ½ Σ_b (y_b − V(s_b))² with y = V.detach() + ε, ε ~ N(0, 1).

    ``log_probs`` [B] of actions sampled from the policy; ``values`` [B], or None for a
    policy without a critic. Its gradients give true-Fisher statistics.
    """
    nll = -log_probs.sum()
    if values is None:
        return nll
    targets = values.detach() + torch.randn_like(values)
    return nll + 0.5 * (targets - values).pow(2).sum()
