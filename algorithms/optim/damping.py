"""The two damping rules of the curvature optimizers: a fixed λ, or λ adapted by Levenberg–Marquardt.

Both give the λ of (F̂ + λI)⁻¹∇ at every update. Levenberg–Marquardt (Martens & Grosse 2015
§6.5) also measures, every ``every`` updates (T₁), how much of the decrease its quadratic model
promised the step actually gave,

    ρ = [h(θ + δ) − h(θ)] / [M(δ) − M(0)],   M(δ) − M(0) = ∇hᵀδ + ½ δᵀ F̂ δ,

with h the batch loss and F̂ the undamped curvature. ρ near 1 means the model is trusted and λ
shrinks (the step moves toward the pure natural gradient); small or negative ρ means the model
overpromised, so λ grows (toward a short gradient step):

    ρ > ¾ → λ ← ω₁ λ,   ρ < ¼ → λ ← λ / ω₁,   ω₁ = (19/20)^T₁,

with λ clipped to [minimum, maximum]. A NaN ρ (a non-finite loss after the step, or a zero
predicted change) counts as a bad step. Only λ is adapted: unlike Martens & Grosse's full
algorithm, the step length comes from the trust region, not from the quadratic model.
"""

from __future__ import annotations

import math
from typing import Protocol


class DampingRule(Protocol):
    damping: float
    """λ of the next preconditioning."""

    def measures(self, update: int) -> bool:
        """Whether update ``update`` (0-based) should measure ρ and call :meth:`adapt`."""

    def adapt(self, actual_change: float, predicted_change: float) -> float:
        """Update λ from one measured step; returns ρ (NaN when undefined)."""


class FixedDamping:
    """λ stays what it was set to (ACKTR, Wu et al. 2017)."""

    def __init__(self, damping: float) -> None:
        self.damping = damping

    def measures(self, update: int) -> bool:
        return False

    def adapt(self, actual_change: float, predicted_change: float) -> float:
        raise RuntimeError("a fixed damping measures no step")


class LevenbergMarquardt:
    """λ adapted from the reduction ratio ρ (see the module doc)."""

    def __init__(self, initial: float, every: int = 5, minimum: float = 1e-8, maximum: float = 1e8) -> None:
        self.damping = initial
        self.every = every
        self.minimum, self.maximum = minimum, maximum
        self.omega = (19.0 / 20.0) ** every

    def measures(self, update: int) -> bool:
        return (update + 1) % self.every == 0

    def adapt(self, actual_change: float, predicted_change: float) -> float:
        rho = actual_change / predicted_change if predicted_change != 0 else math.nan
        if math.isnan(rho) or rho < 0.25:
            self.damping /= self.omega
        elif rho > 0.75:
            self.damping *= self.omega
        self.damping = min(max(self.damping, self.minimum), self.maximum)
        return rho
