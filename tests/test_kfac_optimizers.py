"""acktr and kfac: trust region, Levenberg–Marquardt damping, failure handling, and learning."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from algorithms.config import NetConfig
from algorithms.errors import ConfigError
from algorithms.nets import SeparateActorCritic, build_actor_critic
from algorithms.optim import build_optimizer
from algorithms.optim.damping import LevenbergMarquardt
from algorithms.optim.settings import ACKTRConfig, KFACConfig
from algorithms.presets import resolve_config
from algorithms.training import train
from bench.synthetic import synthetic_objective


def batch_objective(model, seed=0, advantages=None):
    """32 CartPole-shaped observations with actions from the policy and random targets."""
    obs = torch.randn(32, 4, generator=torch.Generator().manual_seed(seed))
    return synthetic_objective(model, obs, seed, advantages)


def step_beside_reference(optimizer, model, objective):
    """``optimizer.step`` plus what it started from: (stats, loss, gradients, parameters before)."""
    loss, _ = objective.evaluate()
    grads = torch.autograd.grad(loss, list(model.parameters()))
    before = snapshot(model)
    return optimizer.step(objective), loss, grads, before


def cartpole_model(seed=0):
    torch.manual_seed(seed)
    return SeparateActorCritic(4, gym.spaces.Discrete(2), NetConfig())


def snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("preconditioner", ["eigen", "tikhonov"])
def test_trust_region_bounds_the_quadratic_kl_estimate(preconditioner):
    model = cartpole_model()
    config = ACKTRConfig(lr=5.0, lr_schedule="constant", cold_start=0, preconditioner=preconditioner)
    optimizer = build_optimizer("acktr", model, config, 10)
    objective = batch_objective(model)
    stats, loss, grads, before = step_beside_reference(optimizer, model, objective)

    assert stats["skipped"] == 0 and stats["cold_start"] == 0
    assert stats["step_scale"] < 1.0  # lr 5 is far outside the region: the clip is active
    assert stats["kl_estimate"] == pytest.approx(config.kl_clip, rel=1e-5)
    # Independently: with zero initial velocity the change is −lr(1 − μ)·s with s = νΔ.
    step_size = config.lr * (1 - config.momentum)
    s = [(b - p.detach()) / step_size for b, p in zip(before, model.parameters(), strict=True)]
    nu = stats["step_scale"]
    # lr² ν² Δᵀ∇:
    estimate = config.lr**2 * nu * sum(float((x * g).sum()) for x, g in zip(s, grads, strict=True))
    assert 0 < estimate <= config.kl_clip * (1 + 1e-4)
    if preconditioner == "eigen":  # here (F̂ + λI)Δ = ∇ exactly, so the estimate is lr² sᵀ(F̂ + λI)s
        curvature = optimizer.curvature
        damped = float(curvature.quadratic_form(s)) + config.damping * sum(float(x.pow(2).sum()) for x in s)
        assert config.lr**2 * damped == pytest.approx(config.kl_clip, rel=1e-3)


def test_small_steps_are_not_scaled():
    model = cartpole_model()
    config = ACKTRConfig(lr=1e-3, lr_schedule="constant", cold_start=0)
    stats = build_optimizer("acktr", model, config, 10).step(batch_objective(model))
    assert stats["step_scale"] == 1.0 and stats["kl_estimate"] < config.kl_clip


def test_a_kl_clip_of_zero_switches_the_trust_region_off():
    model = cartpole_model()
    config = ACKTRConfig(lr=1.0, lr_schedule="constant", cold_start=0, kl_clip=0.0)
    stats = build_optimizer("acktr", model, config, 10).step(batch_objective(model))
    assert stats["step_scale"] == 1.0 and stats["kl_estimate"] > 0.001  # above the default δ


@pytest.mark.parametrize("name", ["acktr", "kfac"])
def test_a_nan_gradient_leaves_the_parameters_unchanged(name):
    model = cartpole_model()
    config = (ACKTRConfig if name == "acktr" else KFACConfig)(cold_start=0)
    optimizer = build_optimizer(name, model, config, 10)
    optimizer.step(batch_objective(model))
    before, velocity = snapshot(model), [v.clone() for v in optimizer.velocity]
    advantages = torch.full((32,), math.nan)
    stats = optimizer.step(batch_objective(model, seed=1, advantages=advantages))
    assert stats["skipped"] == 1
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    assert all(torch.equal(v, w) for v, w in zip(velocity, optimizer.velocity, strict=True))


@pytest.mark.parametrize("preconditioner", ["eigen", "tikhonov"])
def test_a_singular_factor_without_damping_leaves_the_parameters_unchanged(preconditioner):
    model = cartpole_model()
    config = ACKTRConfig(cold_start=0, damping=0.0, preconditioner=preconditioner)
    optimizer = build_optimizer("acktr", model, config, 10)
    objective = batch_objective(model)
    objective.obs[:, 0] = 0.0  # the first layers' input factors become singular
    before = snapshot(model)
    stats = optimizer.step(objective)
    assert stats["skipped"] == 1
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_cold_start_takes_momentum_sgd_steps_then_kfac():
    model = cartpole_model()
    config = ACKTRConfig(cold_start=2, cold_lr=0.1, max_grad_norm=0.0)
    optimizer = build_optimizer("acktr", model, config, 10)
    stats, _, grads, before = step_beside_reference(optimizer, model, batch_objective(model))
    assert stats["cold_start"] == 1
    for b, p, g in zip(before, model.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), b - 0.1 * g)
    assert optimizer.step(batch_objective(model, seed=1))["cold_start"] == 1
    stats = optimizer.step(batch_objective(model, seed=2))
    assert stats["cold_start"] == 0 and math.isfinite(stats["kl_estimate"])
    assert optimizer.curvature.stat_updates == 3


def test_weight_decay_enters_the_gradient_and_the_damping():
    model = cartpole_model()
    config = ACKTRConfig(cold_start=1, cold_lr=0.1, max_grad_norm=0.0, weight_decay=0.5, damping=0.01)
    optimizer = build_optimizer("acktr", model, config, 10)
    _, _, grads, before = step_beside_reference(optimizer, model, batch_objective(model))
    for b, p, g in zip(before, model.parameters(), grads, strict=True):
        torch.testing.assert_close(p.detach(), b - 0.1 * (g + 0.5 * b))
    assert optimizer.damping == pytest.approx(0.51)


@pytest.mark.parametrize(("target", "factor"), [(1e-9, 1 / 1.5), (1e3, 1.5)])
def test_target_kl_adapts_the_step_size(target, factor):
    model = cartpole_model()
    config = ACKTRConfig(lr=0.03, cold_start=0, target_kl=target)
    optimizer = build_optimizer("acktr", model, config, 10)
    stats = optimizer.step(batch_objective(model))
    assert stats["lr"] == 0.03 and stats["kl_realized"] > 0
    assert optimizer.trust_region.lr == pytest.approx(0.03 * factor)
    assert optimizer.step(batch_objective(model, seed=1))["lr"] == pytest.approx(0.03 * factor)


def test_separate_critic_gets_its_own_kfac_and_iterations():
    model = cartpole_model()
    config = ACKTRConfig(cold_start=0, critic="separate", value_iterations=3, value_cold_start=0)
    optimizer = build_optimizer("acktr", model, config, 10)
    policy_before = [p.detach().clone() for p in model.policy.parameters()]
    critic_before = [p.detach().clone() for p in model.critic.parameters()]
    stats = optimizer.step(batch_objective(model))
    assert optimizer.critic.updates == 3 and optimizer.policy.updates == 1
    assert {"kl_estimate", "value_kl_estimate", "value_damping"} <= set(stats)
    assert stats["value_damping"] == pytest.approx(0.1 + 3e-4)
    assert stats["value_kl_estimate"] <= 0.3 * (1 + 1e-6)
    assert not any(torch.equal(b, p) for b, p in zip(policy_before, model.policy.parameters(), strict=True))
    assert not any(torch.equal(b, p) for b, p in zip(critic_before, model.critic.parameters(), strict=True))
    blocks = {id(b.module) for b in optimizer.policy.curvature.blocks + optimizer.critic.curvature.blocks}
    assert len(blocks) == 6  # every layer is in exactly one of the two


def test_separate_critic_is_refused_for_a_shared_trunk():
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    model = build_actor_critic(space, gym.spaces.Discrete(6), "atari", NetConfig())
    with pytest.raises(ConfigError, match="optimizer.critic.*accepted here: joint"):
        build_optimizer("acktr", model, ACKTRConfig(critic="separate"), 10)


def test_levenberg_marquardt_rule():
    lm = LevenbergMarquardt(1.0, every=5, minimum=0.5, maximum=2.0)
    omega = (19 / 20) ** 5
    assert [lm.measures(u) for u in range(6)] == [False, False, False, False, True, False]
    assert lm.adapt(-0.9, -1.0) == pytest.approx(0.9) and lm.damping == pytest.approx(omega)
    lm.adapt(-0.5, -1.0)
    assert lm.damping == pytest.approx(omega)  # ¼ ≤ ρ ≤ ¾: unchanged
    lm.adapt(0.1, -1.0)  # the loss went up: bad
    assert lm.damping == pytest.approx(1.0)
    assert math.isnan(lm.adapt(math.nan, -1.0)) and lm.damping == pytest.approx(1 / omega)
    for _ in range(50):
        lm.adapt(math.nan, -1.0)
    assert lm.damping == 2.0  # clipped


def test_kfac_measures_rho_against_its_quadratic_model():
    model = cartpole_model()
    config = KFACConfig(lm_every=1, damping=1.0, cold_start=0)
    optimizer = build_optimizer("kfac", model, config, 10)
    objective = batch_objective(model)
    stats, loss, grads, before = step_beside_reference(optimizer, model, objective)

    delta = [p.detach() - b for b, p in zip(before, model.parameters(), strict=True)]
    predicted = sum(float((g * d).sum()) for g, d in zip(grads, delta, strict=True))
    predicted += 0.5 * float(optimizer.curvature.quadratic_form(delta))
    actual = float(objective.loss_at_current_params() - loss.detach())
    assert stats["rho"] == pytest.approx(actual / predicted, rel=1e-4)
    assert stats["rho"] > 0  # a damped natural step on a fresh batch decreases the loss
    omega = 19 / 20
    expected = omega if stats["rho"] > 0.75 else 1 / omega if stats["rho"] < 0.25 else 1.0
    assert stats["damping"] == pytest.approx(expected)


def test_exact_fisher_mode_runs_on_the_nature_cnn():
    env_config = resolve_config("ALE/Pong-v5", "acktr", 64, device="cpu")
    space = gym.spaces.Box(0, 255, (4, 84, 84), np.uint8)
    model = build_actor_critic(space, gym.spaces.Discrete(6), "atari", env_config.net)
    config = ACKTRConfig(cold_start=0, fisher="exact")
    optimizer = build_optimizer("acktr", model, config, 10)
    obs = torch.randint(0, 256, (8, 4, 84, 84), dtype=torch.uint8)
    stats = optimizer.step(synthetic_objective(model, obs))
    assert stats["skipped"] == 0 and len(optimizer.curvature.blocks) == 6


@pytest.mark.slow
def test_acktr_solves_cartpole_within_100k_steps():
    config = resolve_config("CartPole-v1", "acktr", 100_000, seed=0, device="cpu")
    returns = []

    class Episodes:
        def log_update(self, row):
            pass

        def log_episodes(self, env_steps, episodes):
            returns.extend(e.raw_return for e in episodes)

    assert train(config, Episodes()).state == "done"
    windows = [np.mean(returns[i - 20 : i]) for i in range(20, len(returns) + 1)]
    assert max(windows) >= 475
