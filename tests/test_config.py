"""Config resolution, presets and one-line errors for bad ids and bad settings."""

import pytest

from algorithms.envs import env_domain
from algorithms.errors import ConfigError
from algorithms.presets import resolve_config


@pytest.mark.parametrize(
    ("env_id", "domain"),
    [
        ("ALE/Pong-v5", "atari"),
        ("PongNoFrameskip-v4", "atari"),
        ("ALE/SpaceInvaders-v5", "atari"),
        ("HalfCheetah-v5", "mujoco"),
        ("InvertedDoublePendulum-v5", "mujoco"),
        ("CartPole-v1", "classic"),
        ("Pendulum-v1", "classic"),
    ],
)
def test_env_domains(env_id, domain):
    assert env_domain(env_id) == domain


@pytest.mark.parametrize("env_id", ["Foo-v0", "HalfCheetah-v4", "ALE/NoSuchGame-v5", ""])
def test_unknown_env_is_a_one_line_error_naming_it(env_id):
    with pytest.raises(ConfigError) as error:
        env_domain(env_id)
    message = str(error.value)
    assert "\n" not in message and repr(env_id) in message and "CartPole-v1" in message


def test_presets_per_domain():
    atari = resolve_config("ALE/Pong-v5", "sgd", 1000, device="cpu")
    assert (atari.rollout.num_envs, atari.rollout.n_steps, atari.loss.entropy_coef) == (16, 5, 0.01)
    assert atari.optimizer.rule == "rmsprop-tf" and atari.optimizer.eps == 1e-5
    mujoco = resolve_config("HalfCheetah-v5", "sgd", 1000, device="cpu")
    assert mujoco.env.normalize_obs and mujoco.env.normalize_reward and mujoco.loss.entropy_coef == 0.0
    assert mujoco.optimizer.rule == "rmsprop"
    classic = resolve_config("CartPole-v1", "sgd", 1000, device="cpu")
    assert not classic.env.normalize_obs and not classic.env.normalize_reward


def test_overrides_beat_presets_and_are_typed():
    config = resolve_config(
        "ALE/Pong-v5",
        "sgd",
        1000,
        device="cpu",
        num_envs=4,
        overrides={"rollout.n_steps": "20", "net.hidden": "32,16", "optimizer.betas": "0.8,0.9"},
    )
    assert config.rollout.num_envs == 4 and config.rollout.n_steps == 20
    assert config.net.hidden == (32, 16) and config.optimizer.betas == (0.8, 0.9)
    assert config.batch_size == 80 and config.total_updates == 13


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"rollout.nsteps": "5"}, "unknown setting 'rollout.nsteps'; accepted:"),
        ({"optimizer.lr": "fast"}, "bad value 'fast' for optimizer.lr: expected a number"),
        ({"rollout.n_steps": "2.5"}, "bad value '2.5' for rollout.n_steps: expected an integer"),
        ({"env.normalize_obs": "maybe"}, "expected true or false"),
        ({"optimizer.rule": "lbfgs"}, "expected one of rmsprop, rmsprop-tf, sgd, momentum, adam"),
        ({"net.hidden": "64,x"}, "expected positive integers"),
        ({"rollout.gamma": "1.5"}, "bad value 1.5 for rollout.gamma: expected a number in [0, 1]"),
        ({"rollout.num_envs": "0"}, "bad value 0 for rollout.num_envs"),
        ({"optimizer.lr": "nan"}, "expected a finite number"),
        ({"loss.entropy_coef": "-0.1"}, "bad value -0.1 for loss.entropy_coef: expected a number ≥ 0"),
        ({"stop.window": "101"}, "bad value 101 for stop.window: expected an integer in [1, 100]"),
    ],
)
def test_bad_settings_are_one_line_errors(overrides, fragment):
    with pytest.raises(ConfigError) as error:
        resolve_config("CartPole-v1", "sgd", 1000, device="cpu", overrides=overrides)
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("optimizer", "overrides", "fragment"),
    [
        (
            "acktr",
            {"optimizer.stats_every": "0"},
            "bad value 0 for optimizer.stats_every: expected a positive",
        ),
        (
            "acktr",
            {"optimizer.momentum": "1"},
            "bad value 1.0 for optimizer.momentum: expected a number in [0, 1)",
        ),
        ("acktr", {"optimizer.fisher": "empirical"}, "expected one of sampled, exact"),
        ("acktr", {"optimizer.critic": "shared"}, "expected one of joint, separate"),
        (
            "kfac",
            {"optimizer.damping_max": "0.001"},
            "optimizer.damping_max: expected ≥ optimizer.damping_min",
        ),
        (
            "kfac",
            {"optimizer.kl_clip": "-0.01"},
            "bad value -0.01 for optimizer.kl_clip: expected a number ≥ 0",
        ),
        ("acktr", {"optimizer.lm_every": "5"}, "unknown setting 'optimizer.lm_every'"),
        ("lm", {"optimizer.fisher": "exact"}, "unknown setting 'optimizer.fisher'"),
        ("sgd", {"optimizer.alpha": "2"}, "bad value 2.0 for optimizer.alpha: expected a number in [0, 1]"),
    ],
)
def test_bad_optimizer_settings_are_one_line_errors(optimizer, overrides, fragment):
    with pytest.raises(ConfigError) as error:
        resolve_config("CartPole-v1", optimizer, 1000, device="cpu", overrides=overrides)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_unknown_optimizer_lists_the_registry():
    with pytest.raises(ConfigError, match=r"unknown optimizer 'adamw'; accepted: sgd, acktr, kfac"):
        resolve_config("CartPole-v1", "adamw", 1000, device="cpu")
    with pytest.raises(
        ConfigError, match=r"unknown optimizer 'acktrr' \(did you mean 'acktr'\?\); accepted: "
    ):
        resolve_config("CartPole-v1", "acktrr", 1000, device="cpu")


def test_bad_steps_and_device():
    with pytest.raises(ConfigError, match="for steps"):
        resolve_config("CartPole-v1", "sgd", 0, device="cpu")
    with pytest.raises(ConfigError, match="bad device 'tpu'"):
        resolve_config("CartPole-v1", "sgd", 10, device="tpu")
