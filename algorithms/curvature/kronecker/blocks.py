"""One Kronecker-factored Fisher block per ``nn.Linear`` / ``nn.Conv2d`` layer.

Conventions. A layer computes s = W ā, where ā is the layer input with
a 1 appended (the bias is W's last column: one block per layer, as in Martens &
Grosse 2015). W is torch's weight as an (out, in) matrix; a Conv2d kernel
[out, C, kh, kw] is read as (out, kh·kw·C): kernel row, column, then channel, the
order in which a patch of a channels-last input lies in memory.

For a batch of N samples with |T| output locations each (|T| = 1 for Linear):

    Ā = 1/(N·|T|) Σ_{n,t} ā_{n,t} ā_{n,t}ᵀ     shape (in + 1, in + 1)
    G = 1/N       Σ_{n,t} g_{n,t} g_{n,t}ᵀ     shape (out, out)

where g is the gradient of a *summed* negative log-likelihood w.r.t. the layer
output s. Because the NLL is summed, g is already a per-sample gradient and no
N² correction is needed (a mean-reduced loss would need G · N²).

The block approximates the Fisher as Ā ⊗ G, or G ⊗ Ā in torch's row-major
flattening of W. For Conv2d this is KFC's |T| · Ω ⊗ Γ (Grosse & Martens 2016,
Ω and Γ averaged over locations), the expansion that follows from spatial
homogeneity and spatially uncorrelated derivatives. The |T| sits in G, so a
damping value λ means the same thing for Linear and Conv2d layers: the block is
damped as Ā ⊗ G + λ I. (Public ports instead divide ā by |T| and multiply g by
|T|, which rescales what their damping means per layer.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SUPPORTED_LAYERS = (nn.Linear, nn.Conv2d)


def is_supported(module: nn.Module) -> bool:
    """Linear layers, and Conv2d layers with groups=1 and numeric zero padding (not 'same', not reflect)."""
    if isinstance(module, nn.Conv2d):
        return module.groups == 1 and module.padding_mode == "zeros" and isinstance(module.padding, tuple)
    return isinstance(module, nn.Linear)


class KroneckerBlock:
    """Factor statistics and gradient reshaping for one supported layer.

    ``A`` and ``G`` hold the running (EMA) factors once statistics have been seen.
    """

    def __init__(self, module: nn.Module) -> None:
        if not is_supported(module):
            raise ValueError(f"unsupported layer {module!r}; accepted: nn.Linear, nn.Conv2d (groups=1)")
        self.module = module
        self.is_conv = isinstance(module, nn.Conv2d)
        self.has_bias = module.bias is not None
        self.params: list[nn.Parameter] = [module.weight] + ([module.bias] if self.has_bias else [])
        self.out_dim = module.weight.shape[0]
        self.in_dim = module.weight[0].numel() + int(self.has_bias)
        """Side of Ā: inputs per output unit (kh·kw·C for Conv2d), plus 1 with a bias."""
        self.A: torch.Tensor | None = None
        self.G: torch.Tensor | None = None

    def patches(self, inputs: torch.Tensor, max_rows: int = 0) -> torch.Tensor:
        """Layer inputs → rows ā without the appended 1: [R, in].

        R = N·|T| (Linear: the product of all leading dims). With ``0 < max_rows < R``,
        ``max_rows`` rows drawn uniformly with replacement (torch's global generator),
        an unbiased estimate of the mean over all R. Conv2d patches are read through a
        strided view of the (padded) input in (kh, kw, C) order and copied once; Linear
        rows are a view of the input unless drawn.
        """
        if self.is_conv:
            windows, row_dims = self._windows(inputs), 3
        else:
            windows, row_dims = inputs, inputs.dim() - 1
        count = math.prod(windows.shape[:row_dims])
        if 0 < max_rows < count:
            chosen = torch.randint(count, (max_rows,), device=inputs.device)
            windows, count = windows[torch.unravel_index(chosen, windows.shape[:row_dims])], max_rows
        return windows.reshape(count, -1)

    def _windows(self, inputs: torch.Tensor) -> torch.Tensor:
        """[N, C, H, W] → a strided view [N, out_h, out_w, kh, kw, C] of every patch (no copy)."""
        m = self.module
        (kh, kw), (sh, sw), (dh, dw), (ph, pw) = m.kernel_size, m.stride, m.dilation, m.padding
        x = F.pad(inputs, (pw, pw, ph, ph)) if ph or pw else inputs
        x = x.permute(0, 2, 3, 1)  # [N, H, W, C]; a free view of a channels-last tensor
        n, height, width, channels = x.shape
        out_h = (height - dh * (kh - 1) - 1) // sh + 1
        out_w = (width - dw * (kw - 1) - 1) // sw + 1
        s_n, s_h, s_w, s_c = x.stride()
        return x.as_strided(
            (n, out_h, out_w, kh, kw, channels), (s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c)
        )

    def input_factor(self, inputs: torch.Tensor, max_rows: int = 0) -> torch.Tensor:
        """Â = mean over rows of ā āᵀ (rows as :meth:`patches` gives them), the homogeneous
        coordinate last: [in (+ 1), in (+ 1)]."""
        rows = self.patches(inputs, max_rows)
        count, width = rows.shape
        if not self.has_bias:
            return rows.T @ rows / count
        factor = rows.new_empty(width + 1, width + 1)
        factor[:width, :width] = rows.T @ rows
        sums = rows.sum(0)
        factor[:width, width] = sums
        factor[width, :width] = sums
        factor[width, width] = count
        return factor / count

    def output_factor(self, grads: torch.Tensor, batch_size: int) -> torch.Tensor:
        """Ĝ = Σ g gᵀ / batch_size over every row of ``grads``: [out, out].

        ``grads`` are output gradients [..., out] (Linear) or [..., out, H, W] (Conv2d);
        any leading dims (batch, or exact-mode columns × batch) are summed over.
        """
        rows = grads.movedim(-3, -1) if self.is_conv else grads
        rows = rows.reshape(-1, self.out_dim)
        return rows.T @ rows / batch_size

    def gradient_matrix(self, grads: list[torch.Tensor]) -> torch.Tensor:
        """Per-parameter gradients (weight[, bias]) → one (out, in + 1) matrix."""
        weight = grads[0].permute(0, 2, 3, 1) if self.is_conv else grads[0]
        weight = weight.reshape(self.out_dim, -1)
        return torch.cat([weight, grads[1].unsqueeze(1)], dim=1) if self.has_bias else weight

    def split(self, matrix: torch.Tensor) -> list[torch.Tensor]:
        """Inverse of :meth:`gradient_matrix`: (out, in + 1) → tensors shaped like weight[, bias]."""
        out, channels, kh, kw = (*self.module.weight.shape, 1, 1)[:4]
        weight = matrix[:, : matrix.shape[1] - int(self.has_bias)]
        if self.is_conv:  # (out, kh, kw, C) memory seen as (out, C, kh, kw): channels-last strides
            weight = weight.reshape(out, kh, kw, channels).permute(0, 3, 1, 2)
        else:
            weight = weight.reshape(self.module.weight.shape)
        return [weight, matrix[:, -1].contiguous()] if self.has_bias else [weight]

    def quadratic_form(self, matrix: torch.Tensor) -> torch.Tensor:
        """vec(V)ᵀ (G ⊗ Ā) vec(V) = ⟨G V Ā, V⟩ for V of shape (out, in + 1), with the current factors."""
        return ((self.G @ matrix @ self.A) * matrix).sum()
