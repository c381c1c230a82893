"""Security cases: a signal becomes one case thread (or folds into one), triage by the real
engine, approvals that execute nothing without a person, and a flow that survives restarts.
Slack is the fake Web API; the databases are real (SQLite, and PostgreSQL where it runs)."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import inspect

from bot.security.service import SecurityService
from bot.slack.security_blocks import APPROVE, CONFIRM, ESCALATE, RAW_EVENT
from scheduler.jobs.security_digest import build_security_section, security_blocks
from storage.models import SecurityCase, utcnow
from storage.repository import Store
from storage.security import SecurityStore, fold_key
from tests.fakes.slack import FakeSlack
from tests.security_cases import (
    FIRED,
    KEY,
    RecordingExecutor,
    attack_story,
    slack_service,
    stop_logging_signal,
)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _roots(slack: FakeSlack) -> list[dict[str, object]]:
    return [c.args for c in slack.of("chat.postMessage") if not c.args.get("thread_ts")]


def _replies(slack: FakeSlack) -> list[dict[str, object]]:
    return [c.args for c in slack.of("chat.postMessage") if c.args.get("thread_ts")]


async def test_a_signal_becomes_a_case_thread(sqlite_store: Store,
                                              fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    case_id, created = await security.receive(stop_logging_signal(attack_story()))
    assert created
    await security.idle()

    (root,) = _roots(slack)
    assert root["channel"] == "#security"
    final = slack.of("chat.update")[-1].args  # the root, edited once triage was done
    line = final["blocks"][0]["text"]["text"]
    assert line.startswith("🚨 *True positive* (") and "`CloudTrail logging stopped`" in line
    assert "by `mallory`" in line and "`198.51.100.7`" in line
    buttons = [e["action_id"] for e in final["blocks"][-1]["elements"]]
    assert buttons[0] == CONFIRM and buttons[-1] == ESCALATE

    (detail,) = _replies(slack)
    assert detail["thread_ts"] == final["ts"]
    blocks = _dumps(detail["blocks"])
    # The checklist as run, each step one click from its raw events, ATT&CK, containment.
    assert "who, what, where, when" in blocks and "follow-on persistence" in blocks
    assert RAW_EVENT in blocks and "attack.mitre.org/techniques/T1562/008/" in blocks
    approves = [b["accessory"]["value"] for b in detail["blocks"]
                if b.get("accessory", {}).get("action_id") == APPROVE]
    assert approves and approves[0] == f"{case_id}:0"
    # Text from the event is data: no live mention, no link, no secret, in any message.
    everything = _dumps([c.args for c in slack.calls])
    assert "<!channel>" not in everything and "<https://evil" not in everything
    assert "&lt;!channel&gt;" in everything
    assert KEY not in everything
    case = await security.store.case(case_id)
    assert case.step == "done" and case.verdict == "true_positive"
    assert {e.event_id for e in await security.store.events(case_id)} == {"e-1", "e-2", "e-3"}
    await service.stop()


async def test_repeated_fires_fold_into_the_open_case(store: Store) -> None:
    """On SQLite and PostgreSQL: one open case per rule and principal; its count grows."""
    cases = SecurityStore.beside(store)

    def case(principal: str) -> SecurityCase:
        return SecurityCase(fold_key=fold_key("r1", principal), rule="Rule one", rule_id="r1",
                            source="sigma", principal=principal, channel="#security")

    first = await cases.open_or_fold(case("alice"), [], note="again ({fires}×)")
    again = await cases.open_or_fold(case("alice"), [], note="again ({fires}×)")
    other = await cases.open_or_fold(case("bob"), [], note="again ({fires}×)")
    assert first.created and not again.created and other.created
    assert again.case_id == first.case_id and again.fires == 2
    assert [u.text for u in await cases.pending_updates(first.case_id)] == ["again (2×)"]
    # Once a person closes it, the next fire opens a new case.
    await cases.decide(first.case_id, verdict="benign", user="U1", close=True, note="benign")
    later = await cases.open_or_fold(case("alice"), [], note="again ({fires}×)")
    assert later.created and later.case_id != first.case_id
    assert "securitycase" in set(inspect(store.engine).get_table_names())


async def test_a_fold_is_a_thread_note_not_a_new_case(sqlite_store: Store,
                                                      fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    events = attack_story()
    await security.receive(stop_logging_signal(events))
    await security.idle()
    edits = len(slack.of("chat.update"))
    later = attack_story(first=11, at=FIRED + timedelta(hours=2))
    case_id, created = await security.receive(stop_logging_signal(later))
    await security.idle()
    root_ts = (await security.store.case(case_id)).slack_ts
    # The root is edited (its count); the triage reply only if what it shows changed.
    assert {c.args["ts"] for c in slack.of("chat.update")[edits:]} <= {
        root_ts, (await security.store.case(case_id)).detail_ts}
    assert any(c.args["ts"] == root_ts for c in slack.of("chat.update")[edits:])
    assert not created and len(_roots(slack)) == 1
    assert "Fired again (2× now)" in _replies(slack)[-1]["text"]
    assert any("fired 2×" in _dumps(c.args["blocks"]) for c in slack.of("chat.update"))
    assert len(await security.store.events(case_id)) == 6
    await service.stop()


async def test_a_restart_resumes_each_flow_where_it_stopped(
        store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    """On SQLite and PostgreSQL."""
    slack, url = fake_slack
    cases = SecurityStore.beside(store)
    signal = stop_logging_signal(attack_story())
    # What a process that died left behind: one case just received, one already collected
    # whose root message had been posted (and must not be posted again).
    from bot.security.service import _row

    received = await cases.open_or_fold(SecurityCase(
        fold_key=fold_key("r-a", "mallory"), rule="A", rule_id="r-a", source="sigma",
        log_type="AWS.CloudTrail", principal="mallory", signal=signal.case_signal(),
        channel="#security", first_fired_at=FIRED, last_fired_at=FIRED),
        [_row(e, role="trigger") for e in signal.events], note="")
    collected = await cases.open_or_fold(SecurityCase(
        fold_key=fold_key("r-b", "mallory"), rule="B", rule_id="r-b", source="sigma",
        log_type="AWS.CloudTrail", principal="mallory", signal=signal.case_signal(),
        channel="#security", first_fired_at=FIRED, last_fired_at=FIRED),
        [_row(e, role="trigger") for e in signal.events], note="")
    await cases.advance(collected.case_id, "collected")
    await cases.mark_root(collected.case_id, channel="C0000009", ts="1700000000.000001")

    service, security, _ = slack_service(store, url)
    await service.start()  # recovers threads and resumes flows (the security companion)
    await security.idle()
    for case_id in (received.case_id, collected.case_id):
        case = await cases.case(case_id)
        assert case.step == "done" and case.verdict == "true_positive"
        assert case.rendered_version == case.version
    roots = _roots(slack)
    assert len(roots) == 1  # only the case that had none
    assert {r["thread_ts"] for r in _replies(slack)} == {
        (await cases.case(received.case_id)).slack_ts, "1700000000.000001"}
    await service.stop()


async def test_approving_nothing_executes_nothing(sqlite_store: Store,
                                                  fake_slack: tuple[FakeSlack, str]) -> None:
    _, url = fake_slack
    executor = RecordingExecutor()
    service, security, _ = slack_service(sqlite_store, url, executors=[executor])
    case_id, _ = await security.receive(stop_logging_signal(attack_story()))
    await security.idle()
    case = await security.store.case(case_id)
    actions = case.triage["proposed_actions"]
    assert actions and all(a["requires_approval"] for a in actions)
    await security.decide(case_id, "true_positive", "U1")
    await security.idle()
    assert executor.calls == []  # a triaged, confirmed case: still nothing ran
    index = next(i for i, a in enumerate(actions) if a["action"] == "disable access key")
    row = await security.approve(case_id, index, "U2")
    await security.approve(case_id, index, "U3")  # a second click runs nothing twice
    await security.idle()
    assert executor.calls == [("disable access key", KEY)]
    assert row.outcome == "executed" and row.approved_by == "U2"
    await service.stop()


async def test_an_approval_without_an_action_integration_is_recorded_only(
        sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    case_id, _ = await security.receive(stop_logging_signal(attack_story()))
    await security.idle()
    row = await security.approve(case_id, 0, "U2")
    await security.idle()
    assert row.outcome == "recorded" and row.executor is None
    assert "update-access-key" in row.detail  # the steps, for a person to carry out
    note = _replies(slack)[-1]["text"]
    assert "nothing was executed" in note and "AKIA…MPLE" in note
    assert "approved by <@U2>" in _dumps(slack.of("chat.update")[-1].args["blocks"])
    actions = [(e.actor, e.action) for e in await security.store.audit_events(case_id)]
    assert ("U2", "approve_containment") in actions
    await service.stop()


async def test_repeated_false_positives_suggest_a_suppression(
        sqlite_store: Store, fake_slack: tuple[FakeSlack, str]) -> None:
    slack, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    for n in range(2):
        case_id, created = await security.receive(stop_logging_signal(
            attack_story(first=10 * n + 1, at=FIRED + timedelta(days=n))))
        assert created
        await security.idle()
        await security.decide(case_id, "false_positive", "U1")
        await security.idle()
    texts = [r["text"] for r in _replies(slack)]
    assert sum("Consider a suppression" in t for t in texts) == 1  # on the second only
    feedback = await security.store.feedback()
    assert [f.verdict for f in feedback] == ["false_positive", "false_positive"]
    for row in feedback:
        assert (await security.store.case(row.case_id)).status == "closed"
    await service.stop()


async def test_the_digest_has_a_security_section(sqlite_store: Store,
                                                 fake_slack: tuple[FakeSlack, str]) -> None:
    _, url = fake_slack
    service, security, _ = slack_service(sqlite_store, url)
    first, _ = await security.receive(stop_logging_signal(attack_story()))
    await security.receive(stop_logging_signal(attack_story(user="eve", first=20), user="eve"))
    await security.idle()
    await security.approve(first, 0, "U2")
    now = utcnow()
    section = await build_security_section(security.store, start=now - timedelta(days=1),
                                           end=now + timedelta(minutes=1))
    assert section.opened == 2 and section.by_verdict == {"true_positive": 2}
    assert section.approvals_pending > 0 and section.cases_waiting_approval == 2
    assert section.top_rules == [("CloudTrail logging stopped", 2, 2)]
    text = _dumps(security_blocks(section))
    assert "2 new case(s)" in text and "awaiting approval in 2 case(s)" in text
    await service.stop()


def test_security_service_is_a_signal_sink() -> None:
    from integrations.security.types import SignalSink

    sink: SignalSink = SecurityService.__new__(SecurityService)
    assert callable(sink.handle)
