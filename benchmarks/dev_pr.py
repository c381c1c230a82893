"""Error finding → draft pull request, without a model: the Dev agent's whole road timed.

Each run builds a fresh stack (the wired service, the fake Slack, the fake Sentry, the fake
GitHub over real git repositories), then times:

- scan → offer: the error scan posts a new Sentry finding; the Dev agent reads its stack
  trace, finds the deploy on GitHub, clones the repository, blames the frames, builds the
  revert and posts the suspects with an Open revert PR button;
- click → draft PR: a signed click on the button (authorization, audit) until the draft pull
  request exists on GitHub with its labels, reviewers and cc.

Target: finding → draft PR under 10 s. The human's reading time between the two is excluded.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from tests.dev_e2e import dev_stack, until
from tests.dev_support import REPO
from tests.fakes.server import ServerThread
from tests.fakes.slack import FakeSlack

RUNS = 3


async def one_run(tmp: Path, *, write_interval: float = 0.0) -> tuple[float, float]:
    slack = FakeSlack()
    with ServerThread(slack.app()) as server:
        slack.base_url = server.url
        async with dev_stack(tmp, slack, server.url, write_interval=write_interval) as stack:
            started = time.perf_counter()
            await stack.background.runner.run("error_scan", trigger="manual")
            offered = time.perf_counter()
            value, channel = stack.button("dev_open_revert")
            clicked = time.perf_counter()
            await stack.click("dev_open_revert", value, user="U42", channel=channel)
            await until(lambda: bool(stack.world.fake.pulls[REPO])
                        and bool(stack.world.fake.pulls[REPO][0].comments))
            done = time.perf_counter()
            assert stack.world.fake.pulls[REPO][0].draft
    return offered - started, done - clicked


def main() -> None:
    scans, clicks = [], []
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="nightowl-bench-dev-") as tmp:
            scan, click = asyncio.run(one_run(Path(tmp)))
        scans.append(scan)
        clicks.append(click)
    totals = [a + b for a, b in zip(scans, clicks, strict=True)]
    print(f"runs: {RUNS} (fresh stack each; no model; GitHub write pacing off, as against "
          "a local fake)")
    print(f"finding → suspects + button in the thread: median {statistics.median(scans):.2f} s,"
          f" max {max(scans):.2f} s")
    print(f"click → draft PR on GitHub (labels, reviewers, cc): median "
          f"{statistics.median(clicks):.2f} s, max {max(clicks):.2f} s")
    print(f"finding → draft PR: median {statistics.median(totals):.2f} s, max "
          f"{max(totals):.2f} s (target < 10 s): {'OK' if max(totals) < 10 else 'MISSED'}")
    with tempfile.TemporaryDirectory(prefix="nightowl-bench-dev-") as tmp:
        scan, click = asyncio.run(one_run(Path(tmp), write_interval=1.0))
    print(f"with production pacing (1 s between GitHub writes, 0.25 s between reads): "
          f"finding → draft PR {scan + click:.2f} s")
