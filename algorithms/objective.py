"""The actor-critic objective on one fixed batch: the interface every optimizer consumes."""

from __future__ import annotations

import torch
from torch import nn
from torch.distributions import Distribution, kl_divergence

from algorithms.nets import ActorCritic


class ActorCriticObjective:
    """Loss and sampled NLL of one rollout batch of B = T·N transitions.

    ``evaluate()`` runs ONE forward pass and returns ``(loss, sampled_nll)``:

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

    After each ``evaluate()``, ``terms`` holds detached scalars ``loss``,
    ``policy_loss``, ``value_loss`` and ``entropy`` for logging, and ``outputs``
    the forward's ``(distribution, values [B])`` with their graph (what exact-
    Fisher curvature differentiates).
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
        self.model = model
        self.obs = obs
        self.actions = actions
        self.advantages = advantages
        self.returns = returns
        self.old_log_probs = old_log_probs
        self.value_coef = value_coef
        self.entropy_coef = entropy_coef
        self.terms: dict[str, torch.Tensor] = {}
        self.outputs: tuple[Distribution, torch.Tensor] | None = None

    @property
    def policy(self) -> nn.Module:
        """Observations → action distribution (``Categorical`` or ``Independent(Normal)``)."""
        return self.model.policy

    def _forward(self) -> tuple[dict[str, torch.Tensor], Distribution, torch.Tensor, torch.Tensor]:
        """One forward pass: the loss terms (with graph), π(·|s), log π(a|s) [B] and V(s) [B]."""
        dist, values = self.model(self.obs)
        log_probs = dist.log_prob(self.actions)
        ratio = torch.exp(log_probs - self.old_log_probs)
        policy_loss = -(ratio * self.advantages).mean()
        value_loss = (self.returns - values).pow(2).mean()
        entropy = dist.entropy().mean()
        loss = policy_loss - self.entropy_coef * entropy + self.value_coef * value_loss
        terms = {"loss": loss, "policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy}
        return terms, dist, log_probs, values

    def evaluate(self) -> tuple[torch.Tensor, torch.Tensor]:
        terms, dist, log_probs, values = self._forward()
        self.outputs = (dist, values)
        self.terms = {name: value.detach() for name, value in terms.items()}
        return terms["loss"], sampled_nll(log_probs, values)

    @torch.no_grad()
    def loss_at_current_params(self) -> torch.Tensor:
        """The loss on the same batch at the current parameters, without a graph."""
        return self._forward()[0]["loss"]

    @torch.no_grad()
    def realized_kl(self, old_policy: Distribution) -> float:
        """The mean KL(π_old ‖ π) over the batch, π at the current parameters."""
        return float(kl_divergence(old_policy, self.policy(self.obs)).mean())


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
