"""Open both ways. Optimizers from outside the package: a ``torch.optim.Optimizer`` by import
path runs in ``sgd``'s harness path, and the example package's two
(``examples/optimizer-plugin``, installed by tox as a user installs theirs) are found through
their entry points and run through ``train``, a suite and its report. Our optimizers outside our
harness: ``make_optimizer`` stepped on a loop's own forward is the harness's step."""

import copy
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
import torch
from torch.func import functional_call

from algorithms.envs import make_env
from algorithms.errors import ConfigError
from algorithms.nets import build_actor_critic
from algorithms.objective import Forward, Objective
from algorithms.optim import optimizer_entry
from algorithms.own_loop import make_optimizer
from algorithms.presets import resolve_config
from bench.report import figures
from bench.results import is_wall_clock_column, read_run
from bench.synthetic import synthetic_objective

EXAMPLE = "acktr-bench-example-optimizers"


@pytest.fixture(scope="module")
def example_installed():
    try:
        metadata.version(EXAMPLE)
    except metadata.PackageNotFoundError:
        pytest.fail(f"install examples/optimizer-plugin ({EXAMPLE}) to run these tests: tox does")


def _unclocked(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[column for column in frame.columns if not is_wall_clock_column(column)]]


def test_torch_rmsprop_at_sgds_settings_trains_exactly_as_sgd(cli, tmp_path):
    """The import-path rule runs the same harness path: PyTorch's RMSprop with sgd's lr and ε
    (α 0.99 is both defaults) gives sgd's run, row for row."""
    cli(*cli.train_args("CartPole-v1", "sgd", 4000, 3, tmp_path / "sgd"), check=True)
    settings = ("optimizer.lr=0.0007", "optimizer.eps=0.00001")
    cli(*cli.train_args("CartPole-v1", "torch:RMSprop", 4000, 3, tmp_path / "rms", *settings), check=True)
    ours, theirs = read_run(tmp_path / "sgd"), read_run(tmp_path / "rms")
    assert len(ours.progress) == 100 and len(ours.episodes) > 20
    pd.testing.assert_frame_equal(_unclocked(ours.progress), _unclocked(theirs.progress))
    pd.testing.assert_frame_equal(_unclocked(ours.episodes), _unclocked(theirs.episodes))
    assert (
        theirs.config["optimizer"]["name"] == "torch:RMSprop" and theirs.config["optimizer"]["alpha"] == 0.99
    )


@pytest.mark.parametrize(
    ("optimizer", "settings", "message"),
    [
        ("nopkg.opt:Lion", (), "bad optimizer 'nopkg.opt:Lion': module 'nopkg.opt' does not import"),
        ("torch.nn:Linear", (), "is not a torch.optim.Optimizer subclass"),
        ("torch:LBFGS", (), "bad optimizer 'torch:LBFGS': its step needs a closure"),
        ("torch:Adamm", (), "bad optimizer 'torch:Adamm': module 'torch.optim' has no 'Adamm'"),
        ("torch:Adam", ("optimizer.betaz=0.9",), "unknown setting 'optimizer.betaz'; accepted:"),
        ("torch:Adam", ("optimizer.amsgrad=maybe",), "bad value 'maybe' for optimizer.amsgrad"),
        ("lino", (), "unknown optimizer 'lino' (did you mean 'lion'?)"),
    ],
)
def test_a_bad_plug_in_is_one_line(cli, tmp_path, example_installed, optimizer, settings, message):
    done = cli(*cli.train_args("CartPole-v1", optimizer, 100, 0, tmp_path / "run", *settings))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_the_example_package_registers_one_optimizer_of_each_kind(cli, example_installed):
    listed = {
        line.split()[0]: line for line in cli("list", check=True).stdout.splitlines() if line.startswith("  ")
    }
    origin = f"(entry point of {EXAMPLE} 0.1.0)"
    assert listed["lion"].endswith(origin) and "sgd's first-order harness path" in listed["lion"]
    assert listed["diag-ng"].endswith(origin) and "[classic, mujoco]" in listed["diag-ng"]
    assert listed["sgd"].endswith("(built-in)")


@pytest.mark.parametrize(
    ("optimizer", "env_id"), [("lion", "CartPole-v1"), ("diag-ng", "InvertedPendulum-v5")]
)
def test_the_example_optimizers_train_through_train(cli, tmp_path, example_installed, optimizer, env_id):
    cli(*cli.train_args(env_id, optimizer, 3000, 0, tmp_path / "run"), check=True)
    record = read_run(tmp_path / "run")
    assert record.status["state"] == "done" and record.config["optimizer"]["name"] == optimizer
    assert len(record.progress) > 1 and record.progress["skipped"].eq(0).all()


SUITE = """description = "the example plug-ins beside sgd and acktr"
seeds = [0, 1]

[[tasks]]
env = "CartPole-v1"
steps = 3000
optimizers = ["sgd", "acktr", "lion", "diag-ng"]
"""


def test_the_example_optimizers_run_in_a_suite_and_its_report(cli, tmp_path, example_installed):
    suite = tmp_path / "plugins.toml"
    suite.write_text(SUITE)
    results, reports = tmp_path / "results", tmp_path / "reports"
    done = cli(
        "run", str(suite), "--results", str(results), "--workers", "2", "--report", "--reports", str(reports)
    )
    assert done.returncode == 0, done.stderr
    for optimizer in ("lion", "diag-ng"):
        for seed in (0, 1):
            record = read_run(results / "plugins" / "CartPole-v1" / optimizer / f"seed{seed}")
            assert record.status["state"] == "done" and record.progress["env_steps"].iloc[-1] >= 3000
            assert record.progress["skipped"].eq(0).all()
    page = (reports / "plugins" / "index.html").read_text()
    comparisons = pd.read_csv(reports / "plugins" / "comparisons.csv")
    assert {"lion vs sgd", "diag-ng vs sgd", "acktr vs lion"} <= set(comparisons["comparison"])
    assert "<td>diag-ng</td>" in page
    figures.assign_plug_in_colours(["sgd", "acktr", "lion", "diag-ng"])
    known = {figures.colour(name) for name in figures.KNOWN_OPTIMIZERS}
    assert len({figures.colour("lion"), figures.colour("diag-ng")} - known) == 2


@pytest.mark.parametrize("env_id", ["CartPole-v1", "InvertedPendulum-v5"])
def test_diag_ng_takes_the_fisher_diagonal_from_every_transition(example_installed, env_id):
    """Its vectorized per-transition Fisher diagonal equals an explicit loop over the batch, for a
    categorical and a Gaussian policy."""
    config = resolve_config(env_id, "diag-ng", 1000, device="cpu")
    with make_env(env_id, 1, seed=0) as env:
        spaces = env.observation_space, env.action_space
    torch.manual_seed(0)
    model = build_actor_critic(*spaces, config.domain, config.net)
    obs = torch.randn(12, spaces[0].shape[0])
    objective = synthetic_objective(model, obs)
    optimizer = optimizer_entry("diag-ng").build(model, config.optimizer, config.total_updates)
    objective.evaluate()
    values = objective.outputs[1].detach()
    torch.manual_seed(5)
    diagonal = optimizer._fisher_diagonal(objective, values)
    torch.manual_seed(5)
    targets = values + torch.randn_like(values)
    params = dict(model.named_parameters())
    squares = [torch.zeros_like(p) for p in params.values()]
    for b in range(len(values)):
        dist, value = functional_call(model, params, (obs[b : b + 1],))
        nll = -dist.log_prob(objective.actions[b : b + 1]).sum() + 0.5 * (targets[b] - value).pow(2).sum()
        for square, g in zip(squares, torch.autograd.grad(nll, list(params.values())), strict=True):
            square += g.pow(2) / len(values)
    for ours, brute in zip(diagonal, squares, strict=True):
        torch.testing.assert_close(ours, brute, rtol=1e-5, atol=1e-7)


def _user_forward(model, objective):
    """A training loop's own forward on the batch of ``objective``, as a user writes it."""

    def forward() -> Forward:
        dist, values = model(objective.obs)
        log_probs = dist.log_prob(objective.actions)
        ratio = torch.exp(log_probs - objective.old_log_probs)
        loss = (
            -(ratio * objective.advantages).mean()
            - objective.entropy_coef * dist.entropy().mean()
            + objective.value_coef * (objective.returns - values).pow(2).mean()
        )
        return Forward(loss, dist, log_probs, values)

    return forward


@pytest.mark.parametrize(
    ("env_id", "name"), [("CartPole-v1", "acktr"), ("InvertedPendulum-v5", "acktr"), ("CartPole-v1", "kfac")]
)
def test_our_step_in_an_outside_loop_equals_the_harness_step(env_id, name):
    """make_optimizer over a copy of the net, stepped on the user's own forward, moves the net
    exactly as the harness's optimizer does, through the cold start into K-FAC steps (and on
    MuJoCo with the separate critic)."""
    config = resolve_config(env_id, name, 100_000, device="cpu")
    with make_env(env_id, 1, seed=0) as env:
        spaces = env.observation_space, env.action_space
    torch.manual_seed(0)
    ours = build_actor_critic(*spaces, config.domain, config.net)
    theirs = copy.deepcopy(ours)
    harness = optimizer_entry(name).build(ours, config.optimizer, config.total_updates)
    outside = make_optimizer(theirs, name, config.domain, config.total_updates)
    for update in range(config.optimizer.cold_start + 4):
        obs = torch.randn(40, spaces[0].shape[0])
        batch = synthetic_objective(ours, obs, seed=update)
        torch.manual_seed(100 + update)
        harness_stats = harness.step(batch)
        torch.manual_seed(100 + update)
        outside_stats = outside.step(Objective(_user_forward(theirs, batch)))
        assert harness_stats.keys() == outside_stats.keys()
    assert harness_stats["cold_start"] == 0.0 and harness_stats["step_scale"] > 0
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.equal(a, b)


def test_make_optimizer_refuses_bad_input_in_one_line():
    net = torch.nn.Linear(3, 2)
    with pytest.raises(ConfigError, match="unknown setting 'kl_clipp' of optimizer 'acktr'; accepted: lr,"):
        make_optimizer(net, "acktr", kl_clipp=0.1)
    with pytest.raises(ConfigError, match="bad domain 'robots' for optimizer 'acktr'; accepted: atari"):
        make_optimizer(net, "acktr", domain="robots")
    with pytest.raises(ConfigError, match="bad value -1.0 for acktr.kl_clip: expected a number ≥ 0"):
        make_optimizer(net, "acktr", kl_clip=-1.0)


def test_the_outside_loop_example_runs(tmp_path):
    """examples/own_loop_acktr.py, a few updates: it trains and prints its final mean return."""
    example = Path(__file__).parents[1] / "examples" / "own_loop_acktr.py"
    done = subprocess.run(
        [sys.executable, str(example), "--seed", "0", "--steps", "3200"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"final: mean return of the last 100 episodes \d+\.\d", done.stdout.splitlines()[-1])


def test_a_plug_in_that_does_not_load_is_refused_by_name_and_takes_no_other_down(
    cli, tmp_path, example_installed
):
    """An installed distribution whose entry point names a module that is not there."""
    dist_info = tmp_path / "site" / "broken_optimizers-0.2.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-optimizers\nVersion: 0.2\n")
    (dist_info / "entry_points.txt").write_text("[acktr_bench.optimizers]\nbroken = not_a_module:Thing\n")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    listed = subprocess.run(
        [cli.executable, "list"], capture_output=True, text=True, env=environment, check=True
    )
    refused = "optimizer 'broken' (entry point of broken-optimizers 0.2, not_a_module:Thing) does not load"
    assert f"refused: {refused}: ModuleNotFoundError" in listed.stdout
    assert "  lion " in listed.stdout and "  diag-ng " in listed.stdout
    args = cli.train_args("CartPole-v1", "broken", 100, 0, tmp_path / "run")
    done = subprocess.run([cli.executable, *args], capture_output=True, text=True, env=environment)
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"acktr-bench: error: {refused}: ModuleNotFoundError: No module named 'not_a_module'"
    ]
