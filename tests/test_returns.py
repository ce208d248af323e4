"""n-step returns and GAE(λ) against hand-computed cases, termination vs truncation."""

import pytest
import torch

from algorithms.returns import advantages_and_returns

GAMMA = 0.9
REWARDS = [1.0, 2.0, 3.0]
VALUES = [0.5, 0.6, 0.7]
LAST_VALUE = 0.8


def run_single_env(terminated=(0, 0, 0), truncated=(0, 0, 0), final_values=(0, 0, 0), gae_lambda=1.0):
    def column(xs, dtype=torch.float32):
        return torch.tensor(xs, dtype=dtype).unsqueeze(1)

    return advantages_and_returns(
        column(REWARDS),
        column(VALUES),
        column(terminated, torch.bool),
        column(truncated, torch.bool),
        column(final_values),
        torch.tensor([LAST_VALUE]),
        GAMMA,
        gae_lambda,
    )


def test_n_step_returns_bootstrap_from_last_value():
    advantages, returns = run_single_env()
    r2 = 3 + 0.9 * 0.8
    r1 = 2 + 0.9 * r2
    r0 = 1 + 0.9 * r1
    assert returns.squeeze(1).tolist() == pytest.approx([r0, r1, r2])
    assert advantages.squeeze(1).tolist() == pytest.approx([r0 - 0.5, r1 - 0.6, r2 - 0.7])


def test_termination_cuts_the_bootstrap():
    _, returns = run_single_env(terminated=(0, 1, 0))
    assert returns.squeeze(1).tolist() == pytest.approx([1 + 0.9 * 2, 2, 3 + 0.9 * 0.8])


def test_truncation_bootstraps_from_the_final_observation():
    _, returns = run_single_env(truncated=(0, 1, 0), final_values=(0, 10.0, 0))
    assert returns.squeeze(1).tolist() == pytest.approx([1 + 0.9 * (2 + 9.0), 2 + 9.0, 3 + 0.9 * 0.8])


def test_termination_wins_when_both_flags_are_set():
    _, both = run_single_env(terminated=(0, 1, 0), truncated=(0, 1, 0), final_values=(0, 10.0, 0))
    _, terminated = run_single_env(terminated=(0, 1, 0))
    assert torch.equal(both, terminated)


def test_gae_lambda_recursion_by_hand():
    lam = 0.5
    advantages, returns = run_single_env(truncated=(0, 1, 0), final_values=(0, 10.0, 0), gae_lambda=lam)
    delta2 = 3 + 0.9 * 0.8 - 0.7
    delta1 = 2 + 0.9 * 10.0 - 0.6  # truncated: bootstraps from V(final obs), recursion stops
    delta0 = 1 + 0.9 * 0.6 - 0.5
    a2, a1 = delta2, delta1
    a0 = delta0 + 0.9 * lam * a1
    assert advantages.squeeze(1).tolist() == pytest.approx([a0, a1, a2])
    assert returns.squeeze(1).tolist() == pytest.approx([a0 + 0.5, a1 + 0.6, a2 + 0.7])


def test_envs_are_independent():
    generator = torch.Generator().manual_seed(0)
    t, n = 6, 3
    rewards, values = torch.randn(t, n, generator=generator), torch.randn(t, n, generator=generator)
    terminated = torch.rand(t, n, generator=generator) < 0.2
    truncated = torch.rand(t, n, generator=generator) < 0.2
    final_values, last = torch.randn(t, n, generator=generator), torch.randn(n, generator=generator)
    joint, _ = advantages_and_returns(rewards, values, terminated, truncated, final_values, last, 0.99, 0.95)
    for i in range(n):
        alone, _ = advantages_and_returns(
            rewards[:, i : i + 1],
            values[:, i : i + 1],
            terminated[:, i : i + 1],
            truncated[:, i : i + 1],
            final_values[:, i : i + 1],
            last[i : i + 1],
            0.99,
            0.95,
        )
        assert torch.allclose(joint[:, i : i + 1], alone)
