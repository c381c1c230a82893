"""The daily digest through the fake Slack (chart upload included), and its empty day."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.pacing import ChannelPacer
from bot.slack.surface import SlackSurface
from scheduler.jobs.digest import DigestJob
from scheduler.runner import JobRunner
from storage.background import BackgroundStore
from storage.models import Feedback, Finding, utcnow
from storage.repository import Store
from tests.fakes.slack import FakeSlack
from tests.test_storage import alert


def _job(store: Store, fake_slack: tuple[FakeSlack, str], **kw: object) -> DigestJob:
    _, url = fake_slack
    surface = SlackSurface(AsyncWebClient(token="xoxb-test", base_url=f"{url}/api/"),
                           ChannelPacer(per_second=100.0, metrics=Metrics()))
    # "Tomorrow" makes everything the test writes now fall on the digest's "yesterday".
    tomorrow = utcnow() + timedelta(days=1)
    return DigestJob(store=BackgroundStore.beside(store), announcer=surface,
                     clock=lambda: tomorrow, **kw)  # type: ignore[arg-type]


async def test_digest_summarises_yesterday_with_a_chart(
        store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    slack, _ = fake_slack
    outcomes = await store.ingest([alert("a1", group="g1", service="checkout"),
                                   alert("a2", group="g2", service="payments"),
                                   alert("a3", group="g3", service="search")],
                                  lambda a: "#payments" if a.service == "payments" else "#web")
    ids = [o.incident_id for o in outcomes]
    assert all(ids)
    await store.acknowledge(ids[0], "U1")
    await store.resolve(ids[0], "U1")
    run = await store.start_investigation(ids[0], "auto")
    run.status, run.finished_at = "done", utcnow()
    await store.save_investigation(run)
    await store.add_feedback(Feedback(investigation_id=run.id, incident_id=ids[0], user="U1",
                                      verdict="up"))
    await BackgroundStore.beside(store).record_finding(Finding(
        source="logs", signature="s1", service="search", kind="new",
        title="index shard <*> unavailable", channel="#web"))

    job = _job(store, fake_slack, channels={"#eng-managers": ["*"], "#payments-leads":
                                            ["#payments"]})
    runner = JobRunner(jobs={"digest": job}, store=job.store, engine=store.engine,
                       holder="test:1:a")
    outcome = await runner.run("digest", trigger="schedule")
    assert outcome is not None and outcome.items == 2
    posts = {p.args["channel"]: p for p in slack.of("chat.postMessage")}
    everything = str(posts["#eng-managers"].args["blocks"])
    assert "*Opened*\\n3" in everything and "*Resolved*\\n1" in everything
    assert "*Still open*\\n2" in everything and "1/1 confirmed" in everything
    assert "index shard <*> unavailable" in everything and "Noisiest alerts" in everything
    payments = str(posts["#payments-leads"].args["blocks"])
    assert "*Opened*\\n1" in payments and "no feedback" in payments
    # One chart per digest: a real PNG received through the files.upload v2 flow.
    completes = slack.of("files.completeUploadExternal")
    assert len(completes) == 2 and len(slack.uploads) == 2
    assert all(data.startswith(b"\x89PNG") for data in slack.uploads.values())

    again = await runner.run("digest", trigger="retry")  # after a crash: not twice a day
    assert again is not None and again.summary.endswith("was already posted")
    assert len(slack.of("chat.postMessage")) == len(posts)


async def test_a_quiet_day_says_so_briefly(store: Store,
                                           fake_slack: tuple[FakeSlack, str]) -> None:
    slack, _ = fake_slack
    await _job(store, fake_slack, channels={"#eng": ["*"]}).run(trigger="schedule")
    [post] = slack.of("chat.postMessage")
    assert "no incidents and no new error findings" in post.args["text"]
    assert not slack.of("files.completeUploadExternal")


def test_digest_preview_in_the_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "NIGHTOWL_DATABASE_URL": f"sqlite:///{tmp_path}/n.db",
           "NIGHTOWL_DIGEST_CHANNELS": '{"#eng": ["*"]}'}
    env.pop("SLACK_BOT_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "bot.cli", "digest", "--channel", "#eng",
                             "--print"], capture_output=True, text=True, env=env, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Daily digest" in result.stdout and "Quiet day" in result.stdout
