"""The science of acktr-bench: environments, nets, the actor-critic harness and the optimizers.

Nothing here reads or writes suites, result files or reports.
"""

from algorithms.config import RunConfig
from algorithms.envs import make_env
from algorithms.errors import ConfigError
from algorithms.optim import OPTIMIZERS
from algorithms.presets import resolve_config
from algorithms.training import TrainResult, train

__all__ = ["OPTIMIZERS", "ConfigError", "RunConfig", "TrainResult", "make_env", "resolve_config", "train"]
