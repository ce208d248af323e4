"""Levenberg–Marquardt adaptive damping (Martens & Grosse 2015 §6.5), shared by ``kfac`` and ``lm``.

Every ``every`` updates (T₁) the optimizer compares the loss change its step
produced with the change its quadratic model predicted,

    ρ = [h(θ + δ) − h(θ)] / [M(δ) − M(0)],   M(δ) − M(0) = ∇hᵀδ + ½ δᵀ F δ,

where h is the batch loss and F the optimizer's (undamped) curvature. ρ is the
*reduction ratio*: how much of the predicted decrease was realized. Near 1 the
quadratic model is trusted and the damping λ shrinks (the step moves toward the
pure natural gradient); small or negative ρ means the model overpromised, so λ
grows (the step moves toward a short gradient step):

    ρ > ¾ → λ ← ω₁ λ,   ρ < ¼ → λ ← λ / ω₁,   ω₁ = (19/20)^T₁,

with λ clipped to [minimum, maximum]. A NaN ρ (e.g. a non-finite loss after the
step, or a zero predicted change) counts as a bad step.
"""

from __future__ import annotations

import math


class LevenbergMarquardt:
    def __init__(self, initial: float, every: int = 5, minimum: float = 1e-8, maximum: float = 1e8) -> None:
        self.damping = initial
        self.every = every
        self.minimum, self.maximum = minimum, maximum
        self.omega = (19.0 / 20.0) ** every

    def due(self, update: int) -> bool:
        """Whether update ``update`` (0-based) should measure ρ."""
        return (update + 1) % self.every == 0

    def adapt(self, actual_change: float, predicted_change: float) -> float:
        """Update λ from one measured step; returns ρ (NaN when undefined)."""
        rho = actual_change / predicted_change if predicted_change != 0 else math.nan
        if math.isnan(rho) or rho < 0.25:
            self.damping /= self.omega
        elif rho > 0.75:
            self.damping *= self.omega
        self.damping = min(max(self.damping, self.minimum), self.maximum)
        return rho
