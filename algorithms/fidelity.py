"""How good K-FAC's curvature is, measured on training batches (``diagnostics.fidelity_every``).

On a due update's batch, before the optimizer steps, with the model as it is:

- ``fidelity_cosine``: cos(Δ_kfac, Δ_ng) between (F_kfac + λI)⁻¹∇ and (F + λI)⁻¹∇, with
  ∇ the gradient of the update's loss, F the exact joint Fisher
  (:func:`algorithms.curvature.exact_fisher`), F_kfac K-FAC's exact-mode approximation
  of it on the same batch (:func:`algorithms.curvature.kfac_fisher`), λ =
  ``diagnostics.fidelity_damping``;
- ``fidelity_fisher_error``: ‖F_kfac − F‖_F / ‖F‖_F, what the Kronecker and
  block-diagonal structure lose;
- ``fidelity_sampling_error``: ‖F̃_kfac − F_kfac‖_F / ‖F_kfac‖_F, with F̃_kfac from one
  sampled action per observation (ACKTR's estimate): what sampling adds on one batch;

and after the step, ``fidelity_kl_realized``: the mean KL(π_old ‖ π_new) over the batch,
to set beside the optimizer's ``kl_estimate`` (trust-region optimizers). Other updates
log NaN in these columns. The matrices are per batch, not the optimizer's running ones.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from algorithms.config import DiagnosticsConfig
from algorithms.curvature.dense import BlockInverse, flatten
from algorithms.curvature.reference import exact_fisher, kfac_fisher, trainable_parameters
from algorithms.nets import detached
from algorithms.objective import ActorCriticObjective

COLUMNS = ("fidelity_cosine", "fidelity_fisher_error", "fidelity_sampling_error", "fidelity_kl_realized")


class FidelityProbe:
    """Measures the columns above on every ``fidelity_every``-th update of ``model``."""

    def __init__(self, model: nn.Module, config: DiagnosticsConfig) -> None:
        self.params = list(trainable_parameters(model, config.max_params).values())  # refuses a net too big
        self.model = model
        self.config = config
        self._old_policy = None

    def due(self, update: int) -> bool:
        """Whether update ``update`` (1, 2, …) is measured."""
        return self.config.fidelity_every > 0 and update % self.config.fidelity_every == 0

    def before_step(self, objective: ActorCriticObjective) -> dict[str, float]:
        """The curvature measurements on the objective's batch, at the current parameters. The
        sampled K-FAC draws from a fork of the random state, so training goes on as unmeasured."""
        devices = [objective.obs.device] if objective.obs.is_cuda else []
        with torch.random.fork_rng(devices):
            return self._measure(objective)

    def _measure(self, objective: ActorCriticObjective) -> dict[str, float]:
        cfg = self.config
        obs = objective.obs
        loss, _ = objective.evaluate()
        self._old_policy = detached(objective.outputs[0])
        gradient = flatten(torch.autograd.grad(loss, self.params)).double()
        exact = exact_fisher(self.model, obs, dtype=torch.float64, max_params=cfg.max_params)
        kfac = kfac_fisher(self.model, obs, dtype=torch.float64, max_params=cfg.max_params)
        sampled = kfac_fisher(self.model, obs, torch.float64, cfg.max_params, fisher="sampled")
        natural = BlockInverse.of(exact, cfg.fidelity_damping).apply(gradient)
        approximate = BlockInverse.of(kfac, cfg.fidelity_damping).apply(gradient)
        return {
            "fidelity_cosine": float(torch.nn.functional.cosine_similarity(natural, approximate, dim=0)),
            "fidelity_fisher_error": _relative_error(kfac, exact),
            "fidelity_sampling_error": _relative_error(sampled, kfac),
        }

    def after_step(self, objective: ActorCriticObjective) -> dict[str, float]:
        """The realized mean KL between the policy before and after the step."""
        return {"fidelity_kl_realized": objective.realized_kl(self._old_policy)}


def _relative_error(approximation: torch.Tensor, reference: torch.Tensor) -> float:
    return float(torch.linalg.matrix_norm(approximation - reference) / torch.linalg.matrix_norm(reference))


def not_measured() -> dict[str, float]:
    """The columns on an update that is not measured."""
    return dict.fromkeys(COLUMNS, math.nan)
