"""Operators' schedule strings (scheduler/schedule.py) as Temporal schedule specs."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import ScheduleIntervalSpec, ScheduleSpec

from scheduler.schedule import EVERY, UNITS, parse_schedule


def schedule_spec(text: str, *, timezone: str = "UTC") -> ScheduleSpec | None:
    """The spec for `every 5m` / `cron 0 8 * * *` / a bare crontab; None for `off`. Invalid
    text raises ScheduleError exactly as the in-process scheduler would."""
    if parse_schedule(text) is None:
        return None
    spec = text.strip().lower()
    match = EVERY.match(spec)
    if match:
        every = timedelta(**{UNITS[match.group(2)]: int(match.group(1))})
        return ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every)])
    return ScheduleSpec(cron_expressions=[spec.removeprefix("cron").strip()],
                        time_zone_name=timezone)
