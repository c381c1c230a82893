"""Failed requests as a share of requests.

Exporters count failures (`istio_requests_total_5xx`, `kong_http_requests_5xx_total`, a
timeout counter): under twice the load a healthy service fails twice as many requests at the
same error rate. Read as counts, a crawler's burst or a campaign makes every service it
reaches look broken. Where a service also reports its requests, its errors are judged by the
share that fail; a share that did not rise is no degradation, whatever the count did.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.sre.stats import Anomaly, Direction
from agents.sre.verdicts import FamilyVerdict, ServiceProfile
from integrations.telemetry.base import Series, name_words

# Error metrics that are already a share of requests (a rate, a ratio, a percentage), told
# by a word of their name: as a substring, "ratio" is also in "duration", and OpenTelemetry's
# failure counters are `http.server.request.duration.count.5xx`.
_SHARE = frozenset({"rate", "ratio", "percent", "percentage", "pct", "share", "fraction"})


def is_share(metric: str) -> bool:
    """Whether an error metric's name says it is already a share of requests."""
    return not _SHARE.isdisjoint(name_words(metric))


def errors_per_request(profile: ServiceProfile,
                       analyze: Callable[[Series, Direction], Anomaly | None]) -> None:
    """Replace the profile's errors verdict by the share of requests failing when the count
    moved and the share did not (`analyze` judges a series as the run does)."""
    errors, load = profile.families.get("errors"), profile.families.get("throughput")
    if errors is None or load is None or errors.anomaly is None or \
            not errors.anomaly.anomalous or errors.series is None or load.series is None \
            or is_share(errors.metric) or errors.series.unit == "share":
        return
    failed, requests = errors.series, load.series
    known = np.isfinite(requests.v)
    if known.sum() < 3:
        return
    served = np.interp(failed.t, requests.t[known], requests.v[known],
                       left=np.nan, right=np.nan)
    share = np.full(failed.v.shape, np.nan)
    np.divide(failed.v, served, out=share, where=served > 0)
    series = Series(failed.service, f"{failed.metric} per request", failed.t, share,
                    unit="share", query=failed.query, link=failed.link)
    anomaly = analyze(series, "up")
    if anomaly is not None and not anomaly.anomalous:
        profile.families["errors"] = FamilyVerdict(profile.service, "errors", series.metric,
                                                   anomaly, "", series=series)
