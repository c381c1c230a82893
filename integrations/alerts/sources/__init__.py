"""Built-in alert sources; each module registers its normaliser on import."""

from integrations.alerts.sources import (  # noqa: F401
    alertmanager,
    datadog,
    generic,
    opsgenie,
    pagerduty,
    sentry,
)
