"""Which settings two runs' resolved configs (``config.json``) differ in.

A comparison "X over Y" means what it says only when X and Y differ in the thing compared; the
report prints these differences beside each comparison it shows, and the tests hold the
optimizer presets to them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

RECORDS = frozenset({"provenance", "resumes"})
"""What ``config.json`` records beside the config: where the run came from, when it was resumed."""
NOT_LEARNING = frozenset({"diagnostics", "checkpoint", "log"})
"""Settings that do not change the training: ``diagnostics`` only measure (from a fork of the
random state), ``checkpoint`` only saves, ``log`` only says which updates ``progress.csv`` keeps."""
NOT_COMPARED = RECORDS | NOT_LEARNING | {"seed", "steps", "device", "env_id", "optimizer.name"}
"""What differs between any two runs of a comparison by design, or does not change the training."""

ABSENT = "—"
"""The value shown for a setting one of the two configs does not have."""


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{dotted key: value}`` (lists as tuples, so that values compare)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = tuple(value) if isinstance(value, list) else value
    return flat


def config_differences(
    a: Mapping[str, Any], b: Mapping[str, Any], ignored: frozenset[str] = NOT_COMPARED
) -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (value in a, value in b)}`` for every setting that differs, but those
    ``ignored`` (dotted keys, or whole sections), :data:`ABSENT` standing for a setting one of them
    lacks; sorted by key."""
    flat_a, flat_b = flatten(a), flatten(b)
    keys = sorted((flat_a.keys() | flat_b.keys()) - ignored)
    return {
        key: (flat_a.get(key, ABSENT), flat_b.get(key, ABSENT))
        for key in keys
        if key.split(".")[0] not in ignored and not _same(flat_a.get(key, ABSENT), flat_b.get(key, ABSENT))
    }


def _same(a: Any, b: Any) -> bool:
    """Equal, counting NaN (an unset threshold such as ``stop.return_mean``) equal to NaN."""
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
