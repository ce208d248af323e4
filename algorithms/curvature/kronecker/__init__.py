"""Kronecker-factored approximate curvature (K-FAC) of a module's Linear and Conv2d layers.

``blocks`` holds the per-layer factor algebra, ``damped_inverse`` the two ways of
applying a damped block inverse, ``output_fisher`` the closed-form Fisher of the
model's output distributions, and ``engine`` ties them to a live module.
"""

from algorithms.curvature.kronecker.engine import KroneckerFisher

__all__ = ["KroneckerFisher"]
