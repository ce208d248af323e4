"""Normalized scores, so that tasks of different scales can be aggregated: 0 is a uniformly random
policy, 1 the task's reference level.

- **Atari**: human-normalized, (R − R_random) / (R_human − R_random), with the standard published
  random and human scores of the 57 games (Mnih et al. 2015; van Hasselt et al. 2016; the table
  of DQN Zoo, Quan & Ostrovski 2020).
- **Classic control and MuJoCo**: (R − R_random) / (R_target − R_random), with R_random the mean
  raw return of a uniformly random policy over 100 episodes, measured by
  :mod:`bench.report.random_scores`, and R_target the return at which Gymnasium's registry
  counts the task as solved (``spec.reward_threshold``). Walker2d-v5 has none; its target is
  D4RL's expert score, 4592.3 (Fu et al. 2020).

The reference level is also each task's default threshold for "env steps to threshold".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache

import gymnasium as gym

from bench.report.random_scores import PATH as RANDOM_SCORES_PATH

# game: (random, human), raw game scores.
ATARI_RANDOM_HUMAN = {
    "Alien": (227.8, 7127.7),
    "Amidar": (5.8, 1719.5),
    "Assault": (222.4, 742.0),
    "Asterix": (210.0, 8503.3),
    "Asteroids": (719.1, 47388.7),
    "Atlantis": (12850.0, 29028.1),
    "BankHeist": (14.2, 753.1),
    "BattleZone": (2360.0, 37187.5),
    "BeamRider": (363.9, 16926.5),
    "Berzerk": (123.7, 2630.4),
    "Bowling": (23.1, 160.7),
    "Boxing": (0.1, 12.1),
    "Breakout": (1.7, 30.5),
    "Centipede": (2090.9, 12017.0),
    "ChopperCommand": (811.0, 7387.8),
    "CrazyClimber": (10780.5, 35829.4),
    "Defender": (2874.5, 18688.9),
    "DemonAttack": (152.1, 1971.0),
    "DoubleDunk": (-18.6, -16.4),
    "Enduro": (0.0, 860.5),
    "FishingDerby": (-91.7, -38.7),
    "Freeway": (0.0, 29.6),
    "Frostbite": (65.2, 4334.7),
    "Gopher": (257.6, 2412.5),
    "Gravitar": (173.0, 3351.4),
    "Hero": (1027.0, 30826.4),
    "IceHockey": (-11.2, 0.9),
    "Jamesbond": (29.0, 302.8),
    "Kangaroo": (52.0, 3035.0),
    "Krull": (1598.0, 2665.5),
    "KungFuMaster": (258.5, 22736.3),
    "MontezumaRevenge": (0.0, 4753.3),
    "MsPacman": (307.3, 6951.6),
    "NameThisGame": (2292.3, 8049.0),
    "Phoenix": (761.4, 7242.6),
    "Pitfall": (-229.4, 6463.7),
    "Pong": (-20.7, 14.6),
    "PrivateEye": (24.9, 69571.3),
    "Qbert": (163.9, 13455.0),
    "Riverraid": (1338.5, 17118.0),
    "RoadRunner": (11.5, 7845.0),
    "Robotank": (2.2, 11.9),
    "Seaquest": (68.4, 42054.7),
    "Skiing": (-17098.1, -4336.9),
    "Solaris": (1236.3, 12326.7),
    "SpaceInvaders": (148.0, 1668.7),
    "StarGunner": (664.0, 10250.0),
    "Surround": (-10.0, 6.5),
    "Tennis": (-23.8, -8.3),
    "TimePilot": (3568.0, 5229.2),
    "Tutankham": (11.4, 167.6),
    "UpNDown": (533.4, 11693.2),
    "Venture": (0.0, 1187.5),
    "VideoPinball": (16256.9, 17667.9),
    "WizardOfWor": (563.5, 4756.5),
    "YarsRevenge": (3092.9, 54576.9),
    "Zaxxon": (32.5, 9173.3),
}
TARGETS_WITHOUT_THRESHOLD = {"Walker2d-v5": (4592.3, "D4RL expert score (Fu et al. 2020)")}
LEARNED = 0.05
"""The normalized score a level must reach to count as learned: 5 % of the way from the random
policy to the reference level. Ratios, P(X > Y) and aggregates measured below it compare policies
that learned nothing, and the report withholds them."""
LEARNED_MEANING = f"{LEARNED:.0%} of the way from the random policy to the reference level"


@dataclass(frozen=True)
class Reference:
    """A task's score scale: ``random`` maps to 0, ``target`` to 1; the sources say where each is from."""

    random: float
    target: float
    random_source: str
    target_source: str

    @property
    def source(self) -> str:
        return f"{self.random_source} and {self.target_source}"

    def normalize(self, score: float) -> float:
        return (score - self.random) / (self.target - self.random)

    @property
    def learned_level(self) -> float:
        """The raw return at the normalized score :data:`LEARNED`."""
        return self.random + LEARNED * (self.target - self.random)


def atari_game(env_id: str) -> str | None:
    """``ALE/Pong-v5`` and ``PongNoFrameskip-v4`` → ``Pong``; None for an id that names no game."""
    match = re.fullmatch(r"ALE/(\w+)-v\d+|(\w+?)(?:NoFrameskip)?-v\d+", env_id)
    game = match and (match.group(1) or match.group(2))
    return game if game in ATARI_RANDOM_HUMAN else None


@cache
def _random_scores() -> dict[str, float]:
    data = json.loads(RANDOM_SCORES_PATH.read_text())
    return {env_id: entry["mean"] for env_id, entry in data["scores"].items()}


def reference(env_id: str) -> Reference | None:
    """The task's score scale, or None when it has none (the task is left out of normalized
    aggregates)."""
    game = atari_game(env_id)
    if game is not None:
        random, human = ATARI_RANDOM_HUMAN[game]
        source = "(DQN Zoo's table, after Mnih et al. 2015 and van Hasselt et al. 2016)"
        return Reference(random, human, f"random-agent score {source}", f"human score {source}")
    random = _random_scores().get(env_id)
    if random is None:
        return None
    if env_id in TARGETS_WITHOUT_THRESHOLD:
        target, source = TARGETS_WITHOUT_THRESHOLD[env_id]
    else:
        target, source = gym.spec(env_id).reward_threshold, "Gymnasium reward_threshold"
    return Reference(random, target, "random policy (measured, 100 episodes)", source)
