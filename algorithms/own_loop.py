"""Our optimizers in your own training loop (a CleanRL- or Stable-Baselines3-style one).

Build one over your module with :func:`make_optimizer`, then at each update hand its ``step``
an :class:`~algorithms.objective.Objective` of a function that runs your forward on the
batch and returns a :class:`~algorithms.objective.Forward`::

    optimizer = make_optimizer(agent, "acktr", domain="classic", total_updates=n_updates)
    for update in range(n_updates):
        obs, actions, advantages, returns = ...  # your rollout, actions drawn from the policy

        def forward() -> Forward:
            dist, values = agent(obs)
            log_probs = dist.log_prob(actions)
            loss = -(log_probs * advantages).mean() + 0.25 * (returns - values).pow(2).mean()
            return Forward(loss, dist, log_probs, values)

        stats = optimizer.step(Objective(forward))  # lr, step_scale, kl_estimate, …

``step`` is the one our harness calls, over the same code: it runs the forward once, with
K-FAC's hooks capturing every ``nn.Linear`` and ``nn.Conv2d`` input and output gradient;
folds the sampled NLL of that forward into the Kronecker factors (true-Fisher statistics: the
actions must be samples of the current policy); preconditions the loss's gradient and scales
the step into the KL trust region.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from algorithms.config import set_field, validate_section
from algorithms.errors import ConfigError
from algorithms.optim import optimizer_entry
from algorithms.optim.base import Optimizer

SECTION = "optimizer."


def make_optimizer(
    module: nn.Module, name: str = "acktr", domain: str = "classic", total_updates: int = 1, **settings: Any
) -> Optimizer:
    """Optimizer ``name`` (``acktr``, ``kfac``, ``ng``, ``lm``, ``sgd`` or a plug-in) over the
    trainable parameters of ``module``, with its preset's optimizer settings for ``domain``
    (``atari``, ``mujoco``, ``classic``: see ``acktr-bench list``) and ``settings`` over them,
    by field name (``lr=0.1``, ``kl_clip=0.002``). ``total_updates`` is the number of
    ``step`` calls a linear learning-rate schedule decays over.

    With ``critic="separate"`` (the MuJoCo preset) ``module`` must have ``policy`` and
    ``critic`` submodules; with ``critic="joint"`` any module works, the ``dist`` and
    ``values`` of its forward both entering the curvature. Raises :class:`ConfigError` of one
    line for an unknown name, domain or setting, or a bad value."""
    entry = optimizer_entry(name)
    if domain not in entry.presets:
        accepted = ", ".join(entry.presets)
        raise ConfigError(f"bad domain {domain!r} for optimizer {name!r}; accepted: {accepted}")
    config = entry.config_type()
    preset = entry.presets[domain]
    own = {key.removeprefix(SECTION): value for key, value in preset.items() if key.startswith(SECTION)}
    for field_name, value in {**own, **settings}.items():
        if not hasattr(config, field_name):
            accepted = ", ".join(vars(config))
            raise ConfigError(f"unknown setting {field_name!r} of optimizer {name!r}; accepted: {accepted}")
        set_field(config, field_name, value, field_name)
    validate_section(config, name)
    return entry.build(module, config, total_updates)
