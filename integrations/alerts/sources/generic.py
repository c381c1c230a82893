"""Generic JSON: one alert object, a list of them, or {"alerts": [...]}. See the README."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from integrations.alerts.base import (
    make_alert,
    parse_time,
    register,
    require_object,
    require_str,
    severity_of,
    signal_of,
    stable_key,
    str_map,
    utc_now,
)
from integrations.errors import PayloadError
from storage.models import Alert, AlertStatus


class GenericNormalizer:
    source = "generic"

    def normalize(self, payload: Any, *, headers: Mapping[str, str]) -> list[Alert]:
        if isinstance(payload, dict) and isinstance(payload.get("alerts"), list):
            items: list[Any] = payload["alerts"]
        elif isinstance(payload, list):
            items = payload
        else:
            items = [payload]
        if not items:
            raise PayloadError("no alerts in the payload")
        return [self._one(item, f"alerts[{i}]") for i, item in enumerate(items)]

    def _one(self, item: Any, where: str) -> Alert:
        entry = require_object(item, where)
        title = require_str(entry, "title", where)
        status = str(entry.get("status") or "firing").lower()
        if status not in ("firing", "resolved"):
            raise PayloadError(f"'{where}.status' must be firing or resolved, got {status!r}")
        labels = str_map(entry.get("labels"))
        dedup = str(entry.get("dedup_key") or stable_key(title, sorted(labels.items())))
        return make_alert(
            source=self.source,
            dedup_key=dedup,
            group_key=str(entry.get("group_key") or dedup),
            status=AlertStatus(status),
            title=title,
            started_at=parse_time(entry.get("started_at"), f"{where}.started_at",
                                  default=utc_now()),
            labels=labels,
            annotations=str_map(entry.get("annotations")),
            links=str_map(entry.get("links")),
            service=str(entry.get("service") or "") or None,
            severity=severity_of(entry.get("severity"), labels.get("severity")),
            signal=signal_of(entry.get("signal"), title),
            raw=entry,
        )


register(GenericNormalizer())
