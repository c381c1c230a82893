"""A `nightowl worker`'s liveness, for a probe that cannot ask over HTTP (a worker serves none).

While its event loop turns and its Temporal worker runs, the worker touches a file every few
seconds (`nightowl worker --alive-file PATH`). The probe,

    python -m scheduler.temporal.liveness PATH --max-age 60

fails when the file is missing or older than that, so the container is restarted when the
process lives on but does no work: the loop stuck in a blocking call, or the Temporal worker
stopped after a fatal error. Losing Temporal for a while does not fail it: restarting then
would not help, and the SDK reconnects by itself. Standard library only, so the probe (run
every few seconds) starts fast.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path

EVERY_S = 10.0
MAX_AGE_S = 60.0


async def keep_alive(path: Path, running: Callable[[], bool], *,
                     every_s: float = EVERY_S) -> None:
    """Touch `path` every `every_s` while `running()`; runs until cancelled."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        if running():
            path.touch()
        await asyncio.sleep(every_s)


def stale(path: Path, *, max_age_s: float = MAX_AGE_S, now: float | None = None) -> str | None:
    """Why the worker at `path` is not alive, or None when it is."""
    try:
        age = (time.time() if now is None else now) - path.stat().st_mtime
    except FileNotFoundError:
        return f"{path} does not exist: the worker has not started, or cannot write it"
    if age > max_age_s:
        return (f"{path} was last touched {age:.0f} s ago (more than {max_age_s:g} s): the "
                "worker's loop is stuck or its Temporal worker stopped")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler.temporal.liveness",
        description="Exit 0 when a `nightowl worker --alive-file PATH` is alive, 1 if not.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--max-age", type=float, default=MAX_AGE_S, metavar="SECONDS",
                        help=f"oldest touch still alive (default {MAX_AGE_S:g})")
    args = parser.parse_args(argv)
    reason = stale(args.path, max_age_s=args.max_age)
    if reason is not None:
        print(f"nightowl worker not alive: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
