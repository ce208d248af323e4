"""Settings of the four curvature optimizers, one dataclass per axis of their 2 × 2.

``acktr``, ``kfac``, ``ng`` and ``lm`` are one optimizer: a curvature {Kronecker, exact} and a
damping rule {fixed λ, Levenberg–Marquardt λ} inside the same KL trust region. Each one's
settings are :class:`StepSettings` (everything they share) plus its curvature's settings plus
its damping rule's settings. No field is defined by two of the parts a config is made of, so
the order of the bases decides nothing (they are listed last part first, so that a config's
fields start with the shared ones); a test checks that for every composition.
Defaults are ACKTR's Atari ones (Wu et al. 2017; OpenAI Baselines).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from algorithms.config import DEFAULT_MAX_PARAMS, FRACTION, NON_NEGATIVE, POSITIVE, choices
from algorithms.curvature.kronecker.damped_inverse import PRECONDITIONERS
from algorithms.curvature.kronecker.engine import FISHER_MODES
from algorithms.optim.base import LR_SCHEDULES, MOMENTUM


@dataclass
class StepSettings:
    """What every curvature optimizer shares: step size, momentum, statistics and refresh schedule,
    cold start, the trust region, and the separate critic."""

    lr: float = field(default=0.25, metadata=NON_NEGATIVE)
    lr_schedule: str = field(default="linear", metadata=choices(*LR_SCHEDULES))
    momentum: float = field(default=0.9, metadata=MOMENTUM)
    stat_decay: float = field(default=0.99, metadata=FRACTION)
    stats_every: int = field(default=1, metadata=POSITIVE)
    """T_stats: updates between curvature statistics."""
    refresh_every: int = field(default=10, metadata=POSITIVE)
    """T_inv: updates between decompositions of the curvature."""
    cold_start: int = field(default=10, metadata=NON_NEGATIVE)
    """Updates of plain momentum SGD at ``cold_lr`` while the first statistics accumulate."""
    cold_lr: float = field(default=0.25, metadata=NON_NEGATIVE)
    max_grad_norm: float = field(default=0.5, metadata=NON_NEGATIVE)
    """Global-norm clip of the cold-start gradient; 0 disables it."""
    weight_decay: float = field(default=0.0, metadata=NON_NEGATIVE)
    """L2 coefficient: adds wd·θ to the gradient and wd to the damping (its exact curvature)."""
    kl_clip: float = field(default=0.001, metadata=NON_NEGATIVE)
    """δ of the trust region (``algorithms.optim.trust_region``); 0: no trust region."""
    target_kl: float = field(default=0.0, metadata=NON_NEGATIVE)
    """> 0: the step size follows the realized KL toward this (the schedule is then ignored)."""
    critic: str = field(default="joint", metadata=choices("joint", "separate"))
    """``joint``: one curvature over policy and critic (needed for a shared trunk); ``separate``:
    the critic net gets its own optimizer, of the same curvature, with the ``value_*`` settings,
    a fixed damping and its own trust region (OpenAI Baselines' MuJoCo value function)."""
    value_lr: float = field(default=0.001, metadata=NON_NEGATIVE)
    value_kl_clip: float = field(default=0.3, metadata=NON_NEGATIVE)
    value_damping: float = field(default=0.1, metadata=NON_NEGATIVE)
    value_stat_decay: float = field(default=0.95, metadata=FRACTION)
    value_cold_start: int = field(default=50, metadata=NON_NEGATIVE)
    value_weight_decay: float = field(default=3e-4, metadata=NON_NEGATIVE)
    value_iterations: int = field(default=25, metadata=POSITIVE)
    """Critic updates per batch, each a fresh forward on the same batch."""


@dataclass
class KroneckerSettings:
    """K-FAC's curvature (``acktr``, ``kfac``)."""

    fisher: str = field(default="sampled", metadata=choices(*FISHER_MODES))
    """``sampled``: one model sample per datum (true Fisher, ACKTR); ``exact``: closed-form expectation."""
    preconditioner: str = field(default="eigen", metadata=choices(*PRECONDITIONERS))
    patches_per_dim: float = field(default=0.0, metadata=NON_NEGATIVE)
    """k > 0: each Conv2d Ā from ⌈k·dim Ā⌉ random patches of the batch (TF K-FAC uses 3); 0: all."""


@dataclass
class ExactSettings:
    """The exact dense Fisher (``ng``, ``lm``)."""

    max_params: int = field(default=DEFAULT_MAX_PARAMS, metadata=POSITIVE)
    """Largest net (trainable parameters) whose P×P Fisher is built."""


@dataclass
class FixedDampingSettings:
    """A fixed λ (``acktr``, ``ng``)."""

    damping: float = field(default=0.01, metadata=NON_NEGATIVE)
    """λ added to the Fisher."""


@dataclass
class LevenbergMarquardtSettings:
    """λ adapted by Levenberg–Marquardt (``kfac``, ``lm``; ``algorithms.optim.damping``)."""

    damping: float = field(default=1.0, metadata=NON_NEGATIVE)
    """The initial λ."""
    lm_every: int = field(default=5, metadata=POSITIVE)
    """T₁: updates between adaptations of λ."""
    damping_min: float = field(default=0.01, metadata=POSITIVE)
    """λ stays ≥ ACKTR's fixed damping."""
    damping_max: float = field(default=1e4, metadata=POSITIVE)


@dataclass
class ACKTRConfig(FixedDampingSettings, KroneckerSettings, StepSettings):
    """``acktr``: Kronecker curvature, fixed damping."""


@dataclass
class KFACConfig(LevenbergMarquardtSettings, KroneckerSettings, StepSettings):
    """``kfac``: Kronecker curvature, Levenberg–Marquardt damping."""


@dataclass
class NGConfig(FixedDampingSettings, ExactSettings, StepSettings):
    """``ng``: exact curvature, fixed damping."""


@dataclass
class LMConfig(LevenbergMarquardtSettings, ExactSettings, StepSettings):
    """``lm``: exact curvature, Levenberg–Marquardt damping."""


CURVATURE_SETTINGS = {"kronecker": KroneckerSettings, "exact": ExactSettings}
DAMPING_SETTINGS = {"fixed": FixedDampingSettings, "levenberg-marquardt": LevenbergMarquardtSettings}
SETTINGS = {
    ("kronecker", "fixed"): ACKTRConfig,
    ("kronecker", "levenberg-marquardt"): KFACConfig,
    ("exact", "fixed"): NGConfig,
    ("exact", "levenberg-marquardt"): LMConfig,
}
"""The settings dataclass of each (curvature, damping rule)."""
AXES = {"curvature": CURVATURE_SETTINGS, "damping": DAMPING_SETTINGS}
"""The two axes of the 2 × 2 and the settings dataclass of each of their values."""


def axis_keys(axis: str) -> frozenset[str]:
    """The settings (``optimizer.KEY``) of every value of ``axis`` (``curvature`` or ``damping``):
    where two optimizers that differ in that axis alone may differ."""
    return frozenset(f"optimizer.{f.name}" for part in AXES[axis].values() for f in fields(part))
