"""Scheduler errors.

    SchedulerError
    └── ScheduleError     a job's schedule setting cannot be parsed (names the variable)
"""


class SchedulerError(Exception):
    """Base of every scheduler error."""


class ScheduleError(SchedulerError):
    """A schedule string is not `every <n><s|m|h|d>`, a cron expression, or `off`."""
