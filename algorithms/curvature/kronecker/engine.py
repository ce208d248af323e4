"""K-FAC curvature of a live module: capture, running factors, refresh, preconditioning."""

from __future__ import annotations

import itertools
import math
from typing import Any

import torch
from torch import nn

from algorithms.curvature.kronecker.blocks import SUPPORTED_LAYERS, KroneckerBlock, is_supported
from algorithms.curvature.kronecker.damped_inverse import (
    INVERSE_TYPES,
    PRECONDITIONERS,
    DampedInverse,
    damped_inverses,
)
from algorithms.curvature.output_fisher import (
    LOG_STD_FISHER,
    ModelOutput,
    exact_fisher_columns,
    natural_parameters,
)
from algorithms.curvature.running import RunningCurvature
from algorithms.errors import ConfigError
from algorithms.nets import DiagGaussianHead

FISHER_MODES = ("sampled", "exact")


class KroneckerFisher(RunningCurvature):
    """Block-diagonal K-FAC curvature over ``module``'s trainable parameters.

    - Every ``nn.Linear`` / ``nn.Conv2d`` gets one Kronecker block (bias included).
    - A Gaussian policy's state-independent log σ gets its exact, closed-form
      diagonal Fisher 2·I: it needs no statistics and is damped like the rest.
    - Any other trainable parameter is refused at construction.

    Statistics come from one forward run inside :meth:`capturing`, then
    :meth:`update_statistics`: ``sampled`` mode backpropagates the objective's
    ``sampled_nll`` (one model sample per datum: true Fisher), ``exact`` mode
    backpropagates the closed-form output Fisher's square-root columns. Only
    gradients w.r.t. layer outputs are computed, never w.r.t. weights.
    With ``patches_per_dim`` = k > 0, a Conv2d layer's Ā comes from ⌈k·dim Ā⌉
    patches drawn uniformly from the batch's N·|T| (an unbiased
    estimate of the same mean; TensorFlow K-FAC's patch sub-sampling, k = 3 there),
    which takes its cost from O(N·|T|·dim²) to O(k·dim³).

    Factors are running statistics as :class:`RunningCurvature` keeps them.
    ``params`` lists the covered parameters in ``module.parameters()`` order; every
    list of gradients or directions below is in that order.
    """

    def __init__(
        self,
        module: nn.Module,
        fisher: str = "sampled",
        preconditioner: str = "eigen",
        stat_decay: float = 0.99,
        patches_per_dim: float = 0.0,
    ) -> None:
        if fisher not in FISHER_MODES:
            raise ConfigError(f"bad fisher mode {fisher!r}; accepted: {', '.join(FISHER_MODES)}")
        if preconditioner not in PRECONDITIONERS:
            raise ConfigError(
                f"bad preconditioner {preconditioner!r}; accepted: {', '.join(PRECONDITIONERS)}"
            )
        super().__init__(stat_decay)
        self.fisher = fisher
        self.blocks = [
            KroneckerBlock(m)
            for m in module.modules()
            if is_supported(m) and all(p.requires_grad for p in m.parameters())
        ]
        self._max_rows = [math.ceil(patches_per_dim * b.in_dim) if b.is_conv else 0 for b in self.blocks]
        self.preconditioner = preconditioner
        self.inverses: list[DampedInverse] = []
        log_stds = [m.log_std for m in module.modules() if isinstance(m, DiagGaussianHead)]
        self.params = [p for p in module.parameters() if p.requires_grad]
        covered = {id(p) for b in self.blocks for p in b.params} | {id(p) for p in log_stds}
        self._check_coverage(module, covered)
        index = {id(p): i for i, p in enumerate(self.params)}
        self._block_slots = [[index[id(p)] for p in b.params] for b in self.blocks]
        self._diagonal_slots = [index[id(p)] for p in log_stds]
        self._clear_capture()
        for i, block in enumerate(self.blocks):
            block.module.register_forward_hook(self._make_hook(i))

    def _check_coverage(self, module: nn.Module, covered: set[int]) -> None:
        named = module.named_parameters()
        uncovered = [name for name, p in named if p.requires_grad and id(p) not in covered]
        if uncovered:
            bad = [m for m in module.modules() if isinstance(m, SUPPORTED_LAYERS) and not is_supported(m)]
            raise ConfigError(
                f"K-FAC has no curvature for parameter(s) {', '.join(uncovered)}"
                + (f" (unsupported layer {bad[0]!r})" if bad else "")
                + "; accepted: nn.Linear, nn.Conv2d with groups=1, Gaussian log σ"
            )

    def _make_hook(self, i: int):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
            if not self._capturing:
                return
            if self._outputs[i] is not None:
                raise RuntimeError(f"layer {module!r} ran twice in one captured forward; K-FAC needs one use")
            self._inputs[i] = inputs[0].detach()
            self._outputs[i] = output

        return hook

    def _clear_capture(self) -> None:
        """Forget each layer's captured input and output."""
        self._inputs: list[torch.Tensor | None] = [None] * len(self.blocks)
        self._outputs: list[torch.Tensor | None] = [None] * len(self.blocks)

    def _output_gradients(self, sampled_nll: torch.Tensor | None, output: ModelOutput) -> list[torch.Tensor]:
        """Per-layer gradients w.r.t. the captured outputs; a leading column dim in exact mode."""
        outputs = self._outputs
        if self.fisher == "sampled":
            return list(torch.autograd.grad(sampled_nll, outputs, retain_graph=True, allow_unused=True))
        # The engine gives a state-independent log σ its closed form itself; it reaches no layer.
        parts = [part for part in natural_parameters(output) if part.name != "log_std"]
        targets, columns = exact_fisher_columns(parts)
        return list(
            torch.autograd.grad(
                targets, outputs, columns, retain_graph=True, is_grads_batched=True, allow_unused=True
            )
        )

    def update_statistics(self, sampled_nll: torch.Tensor | None, output: ModelOutput) -> bool:
        """Fold this batch's factors into the running ones; False (nothing folded) if any is not finite.

        Needs a captured forward. ``sampled`` mode backpropagates ``sampled_nll``; ``exact`` mode
        the closed-form Fisher of that forward's ``output`` (see :class:`Curvature`).
        """
        if any(o is None for o in self._outputs):
            raise RuntimeError("update_statistics needs a forward run inside capturing()")
        with self._timed("stats"):
            batch_size = self._inputs[0].shape[0]
            grads = self._output_gradients(sampled_nll, output)
            fresh = []
            captured = zip(self.blocks, self._inputs, grads, self._max_rows, strict=True)
            for block, inputs, g, max_rows in captured:
                # g is None for a layer the NLL does not reach (e.g. exact mode without a critic column).
                G = (
                    block.output_factor(g, batch_size)
                    if g is not None
                    else inputs.new_zeros(block.out_dim, block.out_dim)
                )
                fresh += [block.input_factor(inputs, max_rows), G]
            self._clear_capture()
            folded = self._fold([factor for block in self.blocks for factor in (block.A, block.G)], fresh)
            if folded is not None:
                for block, A, G in zip(self.blocks, folded[::2], folded[1::2], strict=True):
                    block.A, block.G = A, G
        return folded is not None

    def _statistics_state(self) -> dict[str, Any]:
        """Each block's running (Ā, G) and the decompositions in use (they date from the last
        refresh, so the factors alone would not rebuild them)."""
        return {
            "factors": [(block.A, block.G) for block in self.blocks],
            "inverses": [vars(inverse) for inverse in self.inverses],
        }

    def _load_statistics_state(self, state: dict[str, Any]) -> None:
        for block, (A, G) in zip(self.blocks, state["factors"], strict=True):
            block.A, block.G = A, G
        self.inverses = [INVERSE_TYPES[self.preconditioner](**fields) for fields in state["inverses"]]

    def needs_refresh(self, damping: float) -> bool:
        """True until a refresh succeeded; eigen mode damps exactly at any λ, Tikhonov mode keeps
        the λ of its last refresh until the next scheduled one."""
        return not self.ready

    def refresh(self, damping: float) -> bool:
        """Decompose every block's factors; False if one failed even in float64 (then not ready)."""

        def decompose() -> None:
            factors = [(block.A, block.G) for block in self.blocks]
            self.inverses = damped_inverses(self.preconditioner, factors, damping)

        return self._refresh_with(decompose)

    def precondition(self, grads: list[torch.Tensor], damping: float) -> list[torch.Tensor]:
        """(F̂ + damping·I)⁻¹ applied to ``grads`` (one tensor per entry of ``params``)."""
        self._require_ready()
        with self._timed("precondition"):
            return self._directions(grads, damping)

    def _directions(self, grads: list[torch.Tensor], damping: float) -> list[torch.Tensor]:
        directions: list[torch.Tensor | None] = [None] * len(grads)
        for block, inverse, slots in zip(self.blocks, self.inverses, self._block_slots, strict=True):
            matrix = block.gradient_matrix([grads[i] for i in slots])
            for i, part in zip(slots, block.split(inverse.apply(matrix, damping)), strict=True):
                directions[i] = part
        for i in self._diagonal_slots:
            directions[i] = grads[i] / (LOG_STD_FISHER + damping)
        return directions

    def quadratic_form(self, vectors: list[torch.Tensor]) -> torch.Tensor:
        """vᵀ F̂ v with the current running factors (undamped), for one tensor per entry of ``params``."""
        total = sum(
            block.quadratic_form(block.gradient_matrix([vectors[i] for i in slots]))
            for block, slots in zip(self.blocks, self._block_slots, strict=True)
        )
        return total + sum(LOG_STD_FISHER * vectors[i].pow(2).sum() for i in self._diagonal_slots)

    def to_dense(self) -> torch.Tensor:
        """The current (undamped) block-diagonal approximation as one [P, P] matrix over ``params``,
        each flattened with ``reshape(-1)`` and concatenated in order (small nets: it is dense)."""
        sizes = [p.numel() for p in self.params]
        positions = [
            torch.arange(start, start + size, device=p.device).reshape(p.shape)
            for start, size, p in zip(itertools.accumulate([0, *sizes]), sizes, self.params, strict=False)
        ]
        dense = self.params[0].new_zeros(sum(sizes), sum(sizes))
        for block, slots in zip(self.blocks, self._block_slots, strict=True):
            # Entry (r, c) of the (out, in + 1) gradient matrix is flat parameter positions[...]: the
            # block's G ⊗ Ā (row-major vec of that matrix) lands on those rows and columns.
            index = block.gradient_matrix([positions[i] for i in slots]).reshape(-1)
            dense[index[:, None], index[None, :]] = torch.kron(block.G, block.A)
        for i in self._diagonal_slots:
            index = positions[i].reshape(-1)
            dense[index, index] = LOG_STD_FISHER
        return dense
