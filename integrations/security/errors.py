"""Security integration errors.

    IntegrationError                      (integrations.errors)
    └── SecurityError
        ├── EventError        one event is malformed; the message names the record and field
        ├── RuleError         one Sigma rule cannot be loaded or converted; names file and line
        ├── SourceError       a source cannot be read (down, refused, garbage); names the source
        └── SecurityConfigError  a security setting is missing or invalid; names the variable

A malformed event or rule is skipped and counted by the caller, never a crashed scan; a
`SourceError` fails that scan run with its reason, and the next tick runs again.
"""

from __future__ import annotations

from integrations.errors import ConfigurationError, IntegrationError, RemoteError


class SecurityError(IntegrationError):
    """Base of the security integration's errors."""


class EventError(SecurityError):
    """One event cannot be used; the message names where it came from and what is wrong."""


class RuleError(SecurityError):
    """One rule cannot be loaded or converted.

    `path` and `line` name the rule file and the line of the document that failed, so a
    scan report can point an operator at it.
    """

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        where = f"{path}:{line}" if path and line is not None else path
        super().__init__(f"{where}: {message}" if where else message)
        self.path = path
        self.line = line
        self.reason = message


class SourceError(SecurityError, RemoteError):
    """A source could not be read; the scan run fails with this reason."""

    def __init__(self, message: str, *, source: str = "") -> None:
        super().__init__(f"{source}: {message}" if source else message)
        self.source = source


class SecurityConfigError(SecurityError, ConfigurationError):
    """A security setting is missing or invalid; the message names the variable."""
