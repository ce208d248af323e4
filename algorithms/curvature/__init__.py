"""Curvature of a policy or actor-critic: K-FAC's Kronecker blocks and the exact dense Fisher.

- :mod:`~algorithms.curvature.output_fisher`: the closed-form Fisher of the model's outputs;
- :mod:`~algorithms.curvature.kronecker`: K-FAC (one Kronecker block per Linear / Conv2d layer);
- :mod:`~algorithms.curvature.dense`: the exact Fisher over all parameters, for small nets;
- :mod:`~algorithms.curvature.running`: the running averages both keep;
- :mod:`~algorithms.curvature.decompositions`: Cholesky and eigen decompositions with a float64 retry;
- :mod:`~algorithms.curvature.reference`: both as dense [P, P] matrices of one batch, for checks.

Both optimizer curvatures implement :class:`Curvature`.
"""

from algorithms.curvature.dense import DenseFisher
from algorithms.curvature.kronecker import KroneckerFisher
from algorithms.curvature.protocol import Curvature
from algorithms.curvature.reference import exact_fisher, kfac_fisher, trainable_parameters

__all__ = [
    "Curvature",
    "DenseFisher",
    "KroneckerFisher",
    "exact_fisher",
    "kfac_fisher",
    "trainable_parameters",
]
