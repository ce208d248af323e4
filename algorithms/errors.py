"""The one error type for bad input: a setting, an id or a name that is not accepted, and the hint
that names the accepted value closest to a mistyped one."""

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """A bad setting; the message is one line naming the value and what is accepted."""


def did_you_mean(name: str, accepted: Iterable[str], cutoff: float = 0.7) -> str:
    """`` (did you mean 'X'?)`` naming the accepted value closest to ``name`` (difflib's ratio at
    least ``cutoff``), or an empty string when none is that close."""
    close = difflib.get_close_matches(name, list(accepted), n=1, cutoff=cutoff)
    return f" (did you mean {close[0]!r}?)" if close else ""
