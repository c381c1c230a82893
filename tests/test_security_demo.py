"""`make demo`'s security part: the project's own Sigma rules over the bundled CloudTrail file
become case threads on the console, triaged with the bundled context."""

from __future__ import annotations

import io
from pathlib import Path

from bot.demo.security import CONTEXT, demo_source, run_security_demo
from bot.settings import SecurityCaseSettings, Settings, SlackSettings
from bot.wiring import build


async def test_the_demo_scan_opens_triaged_cases_and_folds_a_repeat(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = Settings(database_url=f"sqlite:///{tmp_path}/demo.db").model_copy(update={
        "slack": SlackSettings(bot_token=None, signing_secret=None, app_token=None),
        "security_cases": SecurityCaseSettings(context_file=str(CONTEXT))})
    source = demo_source()
    wiring = build(settings, console=out, security_sources=[source])
    assert wiring.security is not None
    await wiring.service.start()
    try:
        await run_security_demo(wiring.security, source, out)
        cases = {(c.rule_id, c.principal.rsplit("/", 1)[-1]): c
                 for c in await wiring.security.store.cases()}
    finally:
        await wiring.service.stop()
        wiring.store.close()
    verdicts = {key[1] + ":" + c.rule: (c.verdict, c.fires) for key, c in cases.items()}
    assert verdicts == {
        "mallory:CloudTrail logging stopped or trail deleted": ("true_positive", 2),
        "mallory:IAM access key created for another user": ("true_positive", 1),
        "alice:CloudTrail logging stopped or trail deleted": ("benign_true_positive", 1)}
    text = out.getvalue()
    assert "🚨 True positive" in text and "🟢 Benign (explained)" in text
    assert "Fired again (2× now)" in text and "<!channel>" not in text
