"""Scheduler errors.

    SchedulerError
    ├── ScheduleError     a job's schedule setting cannot be parsed (names the variable)
    ├── StepFailed        a flow step failed for good (scheduler/flows.py): no retry
    └── TemporalUnavailable  TEMPORAL_ADDRESS cannot be reached (at start: one line, exit 2)
"""


class SchedulerError(Exception):
    """Base of every scheduler error."""


class ScheduleError(SchedulerError):
    """A schedule string is not `every <n><s|m|h|d>`, a cron expression, or `off`."""


class TemporalUnavailable(SchedulerError):
    """Temporal (TEMPORAL_ADDRESS) did not answer; the message names the address."""
