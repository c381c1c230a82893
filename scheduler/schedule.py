"""Schedules as operators write them: `every 5m`, `cron 0 8 * * *` (or a bare crontab), `off`."""

from __future__ import annotations

import re

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from scheduler.errors import ScheduleError

EVERY = re.compile(r"^every\s+(\d+)\s*(s|m|h|d)$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_schedule(text: str, *, timezone: str = "UTC", setting: str = "schedule",
                   ) -> BaseTrigger | None:
    """The trigger for a schedule string, or None when the job is switched off."""
    spec = text.strip().lower()
    if spec in ("", "off", "none", "disabled"):
        return None
    match = EVERY.match(spec)
    if match:
        amount = int(match.group(1))
        if amount <= 0:
            raise ScheduleError(f"{setting}: the interval must be positive, got {text!r}")
        return IntervalTrigger(**{UNITS[match.group(2)]: amount}, timezone=timezone)
    crontab = spec.removeprefix("cron").strip()
    try:
        return CronTrigger.from_crontab(crontab, timezone=timezone)
    except ValueError as exc:
        raise ScheduleError(
            f"{setting}={text!r} is neither 'every <n><s|m|h|d>', a crontab like "
            f"'cron 0 8 * * *', nor 'off': {exc}") from exc
