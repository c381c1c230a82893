"""Errors raised by adapters to the outside world.

    IntegrationError
    ├── PayloadError          an inbound payload is malformed or misses a required field
    ├── AuthError             an inbound request is not signed / authenticated correctly
    ├── ConfigurationError    a setting needed by an adapter is missing or invalid
    └── RemoteError           a remote service failed or answered garbage (after retries)
"""


class IntegrationError(Exception):
    """Base of every integration error."""


class PayloadError(IntegrationError):
    """The payload cannot be turned into alerts; the message names the field."""


class AuthError(IntegrationError):
    """Missing or wrong signature or token."""


class ConfigurationError(IntegrationError):
    """A setting is missing or invalid; the message names the variable."""


class RemoteError(IntegrationError):
    """A remote call failed."""
