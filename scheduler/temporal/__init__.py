"""Flows on Temporal: one generic workflow runs any flow's plan; each step is an activity
that any `nightowl worker` executes with the same step functions the in-process runner
calls. Import `temporalio` only from here (the in-process default never loads it)."""
