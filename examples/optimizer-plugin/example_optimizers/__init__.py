"""Two optimizers for acktr-bench from outside it: :class:`~example_optimizers.lion.Lion` and
:data:`~example_optimizers.diagonal_natural_gradient.ENTRY`."""
