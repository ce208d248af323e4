"""Run configuration: typed sections, domain presets, and ``key=value`` overrides.

A run is fully described by :class:`RunConfig`. Values are resolved in this order:
section defaults, the domain preset (Atari, MuJoCo, classic control), the
optimizer's preset for that domain, then the user's overrides. Every layer goes
through :func:`apply_override`, so a bad key or value is reported the same way
wherever it comes from.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from algorithms.errors import ConfigError


def require_positive(key: str, value: int) -> None:
    """Raise :class:`ConfigError` naming ``key`` unless ``value`` is a positive integer."""
    if value <= 0:
        raise ConfigError(f"bad value {value!r} for {key}: expected a positive integer")


DEFAULT_MAX_PARAMS = 20_000
"""Largest net (trainable parameters) whose dense P×P Fisher is built by default."""


def choices(*values: str) -> dict[str, tuple[str, ...]]:
    """Field metadata: the setting takes one of ``values``."""
    return {"choices": values}


def accepts(is_valid: Callable[[Any], bool], accepted: str) -> dict[str, tuple[Callable[[Any], bool], str]]:
    """Field metadata: :func:`validate` refuses a value for which ``is_valid`` is false, saying
    that ``accepted`` is what the setting takes."""
    return {"check": (is_valid, accepted)}


POSITIVE = accepts(lambda value: value > 0, "a positive number")
NON_NEGATIVE = accepts(lambda value: value >= 0, "a number ≥ 0")
FRACTION = accepts(lambda value: 0.0 <= value <= 1.0, "a number in [0, 1]")


@dataclass
class EnvConfig:
    """How observations, rewards and episode ends are presented to the agent."""

    protocol: str = field(default="paper", metadata=choices("paper", "v5"))
    """Atari: ``paper`` = Wu et al. 2017 / DQN (no sticky actions, up to 30 no-op starts);
    ``v5`` = ALE v5 (sticky actions 0.25, no no-op starts; Machado et al. 2018)."""
    episodic_life: bool = True
    """Atari: a lost life cuts the bootstrap during training; the game itself continues."""
    clip_rewards: bool = True
    """Atari: train on sign(reward). Logged episode returns are always raw game scores."""
    max_episode_frames: int = field(default=108_000, metadata=POSITIVE)
    """Atari: game truncation in emulator frames (30 minutes at 60 Hz)."""
    normalize_obs: bool = False
    """Running mean/std observation normalization (the MuJoCo preset turns it on)."""
    obs_clip: float = field(default=10.0, metadata=POSITIVE)
    """Normalized observations are clipped to [-obs_clip, obs_clip]."""
    normalize_reward: bool = False
    """Training rewards divided by the running standard deviation of the discounted return
    (discount ``rollout.gamma``; the MuJoCo preset turns it on). Logged returns stay raw."""
    reward_clip: float = field(default=10.0, metadata=POSITIVE)
    """Normalized rewards are clipped to [-reward_clip, reward_clip]."""


@dataclass
class RolloutConfig:
    """Batch shape and return estimation; one update consumes num_envs × n_steps transitions."""

    num_envs: int = field(default=8, metadata=POSITIVE)
    n_steps: int = field(default=5, metadata=POSITIVE)
    gamma: float = field(default=0.99, metadata=FRACTION)
    gae_lambda: float = field(default=1.0, metadata=FRACTION)
    """1.0 gives plain n-step returns (A2C); < 1 gives GAE(λ)."""


@dataclass
class LossConfig:
    """Weights of the actor-critic loss: pg − entropy_coef·entropy + value_coef·value_loss."""

    value_coef: float = field(default=0.5, metadata=NON_NEGATIVE)
    entropy_coef: float = field(default=0.0, metadata=NON_NEGATIVE)


@dataclass
class NetConfig:
    """Network shape. Atari always uses the Nature CNN; these fields shape the MLPs."""

    hidden: tuple[int, ...] = (64, 64)
    activation: str = field(default="tanh", metadata=choices("tanh", "relu", "elu"))
    log_std_init: float = 0.0
    """Initial log σ of the diagonal-Gaussian policy (state-independent)."""


@dataclass
class DiagnosticsConfig:
    """Opt-in measurements logged beside the optimizer's stats (small nets only)."""

    fidelity_every: int = field(default=0, metadata=NON_NEGATIVE)
    """> 0: every that many updates, how far K-FAC's curvature is from the exact Fisher on the
    update's batch (``algorithms.fidelity``); 0: never."""
    fidelity_damping: float = field(default=0.01, metadata=NON_NEGATIVE)
    """λ of the two directions (F + λI)⁻¹∇ whose cosine is logged."""
    max_params: int = field(default=DEFAULT_MAX_PARAMS, metadata=POSITIVE)
    """Largest net (trainable parameters) whose exact Fisher the diagnostics build."""


RETURN_WINDOW = 100
"""``return_mean`` averages the raw returns of the last this-many finished episodes."""


@dataclass
class StopConfig:
    """When a run ends before its step budget (as ``done``)."""

    return_mean: float = math.nan
    """Stop once the mean raw return of the last ``window`` finished episodes (``window`` of them at
    least) reaches this; NaN: never."""
    window: int = field(
        default=RETURN_WINDOW,
        metadata=accepts(lambda value: 1 <= value <= RETURN_WINDOW, f"an integer in [1, {RETURN_WINDOW}]"),
    )
    """Episodes in that mean, at most ``RETURN_WINDOW``. With the window of
    ``bench.results.steps_to_threshold``, a run stops at the first update at or after the step
    that function finds."""


@dataclass
class CheckpointConfig:
    """When a run saves its learning state into its run directory (to resume it; it does not
    change the training)."""

    every_s: float = field(default=300.0, metadata=NON_NEGATIVE)
    """Seconds of wall time between checkpoints, the last one also written when a stop signal
    (SIGTERM, SIGINT) ends the run; 0: no checkpoints at all."""


@dataclass
class LogConfig:
    """How densely a run's ``progress.csv`` samples its updates (it does not change the training).
    ``episodes.csv`` always keeps every episode."""

    rows: int = field(default=1000, metadata=NON_NEGATIVE)
    """About this many progress rows over the step budget: a row at the first update at or after
    each multiple of ``steps / rows`` env steps, at every update that measures fidelity, and at
    the run's last update; 0: a row at every update."""


SECTIONS = ("env", "rollout", "loss", "net", "optimizer", "diagnostics", "stop", "checkpoint", "log")


@dataclass
class RunConfig:
    """Everything that determines one training run."""

    env_id: str
    optimizer_name: str
    steps: int
    seed: int
    device: str
    domain: str
    env: EnvConfig
    rollout: RolloutConfig
    loss: LossConfig
    net: NetConfig
    optimizer: Any
    """The optimizer's own config dataclass (see ``algorithms.optim``)."""
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)

    @property
    def batch_size(self) -> int:
        return self.rollout.num_envs * self.rollout.n_steps

    @property
    def total_updates(self) -> int:
        return math.ceil(self.steps / self.batch_size)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the optimizer section carries its registry name."""
        out = {
            "env_id": self.env_id,
            "steps": self.steps,
            "seed": self.seed,
            "device": self.device,
            "domain": self.domain,
        }
        for name in SECTIONS:
            section = dataclasses.asdict(getattr(self, name))
            out[name] = {"name": self.optimizer_name, **section} if name == "optimizer" else section
        return out


def setting_names(config: RunConfig) -> list[str]:
    """All keys accepted by :func:`apply_override`, e.g. ``rollout.n_steps``."""
    return [f"{s}.{f.name}" for s in SECTIONS for f in dataclasses.fields(getattr(config, s))]


def apply_override(config: RunConfig, key: str, value: Any) -> None:
    """Set ``section.field`` to ``value`` (a string from the command line, or a typed value).

    Raises :class:`ConfigError` with a one-line message for an unknown key, a value
    of the wrong type, or a value outside the field's choices.
    """
    section_name, _, field_name = key.partition(".")
    section = getattr(config, section_name, None) if section_name in SECTIONS else None
    if section is None or field_name not in {f.name for f in dataclasses.fields(section)}:
        raise ConfigError(f"unknown setting {key!r}; accepted: {', '.join(setting_names(config))}")
    set_field(section, field_name, value, key)


def set_field(section: Any, name: str, value: Any, key: str) -> None:
    """Set the field ``name`` of the settings dataclass ``section`` to ``value`` (a string or a
    typed value), parsed to the field's type and checked against its choices; :class:`ConfigError`
    naming ``key`` for a value that is not accepted. Checks of ``accepts`` metadata are
    :func:`validate`'s and :func:`validate_section`'s."""
    spec = {f.name: f for f in dataclasses.fields(section)}[name]
    expected = typing.get_type_hints(type(section))[name]
    parsed = _coerce(key, value, expected)
    choices = spec.metadata.get("choices")
    if choices and parsed not in choices:
        raise ConfigError(f"bad value {parsed!r} for {key}: expected one of {', '.join(choices)}")
    setattr(section, name, parsed)


def parse_settings(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` texts (``--set``) as {dotted key: value text}, for :func:`apply_overrides`."""
    settings: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"bad --set {pair!r}: expected key=value, e.g. optimizer.lr=0.001")
        settings[key.strip()] = value
    return settings


def apply_overrides(config: RunConfig, overrides: Mapping[str, Any]) -> None:
    for key, value in overrides.items():
        apply_override(config, key, value)


def _coerce(key: str, value: Any, expected: Any) -> Any:
    if expected is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes", "on"):
            return True
        if text in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"bad value {value!r} for {key}: expected true or false")
    if expected in (int, float):
        kind = "an integer" if expected is int else "a number"
        if isinstance(value, bool):
            raise ConfigError(f"bad value {value!r} for {key}: expected {kind}")
        try:
            number = expected(value) if not isinstance(value, str) else expected(value.strip())
        except (TypeError, ValueError):
            raise ConfigError(f"bad value {value!r} for {key}: expected {kind}") from None
        if expected is int and isinstance(value, float) and number != value:
            raise ConfigError(f"bad value {value!r} for {key}: expected {kind}")
        if isinstance(number, float) and not math.isfinite(number):
            raise ConfigError(f"bad value {value!r} for {key}: expected a finite number")
        return number
    if expected is str:
        return str(value)
    if typing.get_origin(expected) is tuple:
        element = typing.get_args(expected)[0]
        kind = "integers" if element is int else "numbers"
        items = value.split(",") if isinstance(value, str) else list(value)
        try:
            parsed = tuple(element(str(item).strip()) for item in items if str(item).strip())
        except ValueError:
            parsed = ()
        if not parsed or min(parsed) <= 0:
            raise ConfigError(f"bad value {value!r} for {key}: expected positive {kind} separated by commas")
        return parsed
    raise TypeError(f"unsupported setting type {expected!r} for {key}")


def validate(config: RunConfig) -> None:
    """The checks of every setting's ``accepts`` metadata, and those across settings; raises
    :class:`ConfigError` naming the first bad value."""
    require_positive("steps", config.steps)
    for section_name in SECTIONS:
        validate_section(getattr(config, section_name), section_name)


def validate_section(section: Any, prefix: str) -> None:
    """The checks of the ``accepts`` metadata of every field of one settings dataclass, and those
    across its fields; :class:`ConfigError` naming ``prefix.field`` for the first bad value."""
    for spec in dataclasses.fields(section):
        is_valid, accepted = spec.metadata.get("check", (None, ""))
        value = getattr(section, spec.name)
        if is_valid is not None and not is_valid(value):
            raise ConfigError(f"bad value {value!r} for {prefix}.{spec.name}: expected {accepted}")
    damping_range = getattr(section, "damping_min", 0.0), getattr(section, "damping_max", 0.0)
    if damping_range[0] > damping_range[1]:
        raise ConfigError(
            f"bad value {damping_range[1]!r} for {prefix}.damping_max: expected ≥ {prefix}.damping_min"
        )
