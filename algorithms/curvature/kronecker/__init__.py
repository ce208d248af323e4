"""Kronecker-factored approximate curvature (K-FAC) of a module's Linear and Conv2d layers.

``blocks`` holds the per-layer factor algebra, ``damped_inverse`` the two ways of applying a
damped block inverse, and ``engine`` ties them, with the closed-form output Fisher of
:mod:`algorithms.curvature.output_fisher`, to a live module.
"""

from algorithms.curvature.kronecker.engine import KroneckerFisher

__all__ = ["KroneckerFisher"]
