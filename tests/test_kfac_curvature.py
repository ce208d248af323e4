"""K-FAC factors and preconditioning against brute force on tiny cases (dense matrices, torch.func)."""

import gymnasium as gym
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, jacrev, vmap

from algorithms.config import NetConfig
from algorithms.curvature.kronecker import KroneckerFisher
from algorithms.curvature.kronecker.blocks import KroneckerBlock
from algorithms.curvature.kronecker.damped_inverse import tikhonov_pi
from algorithms.errors import ConfigError
from algorithms.nets import DiagGaussianHead, Policy, SeparateActorCritic


@pytest.fixture(autouse=True)
def _float64():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def small_actor_critic(n_actions=4, obs_dim=3, hidden=(5, 4)):
    torch.manual_seed(0)
    model = SeparateActorCritic(obs_dim, gym.spaces.Discrete(n_actions), NetConfig(hidden=hidden))
    for p in model.parameters():  # away from the near-zero output init, so p is not uniform
        p.data.normal_(0.0, 0.7)
    return model


def exact_fisher_dense(model, obs):
    """(1/N) Σ_n [Σ_a p(a) ∇log p(a) ∇log p(a)ᵀ + ∇V ∇Vᵀ] by explicit sums over actions, per parameter."""
    names = [n for n, p in model.named_parameters()]
    params = {n: p.detach() for n, p in model.named_parameters()}

    def outputs(p, x):
        dist, value = functional_call(model, p, (x.unsqueeze(0),))
        return torch.log_softmax(dist.logits, -1)[0], value[0]

    jac_logp, jac_v = vmap(jacrev(outputs), in_dims=(None, 0))(params, obs)
    flat_logp = torch.cat([jac_logp[n].flatten(2) for n in names], dim=2)  # [N, K, P]
    flat_v = torch.cat([jac_v[n].flatten(1) for n in names], dim=1)  # [N, P]
    with torch.no_grad():
        probs = model(obs)[0].probs  # [N, K]
    policy = torch.einsum("nk,nkp,nkq->pq", probs, flat_logp, flat_logp)
    critic = flat_v.T @ flat_v
    return (policy + critic) / len(obs), names


def block_indices(model, names, layer):
    """Indices of ``layer``'s [W | b] entries, row-major (out, in + 1), within the flat parameters."""
    sizes = {n: p.numel() for n, p in model.named_parameters()}
    offsets, total = {}, 0
    for n in names:
        offsets[n], total = total, total + sizes[n]
    by_id = {id(p): n for n, p in model.named_parameters()}
    w, b = by_id[id(layer.weight)], by_id[id(layer.bias)]
    out_dim, in_dim = layer.weight.shape
    index = []
    for o in range(out_dim):
        index += [offsets[w] + o * in_dim + i for i in range(in_dim)] + [offsets[b] + o]
    return torch.tensor(index)


def exact_statistics(engine, model, obs):
    with engine.capturing():
        dist, values = model(obs)
    assert engine.update_statistics(None, (dist, values))


def exact_kfac_and_fisher(batch):
    """An actor-critic MLP's exact-mode K-FAC engine and dense exact Fisher on ``batch`` random states."""
    model = small_actor_critic()
    obs = torch.randn(batch, 3)
    engine = KroneckerFisher(model, fisher="exact")
    exact_statistics(engine, model, obs)
    return model, engine, *exact_fisher_dense(model, obs)


def test_exact_mode_equals_the_exact_fisher_block_for_one_sample_on_an_mlp():
    model, engine, fisher, names = exact_kfac_and_fisher(batch=1)
    assert len(engine.blocks) == 6
    for block in engine.blocks:
        idx = block_indices(model, names, block.module)
        torch.testing.assert_close(torch.kron(block.G, block.A), fisher[idx][:, idx], rtol=1e-9, atol=1e-12)


def test_exact_mode_is_not_the_exact_fisher_for_a_batch_on_a_nonlinear_mlp():
    model, engine, fisher, names = exact_kfac_and_fisher(batch=6)
    block = engine.blocks[0]
    idx = block_indices(model, names, block.module)
    error = torch.linalg.norm(torch.kron(block.G, block.A) - fisher[idx][:, idx]) / torch.linalg.norm(fisher)
    assert error > 1e-3  # the Kronecker approximation is visible, so the test above has teeth


def test_exact_mode_equals_the_exact_fisher_for_a_deep_linear_gaussian_policy_at_any_batch():
    torch.manual_seed(1)
    body = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 5))
    policy = Policy(body, DiagGaussianHead(5, 2, log_std_init=0.3))
    with torch.no_grad():
        policy.head.log_std.copy_(torch.tensor([0.3, -0.5]))
    obs = torch.randn(7, 3)
    engine = KroneckerFisher(policy, fisher="exact")
    with engine.capturing():
        dist = policy(obs)
    assert engine.update_statistics(None, dist)

    names = [n for n, _ in policy.named_parameters()]
    params = {n: p.detach() for n, p in policy.named_parameters()}

    def mean(p, x):
        return functional_call(policy, p, (x.unsqueeze(0),)).mean[0]

    jac = vmap(jacrev(mean), (None, 0))(params, obs)
    flat = torch.cat([jac[n].flatten(2) for n in names], dim=2)  # [N, D, P] Jacobian of the mean
    inv_var = torch.exp(-2 * policy.head.log_std.detach())
    fisher = torch.einsum("d,ndp,ndq->pq", inv_var, flat, flat) / len(obs)
    for block in engine.blocks:
        idx = block_indices(policy, names, block.module)
        torch.testing.assert_close(torch.kron(block.G, block.A), fisher[idx][:, idx], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("stride", "padding", "dilation"), [(2, 1, 1), (1, 0, 2)])
def test_conv_factors_equal_an_explicit_unfold_and_sum(stride, padding, dilation):
    torch.manual_seed(2)
    conv = nn.Conv2d(2, 3, kernel_size=3, stride=stride, padding=padding, dilation=dilation)
    x = torch.randn(4, 2, 5, 5)
    grads = torch.randn_like(conv(x))  # output gradients at every output location
    out_h, out_w = grads.shape[-2:]
    block = KroneckerBlock(conv)

    padded = F.pad(x, (padding,) * 4)
    span = dilation * 2 + 1
    A = torch.zeros(2 * 9 + 1, 2 * 9 + 1)
    G = torch.zeros(3, 3)
    for n in range(4):
        for i in range(out_h):
            for j in range(out_w):
                rows, cols = (
                    slice(stride * i, stride * i + span, dilation),
                    slice(stride * j, stride * j + span, dilation),
                )
                patch = padded[n, :, rows, cols].permute(1, 2, 0).reshape(-1)  # (kh, kw, C) order
                a = torch.cat([patch, torch.ones(1)])
                A += torch.outer(a, a)
                G += torch.outer(grads[n, :, i, j], grads[n, :, i, j])
    locations = 4 * out_h * out_w
    torch.testing.assert_close(block.input_factor(x), A / locations)
    torch.testing.assert_close(block.output_factor(grads, batch_size=4), G / 4)
    # Channels-last inputs (the Nature CNN's layout) give the same factor.
    channels_last = x.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(block.input_factor(channels_last), A / locations)


def test_sub_sampled_patches_give_an_unbiased_input_factor():
    """Ā from random patches averages to Ā from all of them; the draw count is as asked."""
    torch.manual_seed(4)
    block = KroneckerBlock(nn.Conv2d(2, 3, kernel_size=3, stride=1))
    x = torch.randn(5, 2, 6, 6)  # 5·4·4 = 80 patches of width 2·9 + 1
    full = block.input_factor(x)
    assert block.patches(x, max_rows=30).shape == (30, 18)
    assert torch.equal(block.input_factor(x, max_rows=80), full)  # no fewer rows than asked: all of them
    draws = torch.stack([block.input_factor(x, max_rows=30) for _ in range(4000)])
    standard_error = draws.std(0) / 4000**0.5
    # Every entry within 5 standard errors of the full-batch Ā (a 1-in-10⁴ event per run if unbiased).
    assert ((draws.mean(0) - full).abs() <= 5 * standard_error + 1e-6).all()
    single = draws[0]
    assert (single - full).abs().max() > 0.05  # one draw is visibly noisy: the average did the work


def test_conv_factors_through_hooks_match_the_gradient_of_the_summed_nll():
    """The captured g is the per-sample output gradient: Σ_t g āᵀ rebuilds each sample's weight gradient."""
    torch.manual_seed(3)
    conv = nn.Conv2d(2, 3, kernel_size=2, stride=1)
    head = nn.Linear(3 * 3 * 3, 1)
    model = nn.Sequential(conv, nn.Tanh(), nn.Flatten(), head)
    x = torch.randn(1, 2, 4, 4)
    engine = KroneckerFisher(model)
    with engine.capturing():
        out = model(x)
    captured_input, captured_output = engine._inputs[0], engine._outputs[0]
    nll = 0.5 * out.pow(2).sum()
    (g,) = torch.autograd.grad(nll, [captured_output], retain_graph=True)
    weight_grad, bias_grad = torch.autograd.grad(nll, [conv.weight, conv.bias])
    block = engine.blocks[0]
    rows = block.patches(captured_input)  # [|T|, in]
    per_location = g.movedim(1, -1).reshape(-1, 3)  # [|T|, out]
    gradient = block.gradient_matrix([weight_grad, bias_grad])
    torch.testing.assert_close(per_location.T @ rows, gradient[:, :-1])
    torch.testing.assert_close(per_location.sum(0), gradient[:, -1])
    restored = block.split(gradient)
    assert torch.equal(restored[0], weight_grad) and torch.equal(restored[1], bias_grad)


def dense_damped_kronecker(A, G, damping, mode):
    if mode == "eigen":
        return torch.kron(G, A) + damping * torch.eye(A.shape[0] * G.shape[0])
    pi, gamma = tikhonov_pi(A, G), damping**0.5
    return torch.kron(G + gamma / pi * torch.eye(len(G)), A + pi * gamma * torch.eye(len(A)))


@pytest.mark.parametrize("mode", ["eigen", "tikhonov"])
def test_preconditioned_direction_equals_a_dense_damped_solve(mode):
    model = small_actor_critic()
    obs = torch.randn(9, 3)
    engine = KroneckerFisher(model, fisher="exact", preconditioner=mode)
    exact_statistics(engine, model, obs)
    damping = 0.05
    assert engine.refresh(damping)
    grads = [torch.randn_like(p) for p in engine.params]
    directions = engine.precondition(grads, damping)
    for block, slots in zip(engine.blocks, engine._block_slots, strict=True):
        V = block.gradient_matrix([grads[i] for i in slots])
        expected = torch.linalg.solve(dense_damped_kronecker(block.A, block.G, damping, mode), V.reshape(-1))
        got = block.gradient_matrix([directions[i] for i in slots])
        torch.testing.assert_close(got.reshape(-1), expected, rtol=1e-8, atol=1e-10)


def test_gaussian_log_std_gets_its_closed_form_diagonal_fisher():
    model = SeparateActorCritic(3, gym.spaces.Box(-1, 1, (2,)), NetConfig(hidden=(4,)))
    engine = KroneckerFisher(model, fisher="exact")
    exact_statistics(engine, model, torch.randn(5, 3))
    assert engine.refresh(0.1)
    grads = [torch.ones_like(p) for p in engine.params]
    log_std_slot = [i for i, p in enumerate(engine.params) if p is model.policy.head.log_std][0]
    torch.testing.assert_close(engine.precondition(grads, 0.1)[log_std_slot], torch.full((2,), 1 / 2.1))
    only_log_std = [g if i == log_std_slot else torch.zeros_like(g) for i, g in enumerate(grads)]
    quadratic = engine.quadratic_form(only_log_std)
    torch.testing.assert_close(quadratic, torch.tensor(2.0 * 2))


def test_unsupported_parameters_are_refused_by_name():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    with pytest.raises(ConfigError, match=r"1\.weight, 1\.bias.*accepted: nn\.Linear"):
        KroneckerFisher(model)


def test_sampled_factors_converge_to_exact_factors():
    """Relative error of the sampled G (a running mean over M draws) against the exact G.

    With N = 16 states the error falls like 1/√M: below 0.1 at M = 2000 and at least
    4× smaller than at M = 20 (√100 = 10 expected). Fixed seeds, so not flaky.
    """
    model = small_actor_critic()
    obs = torch.randn(16, 3)
    exact = KroneckerFisher(model, fisher="exact")
    exact_statistics(exact, model, obs)

    sampled = KroneckerFisher(model, fisher="sampled", stat_decay=1.0)  # decay 1: a plain running mean
    torch.manual_seed(4)

    def errors_after(draws):
        for _ in range(draws):
            with sampled.capturing():
                dist, values = model(obs)
            actions = dist.sample()
            targets = values.detach() + torch.randn_like(values)
            nll = -dist.log_prob(actions).sum() + 0.5 * (targets - values).pow(2).sum()
            assert sampled.update_statistics(nll, (dist, values))
        return max(
            float(torch.linalg.norm(s.G - e.G) / torch.linalg.norm(e.G))
            for s, e in zip(sampled.blocks, exact.blocks, strict=True)
        )

    early = errors_after(20)
    late = errors_after(1980)
    for s, e in zip(sampled.blocks, exact.blocks, strict=True):
        torch.testing.assert_close(s.A, e.A)  # inputs do not depend on the sampled outputs
    assert late < 0.1
    assert late < early / 4
