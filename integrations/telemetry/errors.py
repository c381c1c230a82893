"""Telemetry errors.

    TelemetryError
    └── ScenarioError    a scenario directory is missing a file or holds a malformed one;
                         the message names the file and the problem
"""


class TelemetryError(Exception):
    """Base of telemetry errors (raised only for unusable input, never for a failed query)."""


class ScenarioError(TelemetryError):
    """The scenario directory cannot be used."""
