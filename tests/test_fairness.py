"""Fair by construction: the curvature optimizers differ in the one axis a comparison names, and
``sgd`` is Stable-Baselines3's A2C (settings, optimizer step, reward normalization in test_envs)."""

import dataclasses
import itertools

import pytest
import torch

from algorithms.config import RETURN_WINDOW
from algorithms.envs import NORMALIZER_EPSILON, make_env
from algorithms.nets import build_actor_critic
from algorithms.optim import OPTIMIZERS, differing_axis, one_difference_pairs
from algorithms.optim.first_order import FirstOrder
from algorithms.optim.settings import SETTINGS, StepSettings, axis_keys
from algorithms.presets import resolve_config
from bench.config_diff import config_differences
from bench.synthetic import synthetic_objective

DOMAIN_TASKS = {"classic": "CartPole-v1", "mujoco": "Hopper-v5", "atari": "ALE/Pong-v5"}
CURVATURE_OPTIMIZERS = [name for name, entry in OPTIMIZERS.items() if entry.curvature is not None]
ONE_AXIS_PAIRS = [(a, b) for a, b, _ in one_difference_pairs()]


def test_the_curvature_optimizers_are_the_two_by_two():
    assert sorted(CURVATURE_OPTIMIZERS) == ["acktr", "kfac", "lm", "ng"]
    cells = {(OPTIMIZERS[name].curvature, OPTIMIZERS[name].damping) for name in CURVATURE_OPTIMIZERS}
    assert cells == set(SETTINGS) and len(cells) == 4
    assert one_difference_pairs() == [
        ("acktr", "ng", "curvature"),
        ("kfac", "lm", "curvature"),
        ("acktr", "kfac", "damping"),
        ("ng", "lm", "damping"),
    ]
    others = [(a, b) for a, b in itertools.combinations(CURVATURE_OPTIMIZERS, 2) if not differing_axis(a, b)]
    assert sorted(others) == [("acktr", "lm"), ("kfac", "ng")]  # both axes differ


@pytest.mark.parametrize("config_type", SETTINGS.values(), ids=lambda t: t.__name__)
def test_no_setting_is_defined_by_two_parts_of_a_config(config_type):
    """So that the order of a config's bases decides no default."""
    parts = [base for base in config_type.__bases__ if dataclasses.is_dataclass(base)]
    names = [f.name for part in parts for f in dataclasses.fields(part)]
    assert len(names) == len(set(names)) == len(dataclasses.fields(config_type))
    assert StepSettings in parts


def resolved(env_id, optimizer):
    return resolve_config(env_id, optimizer, 10_000, device="cpu").to_dict()


@pytest.mark.parametrize("domain", DOMAIN_TASKS)
@pytest.mark.parametrize(("a", "b"), ONE_AXIS_PAIRS, ids=[f"{a}-{b}" for a, b in ONE_AXIS_PAIRS])
def test_a_pair_differs_only_in_the_settings_of_its_one_axis(a, b, domain):
    if domain not in OPTIMIZERS[a].presets or domain not in OPTIMIZERS[b].presets:
        pytest.skip(f"{a} or {b} does not apply to {domain}")
    axis = differing_axis(a, b)
    differences = config_differences(resolved(DOMAIN_TASKS[domain], a), resolved(DOMAIN_TASKS[domain], b))
    assert differences, f"{a} and {b} resolve to the same config"
    outside = {key: values for key, values in differences.items() if key not in axis_keys(axis)}
    assert not outside, f"{a} and {b} differ in more than the {axis} on {domain}: {outside}"


@pytest.mark.parametrize("name", CURVATURE_OPTIMIZERS)
@pytest.mark.parametrize("domain", DOMAIN_TASKS)
def test_every_curvature_optimizer_steps_in_the_trust_region(name, domain):
    if domain not in OPTIMIZERS[name].presets:
        pytest.skip(f"{name} does not apply to {domain}")
    config = resolve_config(DOMAIN_TASKS[domain], name, 10_000, device="cpu")
    assert config.optimizer.kl_clip > 0
    assert config.optimizer.critic == ("separate" if domain == "mujoco" else "joint")


def stable_baselines3_a2c(env_id, num_envs):
    """A real Stable-Baselines3 A2C with its defaults, on the RL Zoo's env set-up."""
    from stable_baselines3 import A2C
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    env = make_vec_env(env_id, n_envs=num_envs, seed=0)
    if env_id.endswith("-v5"):
        env = VecNormalize(env)
    return A2C("MlpPolicy", env, seed=0, device="cpu")


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Hopper-v5"])
def test_sgd_has_every_setting_of_stable_baselines3_a2c(env_id):
    """Every hyperparameter SB3's A2C has (its constructor's, its policy's, its optimizer's and, on
    MuJoCo, VecNormalize's) equals ours, or is a feature we do not have and SB3 leaves off."""
    from bench.sb3_reference import default_hyperparameters

    ours = resolve_config(env_id, "sgd", 10_000, device="cpu")
    model = stable_baselines3_a2c(env_id, ours.rollout.num_envs)
    same = {
        "learning_rate": ours.optimizer.lr,
        "n_steps": ours.rollout.n_steps,
        "gamma": ours.rollout.gamma,
        "gae_lambda": ours.rollout.gae_lambda,
        "ent_coef": ours.loss.entropy_coef,
        "vf_coef": ours.loss.value_coef,
        "max_grad_norm": ours.optimizer.max_grad_norm,
        "rms_prop_eps": ours.optimizer.eps,
        "use_rms_prop": ours.optimizer.rule == "rmsprop",
        "normalize_advantage": False,  # we never normalize advantages
        "use_sde": False,  # nor explore with state-dependent noise (gSDE), so its sampling
        "sde_sample_freq": -1,  # frequency is SB3's "off" value
    }
    hyperparameters = default_hyperparameters("A2C")
    assert set(hyperparameters) == set(same), "SB3's A2C has a setting this test does not compare"
    assert hyperparameters == same
    assert model.get_env().num_envs == ours.rollout.num_envs
    assert model._stats_window_size == RETURN_WINDOW

    policy = model.policy
    assert policy.net_arch == {"pi": list(ours.net.hidden), "vf": list(ours.net.hidden)}
    assert policy.activation_fn.__name__.lower() == ours.net.activation
    assert policy.ortho_init and policy.log_std_init == ours.net.log_std_init  # our init is orthogonal

    with make_env(env_id, 1, 0) as env:
        net = build_actor_critic(env.observation_space, env.action_space, ours.domain, ours.net)
    inner = FirstOrder(net, ours.optimizer, ours.total_updates).inner
    assert type(inner) is type(policy.optimizer)
    compared = ("lr", "alpha", "eps", "momentum", "centered", "weight_decay")
    assert {k: inner.defaults[k] for k in compared} == {k: policy.optimizer.defaults[k] for k in compared}

    normalizer = model.get_vec_normalize_env()
    assert (normalizer is not None) == ours.env.normalize_obs == ours.env.normalize_reward
    if normalizer is not None:
        assert normalizer.norm_obs and normalizer.norm_reward
        assert (normalizer.clip_obs, normalizer.clip_reward) == (ours.env.obs_clip, ours.env.reward_clip)
        assert (normalizer.gamma, normalizer.epsilon) == (ours.rollout.gamma, NORMALIZER_EPSILON)


@pytest.mark.parametrize(("env_id", "rule"), [("CartPole-v1", "rmsprop"), ("ALE/Pong-v5", "rmsprop-tf")])
def test_one_sgd_update_equals_the_reference_optimizer_step(env_id, rule):
    """``rmsprop``: SB3's A2C optimizer (its class and arguments, read from a real A2C);
    ``rmsprop-tf``: SB3's RMSpropTFLike, as the RL Zoo's Atari A2C builds it. Each after the
    same gradient-norm clip, on the same gradients, for three updates."""
    from stable_baselines3.common.sb2_compat.rmsprop_tf_like import RMSpropTFLike

    config = resolve_config(env_id, "sgd", 10_000, device="cpu")
    assert config.optimizer.rule == rule
    with make_env(env_id, 2, 0, config.env) as env:
        spaces = env.observation_space, env.action_space
        obs = torch.as_tensor(env.reset())
    torch.manual_seed(0)
    ours = build_actor_critic(*spaces, config.domain, config.net)
    theirs = build_actor_critic(*spaces, config.domain, config.net)
    theirs.load_state_dict(ours.state_dict())
    if rule == "rmsprop":
        policy = stable_baselines3_a2c(env_id, 1).policy
        reference = policy.optimizer_class(
            theirs.parameters(), lr=config.optimizer.lr, **policy.optimizer_kwargs
        )
    else:
        reference = RMSpropTFLike(theirs.parameters(), lr=config.optimizer.lr, alpha=0.99, eps=1e-5)
    optimizer = FirstOrder(ours, config.optimizer, config.total_updates)
    start = [p.detach().clone() for p in ours.parameters()]
    for seed in range(3):
        torch.manual_seed(seed)  # the same sampled actions for both
        optimizer.step(synthetic_objective(ours, obs, seed))
        torch.manual_seed(seed)
        loss, _ = synthetic_objective(theirs, obs, seed).evaluate()
        reference.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), config.optimizer.max_grad_norm)
        reference.step()
    # the same arithmetic up to the order of float32 operations (fused or per tensor)
    for mine, reference_param in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(mine, reference_param, rtol=1e-5, atol=1e-6)
    moved = max(float((p - s).abs().max()) for p, s in zip(ours.parameters(), start, strict=True))
    assert moved > 10 * 1e-6  # well beyond the tolerance
