"""Short real training runs through the CLI, determinism, divergence, and the sgd optimizer."""

import math
import re

import gymnasium as gym
import pandas as pd
import pytest
import torch

from algorithms.nets import build_actor_critic
from algorithms.objective import ActorCriticObjective
from algorithms.optim.first_order import FirstOrder, FirstOrderConfig, TFRMSprop
from algorithms.presets import resolve_config
from bench.results import REQUIRED_PROGRESS_COLUMNS, is_wall_clock_column, read_run, steps_to_threshold


def train_cli(cli, env_id, steps, seed, out, *settings, optimizer="sgd", check=True):
    """``acktr-bench train`` on CPU; ``settings`` are extra ``--set`` values."""
    return cli(*cli.train_args(env_id, optimizer, steps, seed, out, *settings), check=check)


SHORT_RUNS = [("CartPole-v1", 400, 40), ("InvertedPendulum-v5", 400, 40), ("ALE/Pong-v5", 240, 80)]


@pytest.mark.parametrize(("env_id", "steps", "batch"), SHORT_RUNS)
def test_short_run_writes_the_public_schema(cli, tmp_path, done_status, env_id, steps, batch):
    out = tmp_path / "run"
    train_cli(cli, env_id, steps, 1, out)
    record = read_run(out)
    assert record.status == done_status(record, steps)
    assert set(REQUIRED_PROGRESS_COLUMNS) <= set(record.progress.columns)
    assert record.progress["env_steps"].tolist() == list(range(batch, steps + 1, batch))
    assert {"lr", "grad_norm", "skipped", "policy_loss", "value_loss", "entropy"} <= set(record.progress)
    assert record.progress["loss"].notna().all()
    config = record.config
    assert config["env_id"] == env_id and config["optimizer"]["name"] == "sgd" and config["device"] == "cpu"
    provenance = config["provenance"]
    assert provenance["versions"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert provenance["hardware"]["cores"] >= 1 and "commit" in provenance["git"]
    assert (out / "env_state.json").exists() == (env_id == "InvertedPendulum-v5")


def deterministic_part(run_dir):
    progress = pd.read_csv(run_dir / "progress.csv")
    return progress[[c for c in progress.columns if not is_wall_clock_column(c)]]


@pytest.mark.parametrize(
    ("env_id", "steps", "optimizer"),
    [
        ("CartPole-v1", 2000, "sgd"),
        ("ALE/Pong-v5", 320, "sgd"),
        ("CartPole-v1", 2000, "acktr"),
        ("CartPole-v1", 2000, "kfac"),
        ("CartPole-v1", 800, "ng"),
        ("CartPole-v1", 800, "lm"),
        ("InvertedPendulum-v5", 2000, "sgd"),
        ("InvertedPendulum-v5", 5000, "acktr"),
    ],
)
def test_same_seed_same_progress(cli, tmp_path, env_id, steps, optimizer):
    """Two runs of seed 5 write the same rows; seed 6 differs from its first update on (one update
    of it shows that)."""
    first_update = resolve_config(env_id, optimizer, steps).batch_size
    for name, seed, budget in (("a", "5", steps), ("b", "5", steps), ("c", "6", first_update)):
        train_cli(cli, env_id, budget, seed, tmp_path / name, optimizer=optimizer)
    a, b, c = (deterministic_part(tmp_path / name) for name in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert (tmp_path / "a" / "episodes.csv").read_text() == (tmp_path / "b" / "episodes.csv").read_text()
    assert len(c) == 1 and c.loc[0, "loss"] != a.loc[0, "loss"]


def test_nan_loss_marks_the_run_diverged(cli, tmp_path):
    out = tmp_path / "run"
    done = train_cli(
        cli, "CartPole-v1", 4000, 0, out, "optimizer.lr=1e30", "optimizer.max_grad_norm=0", check=False
    )
    assert done.returncode == 1 and "run diverged" in done.stderr
    record = read_run(out)
    assert record.status["state"] == "diverged" and "non-finite loss" in record.status["error"]
    assert record.status["env_steps"] < 4000
    assert not math.isfinite(record.progress["loss"].iloc[-1])


def test_a_run_stops_as_done_once_the_return_reaches_the_stop_threshold(cli, tmp_path):
    out = tmp_path / "run"
    train_cli(cli, "CartPole-v1", 20000, 0, out, "stop.return_mean=25", "stop.window=20")
    record = read_run(out)
    assert record.status["state"] == "done" and record.status["env_steps"] < 20000
    # the first update whose last 20 episodes average 25 or more: at or after steps_to_threshold's step
    episodes = record.episodes
    reached = steps_to_threshold(episodes, 25, window=20)
    assert reached <= record.status["env_steps"]
    previous_update = record.status["env_steps"] - record.config["rollout"]["num_envs"] * 5
    last_20 = episodes[episodes["env_steps"] <= previous_update]["return"].tail(20)
    assert len(last_20) < 20 or last_20.mean() < 25


@pytest.mark.parametrize(
    "args",
    [
        ("--env", "Foo-v0"),
        ("--env", "CartPole-v1", "--set", "optimizer.lr"),
        ("--env", "CartPole-v1", "--set", "rollout.nsteps=5"),
        ("--env", "CartPole-v1", "--optimizer", "newton"),
    ],
)
def test_bad_input_is_a_one_line_error(cli, tmp_path, args):
    base = {"--optimizer": "sgd", "--steps": "10", "--out": str(tmp_path / "run")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    done = cli("train", *[x for pair in base.items() for x in pair])
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("acktr-bench: error: ")
    assert not (tmp_path / "run").exists()


def test_off_a_terminal_train_prints_progress_lines_to_the_end(cli, tmp_path):
    args = ["--env", "CartPole-v1", "--optimizer", "sgd", "--steps", "3000", "--out", str(tmp_path)]
    done = cli("train", *args, "--progress-every", "0.2", check=True)
    pattern = r"^CartPole-v1 sgd seed 0: ([\d,]+)/3,000 steps \(\d+%\).* elapsed.*; return [\d.]+$"
    steps = [int(m.replace(",", "")) for m in re.findall(pattern, done.stderr, re.MULTILINE)]
    assert len(steps) >= 2 and steps == sorted(set(steps)) and steps[-1] == 3000
    assert "steps/s" in done.stderr and "ETA" in done.stderr


def test_existing_run_is_not_overwritten_without_force(cli, tmp_path):
    args = ("train", "--env", "CartPole-v1", "--optimizer", "sgd", "--steps", "40", "--out", str(tmp_path))
    cli(*args, check=True)
    refused = cli(*args)
    assert refused.returncode == 2 and "--force" in refused.stderr
    cli(*args, "--force", check=True)


def test_list_names_optimizers_and_env_families(cli):
    listing = cli("list", check=True).stdout
    assert "sgd" in listing and "ALE/Pong-v5" in listing and "HalfCheetah-v5" in listing


def tiny_objective(advantage_scale=1.0):
    config = resolve_config("CartPole-v1", "sgd", 100, device="cpu")
    torch.manual_seed(0)
    model = build_actor_critic(gym.spaces.Box(-1, 1, (4,)), gym.spaces.Discrete(2), "classic", config.net)
    obs = torch.randn(16, 4)
    with torch.no_grad():
        dist, _ = model(obs)
        actions = dist.sample()
        old_log_probs = dist.log_prob(actions)
    objective = ActorCriticObjective(
        model, obs, actions, torch.randn(16) * advantage_scale, torch.randn(16), old_log_probs, 0.5, 0.01
    )
    return model, objective


@pytest.mark.parametrize("rule", ["rmsprop", "rmsprop-tf", "sgd", "momentum", "adam"])
def test_every_inner_rule_updates_and_reports(rule):
    model, objective = tiny_objective()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = FirstOrder(model, FirstOrderConfig(rule=rule, lr=1e-2), total_updates=10)
    stats = optimizer.step(objective)
    assert set(stats) == {"lr", "grad_norm", "skipped"} and stats["skipped"] == 0.0
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_linear_schedule_decays_to_zero():
    model, objective = tiny_objective()
    optimizer = FirstOrder(model, FirstOrderConfig(lr=1.0, lr_schedule="linear"), total_updates=4)
    assert [optimizer.step(objective)["lr"] for _ in range(4)] == [1.0, 0.75, 0.5, 0.25]


def test_tf_rmsprop_matches_its_formula():
    param = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    optimizer = TFRMSprop([param], lr=0.1, alpha=0.9, eps=1e-5)
    grads = [torch.tensor([0.5, 3.0]), torch.tensor([-1.0, 0.25])]
    expected, square_avg = torch.tensor([1.0, -2.0]), torch.ones(2)
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
        square_avg = 0.9 * square_avg + 0.1 * grad**2
        expected = expected - 0.1 * grad / torch.sqrt(square_avg + 1e-5)
    assert torch.allclose(param.detach(), expected)


def test_nan_gradient_leaves_parameters_unchanged():
    model, objective = tiny_objective(advantage_scale=math.nan)
    before = [p.detach().clone() for p in model.parameters()]
    stats = FirstOrder(model, FirstOrderConfig(), total_updates=10).step(objective)
    assert stats["skipped"] == 1.0
    assert all(torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))


def test_objective_gradient_is_a2c_at_the_rollout_parameters():
    model, objective = tiny_objective()
    loss, sampled_nll = objective.evaluate()
    grads = torch.autograd.grad(loss, list(model.policy.parameters()), retain_graph=True)
    dist = model.policy(objective.obs)
    a2c = -(dist.log_prob(objective.actions) * objective.advantages).mean() - 0.01 * dist.entropy().mean()
    expected = torch.autograd.grad(a2c, list(model.policy.parameters()))
    assert all(torch.allclose(g, e, atol=1e-6) for g, e in zip(grads, expected, strict=True))
    assert sampled_nll.ndim == 0 and torch.isfinite(sampled_nll)
    assert torch.allclose(objective.loss_at_current_params(), loss.detach())
