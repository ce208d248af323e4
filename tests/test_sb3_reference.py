"""The Stable-Baselines3 reference runs (sb3-a2c, sb3-ppo): real SB3 training through the CLI,
written in the public run-directory schema."""

import inspect

import pandas as pd
import pytest
import stable_baselines3

from bench.results import REQUIRED_PROGRESS_COLUMNS, is_wall_clock_column, read_run
from bench.sb3_reference import resolve_reference, train_reference


def train_reference_cli(cli, env_id, optimizer, steps, seed, out, *extra):
    args = ["--env", env_id, "--optimizer", optimizer, "--steps", str(steps), "--seed", str(seed)]
    return cli("train", *args, "--device", "cpu", "--out", str(out), *extra)


@pytest.mark.parametrize(
    ("env_id", "optimizer", "steps", "batch", "num_envs"),
    [("CartPole-v1", "sb3-a2c", 400, 40, 8), ("InvertedPendulum-v5", "sb3-ppo", 4096, 2048, 1)],
)
def test_a_reference_run_writes_the_public_schema(
    cli, tmp_path, done_status, env_id, optimizer, steps, batch, num_envs
):
    out = tmp_path / "run"
    done = train_reference_cli(cli, env_id, optimizer, steps, 1, out)
    assert done.returncode == 0, done.stderr
    record = read_run(out)
    assert record.status == done_status(record, steps)
    assert set(REQUIRED_PROGRESS_COLUMNS) <= set(record.progress.columns)
    assert {"policy_loss", "value_loss", "entropy", "lr", "explained_variance"} <= set(record.progress)
    assert record.progress["env_steps"].tolist() == list(range(batch, steps + 1, batch))
    assert record.progress["updates"].tolist() == list(range(1, steps // batch + 1))
    assert record.progress["value_loss"].notna().all()
    assert len(record.episodes) == record.progress["episodes"].iloc[-1] > 0
    assert record.episodes["env_steps"].isin(record.progress["env_steps"]).all()

    config = record.config
    assert config["env_id"] == env_id and config["rollout"]["num_envs"] == num_envs
    assert config["env"]["normalize"] == (env_id == "InvertedPendulum-v5")
    algorithm = getattr(stable_baselines3, config["optimizer"]["algorithm"])
    defaults = inspect.signature(algorithm.__init__).parameters
    assert config["optimizer"]["name"] == optimizer
    for name in ("learning_rate", "n_steps", "gamma", "ent_coef", "vf_coef", "max_grad_norm"):
        assert config["optimizer"][name] == defaults[name].default
    assert config["provenance"]["versions"]["stable-baselines3"] == stable_baselines3.__version__


def test_the_same_seed_gives_the_same_reference_progress(cli, tmp_path):
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_reference_cli(cli, "CartPole-v1", "sb3-a2c", 1_000, seed, tmp_path / name)
    a, b, c = (pd.read_csv(tmp_path / name / "progress.csv") for name in "abc")
    deterministic = [column for column in a.columns if not is_wall_clock_column(column)]
    pd.testing.assert_frame_equal(a[deterministic], b[deterministic])
    assert (tmp_path / "a" / "episodes.csv").read_text() == (tmp_path / "b" / "episodes.csv").read_text()
    assert not a["value_loss"].equals(c["value_loss"])


def test_a_reference_run_with_a_non_finite_loss_is_diverged():
    """A learning rate of 1e30 makes the value loss infinite in a few updates; SB3 then fails on
    NaN logits, and the run ends ``diverged`` with the first non-finite loss named."""
    config = resolve_reference("CartPole-v1", "sb3-a2c", 4_000, device="cpu")
    config.hyperparameters |= {"learning_rate": 1e30, "max_grad_norm": 1e30}
    result = train_reference(config)
    assert result.state == "diverged" and "non-finite value_loss" in result.error
    assert result.updates < 4_000 // 40


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--env", "ALE/Pong-v5"),
            "optimizer 'sb3-ppo' does not apply to atari envs such as 'ALE/Pong-v5'; "
            "it applies to: classic, mujoco",
        ),
        (("--set", "optimizer.lr=1"), "settings do not apply to 'sb3-ppo'"),
        (
            ("--optimizer", "sb3-dqn"),
            # the installed plug-ins (tox installs the example's) come between ours and the references
            (
                "unknown optimizer 'sb3-dqn'; accepted: sgd, acktr, kfac, ng, lm, ",
                "sb3-a2c, sb3-ppo, or a torch",
            ),
        ),
    ],
)
def test_bad_reference_input_is_a_one_line_error(cli, tmp_path, args, message):
    base = {"--env": "CartPole-v1", "--optimizer": "sb3-ppo", "--steps": "10", "--out": str(tmp_path / "run")}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    done = cli("train", *[x for pair in base.items() for x in pair])
    fragments = (message,) if isinstance(message, str) else message
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert all(fragment in done.stderr for fragment in fragments), done.stderr
    assert not (tmp_path / "run").exists()
