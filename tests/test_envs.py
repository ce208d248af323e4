"""Real environments: raw vs clipped Atari rewards, life-loss cuts, truncation, obs normalization."""

import numpy as np
import pytest

from algorithms.config import EnvConfig
from algorithms.envs import ObsNormalizer, RunningMoments, env_domain, make_env
from algorithms.errors import ConfigError


def random_actions(env, steps, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, env.action_space.n, env.num_envs) for _ in range(steps)]


def play(env, actions):
    env.reset()
    return [env.step(a) for a in actions]


def test_atari_trains_on_clipped_rewards_and_logs_raw_game_scores():
    # SpaceInvaders scores 5–30 points per invader; 600 frames truncate games quickly.
    config = dict(max_episode_frames=600)
    with make_env("ALE/SpaceInvaders-v5", 2, seed=3, config=EnvConfig(**config)) as clipped:
        actions = random_actions(clipped, 200)
        clipped_steps = play(clipped, actions)
        episodes = clipped.pop_episodes()
    with make_env("ALE/SpaceInvaders-v5", 2, seed=3, config=EnvConfig(clip_rewards=False, **config)) as raw:
        raw_steps = play(raw, actions)
    clipped_rewards = np.stack([s.reward for s in clipped_steps])
    raw_rewards = np.stack([s.reward for s in raw_steps])
    assert set(np.unique(clipped_rewards)) <= {-1.0, 0.0, 1.0}
    assert raw_rewards.max() > 1.0
    assert np.array_equal(np.sign(raw_rewards), clipped_rewards)
    # The first episode of env 0 is the raw sum up to its first game end.
    game_over = np.stack([s.terminated | s.truncated for s in raw_steps])[:, 0]
    end = int(np.flatnonzero(game_over)[0])
    first_env0 = next(e for e in episodes if e.length == end + 1)
    assert first_env0.raw_return == pytest.approx(raw_rewards[: end + 1, 0].sum())
    assert first_env0.raw_return > 1.0


def test_atari_life_loss_cuts_the_bootstrap_but_the_game_goes_on():
    with make_env("ALE/Breakout-v5", 1, seed=0) as env:
        env.reset()
        rng = np.random.default_rng(0)
        for _ in range(5000):
            step = env.step(rng.integers(0, 4, 1))
            if step.terminated[0]:
                break
        assert step.terminated[0], "no life was lost in 5000 steps"
        assert env.pop_episodes() == []  # Breakout has 5 lives: the game is not over
    with make_env("ALE/Breakout-v5", 1, seed=0, config=EnvConfig(episodic_life=False)) as env:
        env.reset()
        rng = np.random.default_rng(0)
        cuts = [env.step(rng.integers(0, 4, 1)).terminated[0] for _ in range(5000)]
        finished = env.pop_episodes()
        assert sum(cuts) == len(finished)  # without episodic life, only game overs cut


def test_atari_truncation_returns_the_final_observation():
    with make_env("ALE/Pong-v5", 2, seed=0, config=EnvConfig(max_episode_frames=200)) as env:
        steps = play(env, random_actions(env, 60))
    truncated = [s for s in steps if s.truncated.any()]
    assert truncated, "200 frames should truncate within 60 agent steps"
    first = truncated[0]
    assert first.final_obs is not None and first.final_obs.shape == (2, 4, 84, 84)
    assert not first.terminated.any()


def test_gym_truncation_bootstraps_and_termination_does_not():
    with make_env("Pendulum-v1", 3, seed=0) as env:
        env.reset()
        steps = [env.step(np.zeros((3, 1), np.float32)) for _ in range(200)]
    assert all(not s.truncated.any() for s in steps[:-1])
    last = steps[-1]
    assert last.truncated.all() and not last.terminated.any()
    assert last.final_obs.shape == (3, 3) and not np.allclose(last.final_obs, last.obs)
    assert len(env.pop_episodes()) == 3


def test_running_moments_match_the_batch_statistics():
    rng = np.random.default_rng(0)
    batches = [rng.normal(3.0, 2.0, size=(n, 4)) for n in (5, 17, 1, 40)]
    moments = RunningMoments((4,))
    for batch in batches:
        moments.update(batch)
    everything = np.concatenate(batches)
    # the prior (mean 0, variance 1, count 1e-4) weighs 1e-4 of 63 samples
    assert np.allclose(moments.mean, everything.mean(0), rtol=1e-4)
    assert np.allclose(moments.var, everything.var(0), rtol=1e-4)
    normalizer = ObsNormalizer((4,), clip=100.0)
    normalizer.moments = moments
    assert np.allclose(normalizer(everything, update=False).mean(0), 0.0, atol=1e-4)


def test_mujoco_normalizes_observations_and_saves_the_statistics():
    with make_env("HalfCheetah-v5", 2, seed=0, config=EnvConfig(normalize_obs=True, obs_clip=5.0)) as env:
        env.reset()
        rng = np.random.default_rng(0)
        obs = [env.step(rng.uniform(-1, 1, (2, 6)).astype(np.float32)).obs for _ in range(300)]
        state = env.state_dict()["obs_normalizer"]
    obs = np.stack(obs)
    assert obs.dtype == np.float32 and np.abs(obs).max() <= 5.0
    assert len(state["mean"]) == 17 and state["count"] > 600


@pytest.mark.parametrize("env_id", ["ALE/Pong-v5", "CartPole-v1"])
def test_same_seed_same_observations(env_id):
    def trajectory():
        with make_env(env_id, 2, seed=7) as env:
            return np.stack([s.obs for s in play(env, random_actions(env, 50))])

    assert np.array_equal(trajectory(), trajectory())


def test_normalization_matches_stable_baselines3_vecnormalize_on_the_same_stream():
    """Our MuJoCo env and the RL Zoo's set-up (SB3's ``make_vec_env`` and ``VecNormalize`` with its
    defaults) on the same seeds and actions give the same normalized observations and rewards,
    across episode ends (Hopper falls within a few dozen random steps)."""
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    num_envs, seed = 3, 11
    config = EnvConfig(normalize_obs=True, normalize_reward=True)
    theirs = VecNormalize(make_vec_env("Hopper-v5", n_envs=num_envs, seed=seed))
    rng = np.random.default_rng(0)
    ended = 0
    with make_env("Hopper-v5", num_envs, seed, config, gamma=theirs.gamma) as ours:
        assert (config.obs_clip, config.reward_clip) == (theirs.clip_obs, theirs.clip_reward)
        np.testing.assert_allclose(ours.reset(), theirs.reset(), rtol=1e-5, atol=1e-6)
        for _ in range(300):
            actions = rng.uniform(-1, 1, (num_envs, 3)).astype(np.float32)
            step = ours.step(actions)
            obs, reward, done, _ = theirs.step(actions)
            np.testing.assert_array_equal(step.terminated | step.truncated, done)
            np.testing.assert_allclose(step.obs, obs, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(step.reward, reward, rtol=1e-5, atol=1e-7)
            ended += int(done.sum())
        state = ours.state_dict()["reward_normalizer"]
    theirs.close()
    assert ended > 5
    assert np.isclose(state["var"], theirs.ret_rms.var) and np.isclose(state["count"], theirs.ret_rms.count)


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("Hopper-v9", "Hopper-v5"),
        ("Hopper-v4", "Hopper-v5"),
        ("CartPol-v1", "CartPole-v1"),
        ("ALE/Pnog-v5", "ALE/Pong-v5"),
    ],
)
def test_a_mistyped_env_id_is_refused_with_the_closest_supported_one(typed, meant):
    with pytest.raises(ConfigError, match=f"{typed!r} \\(did you mean {meant!r}\\?\\); supported: "):
        env_domain(typed)


def test_an_env_id_like_no_supported_one_gets_no_suggestion():
    with pytest.raises(ConfigError) as error:
        env_domain("Foo-v0")
    assert "did you mean" not in str(error.value) and "MountainCarContinuous-v0" in str(error.value)
