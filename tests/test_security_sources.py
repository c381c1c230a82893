"""Security event sources: files as vendors deliver them, Okta and GitHub against local fakes
that speak their APIs (tests/fakes/okta.py, tests/fakes/github_security.py)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from integrations.security.errors import SourceError
from integrations.security.sources.files import FileSource, cloudtrail_source, json_source
from integrations.security.sources.github import GitHubSecuritySource
from integrations.security.sources.okta import OktaSource
from integrations.security.types import SecuritySource
from tests.fakes.github_security import FakeGitHubSecurity, alert
from tests.fakes.okta import FakeOkta, okta_event
from tests.fakes.server import ServerThread

T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
START, END = T0, T0 + timedelta(hours=1)


def iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def ct(i: int, minutes: float, name: str = "DescribeInstances", user: str = "alice") -> dict:
    return {
        "eventID": f"ct-{i}",
        "eventTime": iso(minutes),
        "eventSource": "ec2.amazonaws.com",
        "eventName": name,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::1:user/{user}"},
        "sourceIPAddress": "203.0.113.1",
    }


# ---- files ----------------------------------------------------------------------------------


def test_cloudtrail_folder_as_delivered(tmp_path: Path) -> None:
    day = tmp_path / "AWSLogs" / "111" / "CloudTrail" / "eu-west-1" / "2026" / "03" / "02"
    day.mkdir(parents=True)
    (day / "111_CloudTrail_eu-west-1_20260302T0405Z_a.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": [ct(1, 5), ct(2, 6, user="bob")]}).encode())
    )
    (day / "111_CloudTrail_eu-west-1_20260302T0410Z_b.json").write_text(
        json.dumps({"Records": [ct(3, 10), ct(4, 90)]})  # ct-4 is after the window
    )
    (day / "broken.json").write_text('{"Records": [')
    (day / "notes.txt").write_text("ignored: not a log file")
    source = cloudtrail_source([tmp_path])
    assert isinstance(source, SecuritySource)
    events = source.read(start=START, end=END)
    assert [e.id for e in events] == ["ct-1", "ct-2", "ct-3"]
    assert {e.log_type for e in events} == {"AWS.CloudTrail"}
    assert events[0].event["eventName"] == "DescribeInstances"
    assert len(source.problems) == 1 and "broken.json:1" in source.problems[0]
    only_bob = source.read(start=START, end=END, principal="arn:aws:iam::1:user/BOB")
    assert [e.id for e in only_bob] == ["ct-2"]


async def test_generic_json_lines_detects_types_and_keeps_unknowns(tmp_path: Path) -> None:
    lines = [
        json.dumps(ct(1, 1)),
        json.dumps(
            {"protoPayload": {"methodName": "SetIamPolicy"}, "insertId": "g1", "timestamp": iso(2)}
        ),
        "{not json",
        json.dumps({"widget": "frobnicated", "ts": iso(3)}),
        json.dumps({"no": "time"}),
        json.dumps([1, 2]),
    ]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines) + "\n")
    source = json_source([tmp_path / "mixed.jsonl"])
    events = await source.events(start=START, end=END)
    assert [(e.log_type, e.id) for e in events][:2] == [
        ("AWS.CloudTrail", "ct-1"),
        ("GCP.AuditLog", "g1"),
    ]
    assert events[2].log_type == "Unknown.JSON"  # kept, reported by the scan
    assert len(source.problems) == 3
    assert any("mixed.jsonl:3" in p for p in source.problems)
    assert any("mixed.jsonl:5" in p and "timestamp" in p for p in source.problems)


async def test_missing_folder_fails_the_read(tmp_path: Path) -> None:
    source = FileSource(name="ct", paths=[tmp_path / "gone"])
    with pytest.raises(SourceError, match="gone"):
        await source.events(start=START, end=END)


# ---- Okta -----------------------------------------------------------------------------------


@pytest.fixture
def okta() -> Iterator[tuple[FakeOkta, str]]:
    fake = FakeOkta()
    fake.events = [
        okta_event(i, iso(i), "user.session.start", f"u{i % 2}@corp.example") for i in range(7)
    ] + [okta_event(99, iso(70), "user.session.start", "late@corp.example")]
    with ServerThread(fake.app()) as server:
        yield fake, server.url


async def test_okta_pages_through_link_next(okta: tuple[FakeOkta, str]) -> None:
    fake, url = okta
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    source = OktaSource(url, token=fake.token, page_size=3, sleep=sleep)
    events = await source.events(start=START, end=END)
    assert [e.id for e in events] == [f"uuid-{i}" for i in range(7)]
    assert len(fake.requests) == 3  # 3 + 3 + 1
    assert "after=3" in fake.requests[1]
    assert sleeps == []
    mine = await source.events(start=START, end=END, principal="u1@corp.example")
    assert [e.id for e in mine] == ["uuid-1", "uuid-3", "uuid-5"]


async def test_okta_rate_limit_waits_for_reset(okta: tuple[FakeOkta, str]) -> None:
    fake, url = okta
    fake.remaining = 1  # the first page spends the budget
    fake.reset_in = 5
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    source = OktaSource(url, token=fake.token, page_size=3, sleep=sleep, max_wait=30)
    events = await source.events(start=START, end=END)
    assert len(events) == 7
    assert sleeps and all(0 < s <= 30 for s in sleeps)
    assert source.rate_limited >= 1
    # A 429 (budget already gone) also waits and retries.
    fake.remaining = 0
    sleeps.clear()
    assert len(await source.events(start=START, end=END)) == 7
    assert sleeps


async def test_okta_refused_and_down(okta: tuple[FakeOkta, str]) -> None:
    fake, url = okta

    async def sleep(seconds: float) -> None:
        return None

    with pytest.raises(SourceError, match="401"):
        await OktaSource(url, token="wrong", sleep=sleep).events(start=START, end=END)
    fake.down = True
    with pytest.raises(SourceError, match="503"):
        await OktaSource(url, token=fake.token, sleep=sleep).events(start=START, end=END)


# ---- GitHub ---------------------------------------------------------------------------------


@pytest.fixture
def github() -> Iterator[tuple[FakeGitHubSecurity, str]]:
    fake = FakeGitHubSecurity()
    fake.audit = [
        {
            "@timestamp": int((T0 + timedelta(minutes=i / 5)).timestamp() * 1000),
            "_document_id": f"doc-{i}",
            "action": "protected_branch.destroy" if i == 4 else "repo.access",
            "actor": "mallory" if i == 4 else "dev",
            "created_at": iso(i / 5),
            "org": "acme",
        }
        for i in range(400)  # one every 12 s: 300 in the hour, three pages of 100
    ]
    fake.alerts = {
        "dependabot": [
            alert(
                1, repo="acme/api", updated_at=iso(10), security_advisory={"severity": "critical"}
            ),
            alert(2, repo="acme/api", updated_at=iso(-600)),  # older than the window
        ],
        "secret_scanning": [
            alert(
                3,
                repo="acme/web",
                updated_at=iso(20),
                secret_type="aws_access_key_id",
                push_protection_bypassed=True,
                push_protection_bypassed_by={"login": "eve"},
            ),
        ],
        "code_scanning": [alert(4, repo="acme/web", updated_at=iso(30))],
    }
    with ServerThread(fake.app()) as server:
        yield fake, server.url


async def test_github_audit_log_and_alerts(github: tuple[FakeGitHubSecurity, str]) -> None:
    fake, url = github
    source = GitHubSecuritySource(org="acme", token=fake.token, base_url=url)
    events = await source.events(start=START, end=END)
    audit = [e for e in events if e.log_type == "GitHub.Audit"]
    assert len(audit) == 300
    assert audit[4].event["action"] == "protected_branch.destroy"
    assert any("page=3" in r for r in fake.requests)  # followed the Link header
    alerts = {e.event["alert_type"]: e for e in events if e.log_type == "GitHub.SecurityAlert"}
    assert set(alerts) == {"dependabot", "secret_scanning", "code_scanning"}
    assert alerts["dependabot"].event["alert"]["number"] == 1  # #2 is older: not read
    assert alerts["secret_scanning"].event["repository"] == "acme/web"
    assert source.problems == []
    only = await source.events(start=START, end=END, principal="mallory")
    assert [e.event["action"] for e in only] == ["protected_branch.destroy"]


async def test_github_disabled_feature_skipped_refused_and_down(
    github: tuple[FakeGitHubSecurity, str],
) -> None:
    fake, url = github
    fake.disabled = {"code_scanning"}
    source = GitHubSecuritySource(org="acme", token=fake.token, base_url=url, audit_log=False)
    events = await source.events(start=START, end=END)
    assert {e.event["alert_type"] for e in events} == {"dependabot", "secret_scanning"}
    assert any("code_scanning" in p and "403" in p for p in source.problems)
    with pytest.raises(SourceError, match="token was refused"):
        await GitHubSecuritySource(org="acme", token="nope", base_url=url).events(
            start=START, end=END
        )
    fake.down = True
    with pytest.raises(SourceError, match="503"):
        await source.events(start=START, end=END)
