"""The public dense curvature functions against explicit sums, analytic forms and sampling."""

import pytest
import torch
from torch import nn
from torch.func import functional_call, grad, vmap

from algorithms.curvature import exact_fisher, kfac_fisher
from algorithms.errors import ConfigError
from algorithms.nets import CategoricalHead, DiagGaussianHead, Policy, mlp

F64 = torch.float64


def categorical_policy(obs_dim=3, hidden=(5, 4), n_actions=3, seed=0):
    torch.manual_seed(seed)
    policy = Policy(mlp(obs_dim, hidden, "tanh"), CategoricalHead(hidden[-1], n_actions))
    for p in policy.parameters():  # away from the near-zero output init, so p is not uniform
        p.data.normal_(0.0, 0.7)
    return policy


def gaussian_policy(body, width, action_dim=2, seed=1):
    torch.manual_seed(seed)
    policy = Policy(body, DiagGaussianHead(width, action_dim, log_std_init=0.0))
    for p in policy.parameters():
        p.data.normal_(0.0, 0.5)
    return policy


def flat_grad(policy, loss):
    grads = torch.autograd.grad(loss, list(policy.parameters()), retain_graph=True)
    return torch.cat([g.reshape(-1) for g in grads])


def parameter_blocks(policy):
    """Mask of the entries K-FAC models: each layer's [weight, bias] square and log σ's diagonal."""
    sizes = [p.numel() for p in policy.parameters()]
    starts = torch.tensor([0, *sizes]).cumsum(0).tolist()
    position = {id(p): (s, s + n) for p, s, n in zip(policy.parameters(), starts, sizes, strict=False)}
    mask = torch.zeros(starts[-1], starts[-1], dtype=torch.bool)
    for module in policy.modules():
        if isinstance(module, nn.Linear):
            start, end = position[id(module.weight)][0], position[id(module.bias)][1]
            mask[start:end, start:end] = True
        if isinstance(module, DiagGaussianHead):
            start, end = position[id(module.log_std)]
            mask[range(start, end), range(start, end)] = True
    return mask


# (30, 30) at 350 states: P = 1 143 columns, 1 050 rows (≥ one tile), so the Gram product goes in tiles
@pytest.mark.parametrize(("hidden", "states"), [((5, 4), 4), ((30, 30), 350)])
def test_exact_fisher_equals_an_explicit_sum_over_actions(hidden, states):
    policy = categorical_policy(hidden=hidden).double()
    obs = torch.randn(states, 3, dtype=F64)
    expected = 0
    for state in obs:
        dist = policy(state[None])
        for action in range(3):
            g = flat_grad(policy, dist.log_prob(torch.tensor([action])).sum())
            expected = expected + dist.probs[0, action].detach() * torch.outer(g, g)
    fisher = exact_fisher(policy, obs)
    assert fisher.dtype == F64
    torch.testing.assert_close(fisher, expected / len(obs), rtol=1e-10, atol=1e-12)


def test_exact_fisher_of_a_linear_gaussian_policy_is_the_analytic_form():
    """μ = W s + b, state-independent log σ: F = mean_n J_nᵀ diag(1/σ²) J_n ⊕ 2·I, J_n written out."""
    policy = gaussian_policy(nn.Identity(), width=3)
    obs = torch.randn(6, 3)
    d, k = 2, 3
    # Parameter order: the head's own log σ [d], then its mean layer's weight [d, k] and bias [d].
    log_std, weight, bias = 0, d, d + d * k
    inv_var = torch.exp(-2 * policy.head.log_std.detach().double())
    expected = torch.zeros(bias + d, bias + d, dtype=F64)
    for state in obs.double():
        jacobian = torch.zeros(d, bias + d, dtype=F64)  # ∂μ_i/∂W_ij = s_j, ∂μ_i/∂b_i = 1
        for i in range(d):
            jacobian[i, weight + i * k : weight + (i + 1) * k] = state
            jacobian[i, bias + i] = 1.0
        expected += jacobian.T @ torch.diag(inv_var) @ jacobian / len(obs)
    expected[range(log_std, log_std + d), range(log_std, log_std + d)] = 2.0
    torch.testing.assert_close(exact_fisher(policy, obs, dtype=F64), expected, rtol=1e-10, atol=1e-12)


def test_a_sampled_fisher_converges_to_the_exact_one():
    """The mean of g gᵀ over actions a ~ π(·|s) is within 5 standard errors of exact_fisher, per entry."""
    policy = categorical_policy(hidden=(4,), seed=2).double()
    obs = torch.randn(3, 3, dtype=F64)
    params = {name: p.detach() for name, p in policy.named_parameters()}
    draws = 4000
    states = obs.repeat(draws, 1)
    actions = policy(states).sample()

    def log_prob(p, state, action):
        return functional_call(policy, p, (state[None],)).log_prob(action[None]).sum()

    per_sample = vmap(grad(log_prob), in_dims=(None, 0, 0))(params, states, actions)
    g = torch.cat([per_sample[name].flatten(1) for name in params], dim=1)  # [draws·N, P]
    outer = (g[:, :, None] * g[:, None, :]).reshape(draws, len(obs), g.shape[1], g.shape[1]).mean(1)
    standard_error = outer.std(0) / draws**0.5
    error = (outer.mean(0) - exact_fisher(policy, obs)).abs()
    assert (error <= 5 * standard_error + 1e-9).all()
    assert error.max() > 0  # a real estimate, not the same computation


def test_an_action_of_probability_zero_adds_nothing():
    policy = Policy(nn.Identity(), CategoricalHead(2, 3))
    with torch.no_grad():
        policy.head.logits.bias.copy_(torch.tensor([0.0, 0.5, -200.0]))  # p = 0 in float32
    obs = torch.randn(4, 2)
    assert policy(obs).probs[:, 2].eq(0).all()
    fisher = exact_fisher(policy, obs)
    torch.testing.assert_close(fisher, exact_fisher(policy, obs, dtype=F64).float(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_exact_fisher_is_symmetric_positive_semidefinite(kind):
    policy = categorical_policy() if kind == "categorical" else gaussian_policy(mlp(3, (4,), "tanh"), 4)
    fisher = exact_fisher(policy, torch.randn(9, 3), dtype=F64)
    torch.testing.assert_close(fisher, fisher.T, rtol=0, atol=1e-14)
    assert torch.linalg.eigvalsh(fisher).min() > -1e-12


@pytest.mark.parametrize("kind", ["categorical", "gaussian"])
def test_kfac_fisher_equals_the_exact_blocks_for_one_sample_on_an_mlp(kind):
    policy = categorical_policy() if kind == "categorical" else gaussian_policy(mlp(3, (5, 4), "tanh"), 4)
    obs = torch.randn(1, 3)
    kfac, exact = kfac_fisher(policy, obs, dtype=F64), exact_fisher(policy, obs, dtype=F64)
    mask = parameter_blocks(policy)
    torch.testing.assert_close(kfac[mask], exact[mask], rtol=1e-9, atol=1e-12)
    assert (kfac[~mask] == 0).all() and exact[~mask].abs().max() > 1e-3


def test_kfac_fisher_equals_the_exact_blocks_of_a_deep_linear_gaussian_policy_at_any_batch():
    policy = gaussian_policy(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5)), 5)
    obs = torch.randn(7, 3)
    mask = parameter_blocks(policy)
    kfac, exact = kfac_fisher(policy, obs, dtype=F64), exact_fisher(policy, obs, dtype=F64)
    torch.testing.assert_close(kfac[mask], exact[mask], rtol=1e-9, atol=1e-12)


def test_kfac_fisher_differs_from_the_exact_blocks_for_a_batch_on_a_nonlinear_mlp():
    policy = categorical_policy()
    obs = torch.randn(6, 3)
    mask = parameter_blocks(policy)
    kfac, exact = kfac_fisher(policy, obs, dtype=F64), exact_fisher(policy, obs, dtype=F64)
    assert torch.linalg.norm(kfac[mask] - exact[mask]) / torch.linalg.norm(exact[mask]) > 1e-2


def test_kfac_fisher_leaves_no_hook_on_the_model():
    policy = categorical_policy()
    kfac_fisher(policy, torch.randn(2, 3))
    assert not any(module._forward_hooks for module in policy.modules())


@pytest.mark.parametrize("function", [exact_fisher, kfac_fisher])
def test_a_net_over_the_parameter_limit_gets_a_one_line_error(function):
    policy = Policy(mlp(17, (64, 64), "tanh"), DiagGaussianHead(64, 6, 0.0))  # 5 708 parameters
    with pytest.raises(ConfigError) as error:
        function(policy, torch.randn(2, 17), max_params=5000)
    message = str(error.value)
    assert "\n" not in message and "5708" in message and "5000" in message and "kfac" in message


def test_frozen_parameters_are_left_out():
    policy = categorical_policy()
    policy.body[0].requires_grad_(False)
    n_trainable = sum(p.numel() for p in policy.parameters() if p.requires_grad)
    assert exact_fisher(policy, torch.randn(2, 3)).shape == (n_trainable, n_trainable)


def test_an_unsupported_distribution_is_named():
    class BetaPolicy(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)

        def forward(self, obs):
            return torch.distributions.Beta(self.layer(obs).exp(), torch.ones(len(obs), 2))

    with pytest.raises(TypeError, match="Beta"):
        exact_fisher(BetaPolicy(), torch.randn(2, 2))
