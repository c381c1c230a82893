"""Errors of the application layer.

    BotError
    └── StartupError      the service cannot start as configured; the message names the setting
"""


class BotError(Exception):
    """Base of every application error."""


class StartupError(BotError):
    """Misconfiguration found at start."""
