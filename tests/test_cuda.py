"""On a CUDA device: the same curvature and the same updates as on the CPU, and real training runs.

Skipped where torch sees no CUDA device. Comparisons are in float64 with the closed-form
(exact) Fisher everywhere, so that both devices compute the same function without sampling.
"""

import copy

import gymnasium as gym
import pytest
import torch

from algorithms.config import NetConfig
from algorithms.curvature import exact_fisher, kfac_fisher
from algorithms.nets import SeparateActorCritic
from algorithms.objective import ActorCriticObjective
from algorithms.optim import OPTIMIZERS, build_optimizer
from algorithms.presets import resolve_config
from bench.results import read_run
from bench.synthetic import synthetic_objective

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

ACTION_SPACES = {"categorical": gym.spaces.Discrete(3), "gaussian": gym.spaces.Box(-1, 1, (2,))}


def cpu_and_cuda(action_space):
    """The same float64 actor-critic and synthetic objective, on the CPU and on CUDA."""
    torch.manual_seed(0)
    model = SeparateActorCritic(4, action_space, NetConfig(hidden=(8, 8))).double()
    obs = torch.randn(64, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    objective = synthetic_objective(model, obs)
    cuda_model = copy.deepcopy(model).cuda()
    cuda_objective = ActorCriticObjective(
        cuda_model,
        *(t.cuda() for t in (obs, objective.actions, objective.advantages, objective.returns)),
        old_log_probs=objective.old_log_probs.cuda(),
        value_coef=objective.value_coef,
        entropy_coef=objective.entropy_coef,
    )
    return (model, objective), (cuda_model, cuda_objective)


@pytest.mark.parametrize("head", sorted(ACTION_SPACES))
def test_curvature_matrices_match_the_cpu(head):
    (model, objective), (cuda_model, cuda_objective) = cpu_and_cuda(ACTION_SPACES[head])
    for fisher in (exact_fisher, kfac_fisher):
        expected = fisher(model, objective.obs)
        torch.testing.assert_close(
            fisher(cuda_model, cuda_objective.obs).cpu(), expected, rtol=1e-9, atol=1e-12
        )


def comparable_settings(name):
    """Settings under which ``name``'s first four updates take a cold start, refreshes and natural
    steps with the closed-form Fisher (K-FAC's default samples it)."""
    if name == "sgd":
        return {}
    settings = {"optimizer.cold_start": 1, "optimizer.refresh_every": 2}
    if name in ("acktr", "kfac"):
        settings["optimizer.fisher"] = "exact"
    if name == "acktr":
        settings["optimizer.critic"] = "joint"
    return settings


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("head", sorted(ACTION_SPACES))
def test_updates_match_the_cpu(name, head):
    env_id = "CartPole-v1" if head == "categorical" else "InvertedPendulum-v5"
    parameters = []
    for model, objective in cpu_and_cuda(ACTION_SPACES[head]):
        device = objective.obs.device.type
        config = resolve_config(env_id, name, 10**6, device=device, overrides=comparable_settings(name))
        optimizer = build_optimizer(name, model, config.optimizer, config.total_updates)
        for _ in range(4):
            assert optimizer.step(objective)["skipped"] == 0.0
        parameters.append(torch.cat([p.detach().reshape(-1).cpu() for p in model.parameters()]))
    torch.testing.assert_close(parameters[1], parameters[0], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize(
    ("env_id", "optimizer", "steps", "settings"),
    [
        ("CartPole-v1", "acktr", 2000, ["--set", "diagnostics.fidelity_every=4"]),
        ("InvertedPendulum-v5", "ng", 5000, []),
        ("ALE/Pong-v5", "acktr", 1280, []),
    ],
)
def test_training_runs_on_cuda(cli, tmp_path, env_id, optimizer, steps, settings):
    out = tmp_path / "run"
    args = ["--env", env_id, "--optimizer", optimizer, "--steps", str(steps), "--seed", "0", *settings]
    cli("train", *args, "--device", "cuda", "--out", str(out), check=True)
    record = read_run(out)
    assert record.status["state"] == "done" and record.config["device"] == "cuda"
    assert record.progress["loss"].notna().all() and (record.progress["skipped"] == 0).all()
    if settings:
        assert record.progress["fidelity_cosine"].notna().sum() == len(record.progress) // 4
