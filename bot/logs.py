"""Logging is configured here, once, by the entry point."""

from __future__ import annotations

import logging
import sys

from integrations.redaction import redact


class RedactingFormatter(logging.Formatter):
    """Masks secrets in the whole formatted line, the traceback included: an exception's
    message or a remote error body can carry a credential (the same redactor as Slack's)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure(level: str = "INFO", *, stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(RedactingFormatter(
        "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
