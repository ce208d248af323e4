"""The KL trust region every curvature optimizer steps in (Wu et al. 2017, as OpenAI Baselines computes it).

A preconditioned direction Δ taken at step size η changes the policy by a KL of about
½ η² Δᵀ F̂ Δ, which for Δ = (F̂ + λI)⁻¹∇ Baselines estimates by η² Δᵀ∇. The step is scaled by

    ν = min(1, √(δ / (η² Δᵀ∇))),   δ = ``kl_clip``,

so that estimate stays at most δ; ``kl_clip`` = 0 switches the bound off (the ablation without
a trust region). With ``target_kl`` > 0 the step size itself follows the realized KL, as
Baselines' MuJoCo policy does: after each update η ← η / 1.5 if the mean KL(π_old ‖ π_new)
exceeded 2·target, η ← 1.5 η if it stayed below target / 2, within [1e-8, 1].
"""

from __future__ import annotations

import math


class TrustRegion:
    def __init__(self, kl_clip: float, target_kl: float, lr: float) -> None:
        self.kl_clip = kl_clip
        self.target_kl = target_kl
        self.lr = lr
        """The step size while ``adapts_lr`` (unused otherwise)."""

    @property
    def adapts_lr(self) -> bool:
        return self.target_kl > 0

    def scale(self, kl_estimate: float) -> float:
        """ν for a step whose quadratic KL estimate η² Δᵀ∇ is ``kl_estimate``."""
        if 0 < self.kl_clip < kl_estimate:
            return math.sqrt(self.kl_clip / kl_estimate)
        return 1.0

    def adapt_lr(self, realized_kl: float) -> None:
        """Move the step size toward ``target_kl`` after an update whose mean KL was ``realized_kl``."""
        if realized_kl > 2 * self.target_kl:
            self.lr = max(self.lr / 1.5, 1e-8)
        elif realized_kl < self.target_kl / 2:
            self.lr = min(self.lr * 1.5, 1.0)
