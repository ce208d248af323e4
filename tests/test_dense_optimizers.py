"""ng and lm: the exact-Fisher direction, the trust region against the realized KL, damping, limits."""

import gymnasium as gym
import pytest
import torch
from torch.distributions import kl_divergence

from algorithms.config import NetConfig
from algorithms.curvature import exact_fisher
from algorithms.curvature.decompositions import diagonal_blocks
from algorithms.envs import make_env
from algorithms.errors import ConfigError
from algorithms.nets import SeparateActorCritic, build_actor_critic
from algorithms.optim import build_optimizer
from algorithms.optim.settings import LMConfig, NGConfig
from algorithms.presets import resolve_config
from bench.synthetic import synthetic_objective


def small_model(seed=0):
    torch.manual_seed(seed)
    return SeparateActorCritic(4, gym.spaces.Discrete(3), NetConfig(hidden=(6,)))


def objective_for(model, seed=0):
    obs = torch.randn(24, 4, generator=torch.Generator().manual_seed(seed))
    return synthetic_objective(model, obs, seed)


def flat(tensors):
    return torch.cat([t.reshape(-1) for t in tensors])


def test_ng_steps_along_the_dense_damped_solve():
    model = small_model()
    objective = objective_for(model)
    config = NGConfig(lr=0.1, lr_schedule="constant", cold_start=0, damping=0.05, kl_clip=1.0)
    optimizer = build_optimizer("ng", model, config, 10)
    loss, _ = objective.evaluate()
    grads = flat(torch.autograd.grad(loss, list(model.parameters())))
    fisher = exact_fisher(model, objective.obs, dtype=torch.float64)
    before = flat(model.parameters()).detach().clone()
    stats = optimizer.step(objective)

    assert stats["skipped"] == 0 and stats["step_scale"] == 1.0
    expected = torch.linalg.solve(fisher + 0.05 * torch.eye(len(fisher)), grads.double())
    moved = (before - flat(model.parameters()).detach()) / (config.lr * (1 - config.momentum))
    torch.testing.assert_close(moved.double(), expected, rtol=1e-3, atol=1e-4)  # float32 parameters


def test_ng_with_a_separate_critic_steps_each_net_along_its_own_dense_solve():
    """The policy's step solves with the policy's exact Fisher and the main damping; the critic's
    with the critic's exact Fisher (V read as a Gaussian with σ = 1) and the ``value_*`` settings."""
    model = small_model()
    objective = objective_for(model)
    config = NGConfig(
        lr=0.1, lr_schedule="constant", cold_start=0, damping=0.05, kl_clip=1.0, critic="separate"
    )
    config.value_cold_start, config.value_iterations, config.value_kl_clip = 0, 1, 1.0
    optimizer = build_optimizer("ng", model, config, 10)
    loss, _ = objective.evaluate()
    expected_moves = []
    for net, lr, damping, decay in (
        (model.policy, config.lr, config.damping, 0.0),
        (
            model.critic,
            config.value_lr,
            config.value_damping + config.value_weight_decay,
            config.value_weight_decay,
        ),
    ):
        params = list(net.parameters())
        grads = flat(torch.autograd.grad(loss, params, retain_graph=True)) + decay * flat(params).detach()
        fisher = exact_fisher(net, objective.obs, dtype=torch.float64)
        solve = torch.linalg.solve(fisher + damping * torch.eye(len(fisher)), grads.double())
        expected_moves.append(lr * (1 - config.momentum) * solve)
    before = [
        flat(model.policy.parameters()).detach().clone(),
        flat(model.critic.parameters()).detach().clone(),
    ]
    stats = optimizer.step(objective)

    assert stats["skipped"] == stats["value_skipped"] == 0
    assert stats["step_scale"] == stats["value_step_scale"] == 1.0
    after = [flat(model.policy.parameters()).detach(), flat(model.critic.parameters()).detach()]
    for start, end, expected in zip(before, after, expected_moves, strict=True):
        torch.testing.assert_close((start - end).double(), expected, rtol=1e-3, atol=1e-6)


def test_ng_trust_region_meets_the_realized_kl():
    """Clipped to δ, the joint KL of π(a|s)·N(v; V(s), 1) moves by about δ/2: Baselines' estimate
    η²ν²Δᵀ∇ is ΔθᵀF̂Δθ, twice the second-order KL, and the exact Fisher makes that model accurate
    (on a batch large enough for F to be well conditioned; a small damping keeps F̂ close to F)."""
    model = small_model(seed=1)
    objective = synthetic_objective(model, torch.randn(256, 4, generator=torch.Generator().manual_seed(1)))
    delta = 1e-4
    config = NGConfig(lr=1.0, lr_schedule="constant", momentum=0.0, cold_start=0, damping=1e-3, kl_clip=delta)
    optimizer = build_optimizer("ng", model, config, 10)
    with torch.no_grad():
        old_dist, old_values = model(objective.obs)
    stats = optimizer.step(objective)
    with torch.no_grad():
        new_dist, new_values = model(objective.obs)
    realized = kl_divergence(old_dist, new_dist).mean() + 0.5 * (new_values - old_values).pow(2).mean()

    assert stats["step_scale"] < 1.0 and stats["kl_estimate"] == pytest.approx(delta, rel=1e-4)
    assert float(realized) == pytest.approx(delta / 2, rel=0.1)


def test_lm_adapts_the_damping_and_reinverts_at_the_new_value():
    model = small_model(seed=2)
    objective = objective_for(model, seed=2)
    optimizer = build_optimizer("lm", model, LMConfig(lr=0.05, lm_every=1, cold_start=0), 10)
    dampings = []
    for _ in range(4):
        damping = optimizer.damping
        stats = optimizer.step(objective)
        assert optimizer.curvature.inverse_damping == damping  # exact damping at every λ
        assert stats["rho"] == stats["rho"]  # ρ measured at every update with lm_every=1
        dampings.append(stats["damping"])
    assert len(set(dampings)) > 1  # λ moved, by the ρ rule


def test_a_net_over_the_limit_is_refused_when_the_optimizer_is_built():
    with pytest.raises(ConfigError, match="88 parameters is above the limit of 50"):
        build_optimizer("ng", small_model(), NGConfig(max_params=50), total_updates=10)


def test_the_cli_refuses_a_net_over_the_limit_in_one_line(cli, tmp_path):
    args = ("--env", "CartPole-v1", "--optimizer", "lm", "--steps", "1000", "--out", str(tmp_path / "run"))
    result = cli("train", *args, "--set", "optimizer.max_params=1000")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "above the limit of 1000" in lines[0] and "kfac" in lines[0]


def test_ng_and_lm_do_not_apply_to_atari():
    with pytest.raises(ConfigError, match="does not apply to atari"):
        resolve_config("ALE/Pong-v5", "ng", 1000)


def test_diagonal_blocks_are_found_up_to_a_permutation():
    torch.manual_seed(3)
    dense = torch.randn(3, 3)
    chain = torch.diag(torch.ones(3), 1) + torch.diag(torch.ones(3), -1) + torch.eye(4)  # 0-1-2-3 linked
    matrix = torch.block_diag(dense @ dense.T, chain, torch.ones(1, 1))  # blocks {0,1,2}, {3..6}, {7}
    order = torch.randperm(8)
    blocks = diagonal_blocks(matrix[order][:, order])
    found = sorted(sorted(order[b].tolist()) for b in blocks)
    assert found == [[0, 1, 2], [3, 4, 5, 6], [7]]


SMALL_NET_TASKS = [
    "CartPole-v1",
    "Acrobot-v1",
    "Pendulum-v1",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Reacher-v5",
    "Swimmer-v5",
    "Hopper-v5",
]


@pytest.mark.parametrize("env_id", SMALL_NET_TASKS)
def test_all_five_optimizers_build_the_same_net_on_the_small_net_tasks(env_id):
    """Each optimizer's preset for the task resolves, and its net fits the dense Fisher's limit."""
    with make_env(env_id, 1, seed=0) as env:
        spaces = env.observation_space, env.action_space
    sizes = set()
    for name in ("sgd", "ng", "lm", "kfac", "acktr"):
        config = resolve_config(env_id, name, 10_000)
        model = build_actor_critic(*spaces, config.domain, config.net)
        build_optimizer(name, model, config.optimizer, config.total_updates)
        sizes.add(sum(p.numel() for p in model.parameters()))
    assert len(sizes) == 1 and sizes.pop() <= NGConfig().max_params
