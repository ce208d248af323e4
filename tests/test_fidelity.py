"""Curvature-fidelity diagnostics: exact where K-FAC is exact, visible where it is not, logged in runs."""

import gymnasium as gym
import pandas as pd
import torch
from torch import nn

from algorithms.config import DiagnosticsConfig, NetConfig
from algorithms.fidelity import COLUMNS, FidelityProbe
from algorithms.nets import DiagGaussianHead, Policy, SeparateActorCritic
from algorithms.optim import build_optimizer
from algorithms.optim.settings import ACKTRConfig
from bench.results import is_wall_clock_column
from bench.synthetic import synthetic_objective


def train(cli, out, *settings, check=True):
    """A short CartPole-v1 acktr run on CPU with ``settings`` (``--set`` values)."""
    sets = [arg for setting in settings for arg in ("--set", setting)]
    args = ("--env", "CartPole-v1", "--optimizer", "acktr", "--steps", "1600", "--device", "cpu")
    return cli("train", *args, "--out", str(out), *sets, check=check)


def actor_critic(linear: bool, seed=0):
    """A Gaussian actor-critic on 3-dim observations; ``linear``: one layer each, where K-FAC is exact."""
    torch.manual_seed(seed)
    model = SeparateActorCritic(3, gym.spaces.Box(-1, 1, (2,)), NetConfig(hidden=(5,)))
    if linear:
        model.policy = Policy(nn.Identity(), DiagGaussianHead(3, 2, log_std_init=0.0))
        model.critic = nn.Linear(3, 1)
    for p in model.parameters():
        p.data.normal_(0.0, 0.5)
    return model


def measure(model):
    objective = synthetic_objective(model, torch.randn(64, 3, generator=torch.Generator().manual_seed(1)))
    probe = FidelityProbe(model, DiagnosticsConfig(fidelity_every=1))
    before = probe.before_step(objective)
    config = ACKTRConfig(cold_start=0, lr=0.1, lr_schedule="constant", kl_clip=1e-3)
    stats = build_optimizer("acktr", model, config, 1).step(objective)
    return before | probe.after_step(objective), stats


def test_one_layer_nets_are_where_kfac_is_exact():
    """One Linear per output (Gaussian mean with log σ, σ = 1 critic): Ā ⊗ G is the exact Fisher."""
    fidelity, _ = measure(actor_critic(linear=True))
    assert fidelity["fidelity_fisher_error"] < 1e-10
    assert fidelity["fidelity_cosine"] > 1 - 1e-10
    assert fidelity["fidelity_sampling_error"] > 1e-3  # one sampled action per observation is noisy


def test_a_hidden_layer_shows_the_approximation_and_the_kl_is_realized():
    fidelity, stats = measure(actor_critic(linear=False))
    assert fidelity["fidelity_fisher_error"] > 1e-2
    assert fidelity["fidelity_cosine"] < 1 - 1e-4
    assert 0 < fidelity["fidelity_kl_realized"] < 10 * stats["kl_estimate"]


def test_runs_log_the_columns_on_schedule(cli, tmp_path):
    out = tmp_path / "run"
    train(cli, out, "diagnostics.fidelity_every=4", "net.hidden=8")
    progress = pd.read_csv(out / "progress.csv")
    measured = progress["updates"] % 4 == 0
    assert progress.loc[measured, list(COLUMNS)].notna().all().all()
    assert progress.loc[~measured, list(COLUMNS)].isna().all().all()
    assert progress.loc[measured, "fidelity_cosine"].between(-1, 1).all()


def test_measuring_leaves_the_training_as_it_was(cli, tmp_path):
    """The probe samples actions for the sampled K-FAC, from its own random stream: the run with
    the diagnostics is the run without them, column for column."""
    train(cli, tmp_path / "plain", "net.hidden=8")
    train(cli, tmp_path / "measured", "diagnostics.fidelity_every=1", "net.hidden=8")
    plain = pd.read_csv(tmp_path / "plain" / "progress.csv")
    measured = pd.read_csv(tmp_path / "measured" / "progress.csv")
    columns = [c for c in plain.columns if not is_wall_clock_column(c)]
    assert set(measured.columns) - set(plain.columns) == set(COLUMNS)
    pd.testing.assert_frame_equal(measured[columns], plain[columns])


def test_a_net_too_big_for_the_diagnostics_is_refused_in_one_line(cli, tmp_path):
    done = train(
        cli, tmp_path / "run", "diagnostics.fidelity_every=1", "diagnostics.max_params=100", check=False
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "above the limit of 100" in lines[0]
