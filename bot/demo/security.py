"""The demo's security cases: the project's own Sigma rules over a bundled CloudTrail file.

`security/cloudtrail.json` (made for the demo, as S3 delivers CloudTrail: an IAM user's key
stops the trail from an address and a tool it never used, then creates a user with a new
access key; a known admin retires a legacy trail under a change ticket; the first key stops
the trail again 40 minutes later) is read by the CloudTrail file source and scanned in two
ticks, as the `security_scan` job would. The signals open cases (the second tick's fire folds
into the open case); each case is triaged with `security/context.json` as the operator's
known-good context, and the console draws each case thread as Slack would show it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from bot.security.service import SecurityService
from integrations.security.engine import SigmaEngine
from integrations.security.sigma import load_rules
from integrations.security.sources.files import FileSource, cloudtrail_source
from integrations.security.types import SecuritySource

HERE = Path(__file__).parent / "security"
CLOUDTRAIL = HERE / "cloudtrail.json"
CONTEXT = HERE / "context.json"
RULES = Path(__file__).resolve().parents[2] / "integrations" / "security" / "rules"
FAR_PAST, FAR_FUTURE = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)


def demo_source() -> FileSource:
    return cloudtrail_source([CLOUDTRAIL], name="demo-cloudtrail")


async def run_security_demo(security: SecurityService, source: SecuritySource,
                            out: TextIO) -> None:
    """Scan the bundled events in two ticks and hand the signals to the case layer."""
    rules = load_rules([RULES])
    engine = SigmaEngine(rules)
    everything = await source.events(start=FAR_PAST, end=FAR_FUTURE)
    first = min(e.ts for e in everything)
    cut = first + timedelta(hours=20, minutes=30)
    out.write(f"\n▶ Security scan: {len(rules.rules)} of the project's own Sigma rules over "
              f"{len(everything)} bundled CloudTrail events, in two scheduled ticks\n")
    for n, (start, end) in enumerate([(first, cut), (cut, FAR_FUTURE)], 1):
        batch = await source.events(start=start, end=end)
        result = engine.evaluate(batch)
        out.write(f"  tick {n}: {result.summary()}\n")
        await security.handle(result.signals)
        await security.idle(timeout=120)
    cases = sorted(await security.store.cases(limit=20), key=lambda c: c.id or 0)
    out.write("▶ Security cases: " + "; ".join(
        f"#{c.id} {c.rule} on {c.principal or '-'}: {c.verdict}, fired {c.fires}×"
        for c in cases) + "\n")

