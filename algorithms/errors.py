"""The one error type for bad input: a setting, an id or a name that is not accepted."""


class ConfigError(ValueError):
    """A bad setting; the message is one line naming the value and what is accepted."""
