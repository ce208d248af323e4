"""The complete state of one Gymnasium env (classic control, MuJoCo), to continue it exactly.

A Gymnasium env is a chain of wrappers around the task; their attributes hold everything a step
depends on (the time limit's step count, the task's state and its ``np_random``), except in a
MuJoCo task, whose physics lives in MuJoCo's ``MjData``. A snapshot is a deep copy of every
layer's attributes but that physics, plus MuJoCo's full integration state (``mj_getState`` with
``mjSTATE_INTEGRATION``: time, positions, velocities, actuator activations, controls, warm
start), so an episode in flight continues, after :func:`restore`, with the very numbers it would
have had. Models, renderers and the inner env of a wrapper are not state: they are kept.
"""

from __future__ import annotations

import copy
from typing import Any

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

_NOT_STATE = frozenset({"env", "model", "data", "mujoco_renderer"})
"""Attributes that hold structure (the wrapped env, MuJoCo's model and data, the renderer)."""
_PHYSICS = mujoco.mjtState.mjSTATE_INTEGRATION


def _layers(env: gym.Env) -> list[gym.Env]:
    """``env``'s wrappers from the outside in, then the task itself."""
    layers = [env]
    while isinstance(layers[-1], gym.Wrapper):
        layers.append(layers[-1].env)
    return layers


def snapshot(env: gym.Env) -> dict[str, Any]:
    """Everything ``env``'s next steps depend on, copied (later steps do not change it)."""
    layers = [{k: v for k, v in vars(layer).items() if k not in _NOT_STATE} for layer in _layers(env)]
    state: dict[str, Any] = {"layers": copy.deepcopy(layers)}
    task = env.unwrapped
    if isinstance(task, MujocoEnv):
        physics = np.empty(mujoco.mj_stateSize(task.model, _PHYSICS))
        mujoco.mj_getState(task.model, task.data, physics, _PHYSICS)
        state["physics"] = physics
    return state


def restore(env: gym.Env, state: dict[str, Any]) -> None:
    """Put ``env`` (made like the snapshot's env) back into the :func:`snapshot` ``state``."""
    layers = _layers(env)
    if len(layers) != len(state["layers"]):
        raise ValueError(f"the snapshot has {len(state['layers'])} env layers, this env {len(layers)}")
    for layer, attributes in zip(layers, copy.deepcopy(state["layers"]), strict=True):
        vars(layer).update(attributes)
    task = env.unwrapped
    if isinstance(task, MujocoEnv):
        mujoco.mj_setState(task.model, task.data, state["physics"], _PHYSICS)
