"""The shared security shapes: event round trip, timestamps, entities per log type."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from integrations.security.entities import event_time, extract_entities, native_id
from integrations.security.errors import EventError
from integrations.security.types import (
    SecurityEvent,
    SecuritySignal,
    normalize_severity,
    parse_ts,
)


def test_event_round_trip_keeps_raw_event() -> None:
    line = {
        "id": "e-17",
        "log_type": "AWS.CloudTrail",
        "ts": "2026-03-02T04:11:09Z",
        "event": {"eventName": "StopLogging", "nested": {"x": [1, 2]}},
    }
    ev = SecurityEvent.from_json(line)
    assert ev.ts == datetime(2026, 3, 2, 4, 11, 9, tzinfo=UTC)
    assert ev.to_json() == line


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"log_type": "x", "ts": 1, "event": {}}, "'id'"),
        ({"id": "a", "log_type": "x", "ts": "yesterday", "event": {}}, "'ts'"),
        ({"id": "a", "log_type": "x", "ts": 1, "event": []}, "'event'"),
        ([1], "JSON object"),
    ],
)
def test_bad_event_names_the_field(line: object, field: str) -> None:
    with pytest.raises(EventError, match=field):
        SecurityEvent.from_json(line, where="events.jsonl:3")


def test_timestamps_in_vendor_forms() -> None:
    want = datetime(2025, 1, 21, 17, 49, 47, tzinfo=UTC)
    assert parse_ts("2025-01-21 17:49:47.000000000") == want
    assert parse_ts("2025-01-21T17:49:47Z") == want
    assert parse_ts(want.timestamp()) == want
    assert parse_ts(int(want.timestamp() * 1000)) == want
    assert parse_ts("2025-01-21T18:49:47+01:00") == want


def test_severity_scales() -> None:
    assert normalize_severity("informational") == "info"
    assert normalize_severity("HIGH") == "high"
    assert normalize_severity(8.0) == "high"
    assert normalize_severity(5) == "medium"
    assert normalize_severity("whatever") == "medium"


def test_signal_case_round_trip() -> None:
    sig = SecuritySignal(
        rule="CloudTrail logging stopped",
        rule_id="r1",
        severity="high",
        source="sigma",
        log_type="AWS.CloudTrail",
        fired_at=datetime(2026, 3, 2, 4, 11, 9, tzinfo=UTC),
        event_ids=("e-17",),
        entities={"user": "alice", "ip": "1.2.3.4"},
        techniques=("T1562.008",),
    )
    back = SecuritySignal.from_case_signal(sig.case_signal())
    assert back == sig
    assert back.principal == "alice"


def test_cloudtrail_entities_and_service_source() -> None:
    ev = {
        "eventID": "abc",
        "eventTime": "2026-03-02T04:11:09Z",
        "userIdentity": {"arn": "arn:aws:iam::111:user/alice", "accountId": "111"},
        "sourceIPAddress": "ec2.amazonaws.com",
        "userAgent": "aws-cli/2",
        "awsRegion": "eu-west-1",
        "recipientAccountId": "111",
    }
    ent = extract_entities("AWS.CloudTrail", ev)
    assert ent.principal == "arn:aws:iam::111:user/alice"
    assert ent.ip is None  # a service name is not a network location
    assert ent.as_dict() == {
        "user": "arn:aws:iam::111:user/alice",
        "account": "111",
        "user_agent": "aws-cli/2",
        "region": "eu-west-1",
    }
    assert native_id("AWS.CloudTrail", ev) == "abc"
    assert event_time("AWS.CloudTrail", ev) == datetime(2026, 3, 2, 4, 11, 9, tzinfo=UTC)


def test_other_log_types() -> None:
    okta = {
        "uuid": "u1",
        "published": "2026-01-01T00:00:00.000Z",
        "actor": {"alternateId": "bob@example.com"},
        "client": {
            "ipAddress": "10.0.0.1",
            "userAgent": {"rawUserAgent": "Firefox"},
            "geographicalContext": {"country": "France"},
        },
    }
    assert extract_entities("Okta.SystemLog", okta).as_dict() == {
        "user": "bob@example.com",
        "ip": "10.0.0.1",
        "user_agent": "Firefox",
        "region": "France",
    }
    gh = {"actor": "cat", "actor_ip": "1.1.1.1", "org": "my-org", "@timestamp": 1621305118553}
    assert extract_entities("GitHub.Audit", gh).as_dict() == {
        "user": "cat",
        "ip": "1.1.1.1",
        "account": "my-org",
    }
    assert event_time("GitHub.Audit", gh) == parse_ts(1621305118.553)
    gcp = {
        "insertId": "i1",
        "protoPayload": {
            "authenticationInfo": {"principalEmail": "sa@p.iam.gserviceaccount.com"},
            "requestMetadata": {"callerIp": "2.2.2.2"},
        },
        "resource": {"labels": {"project_id": "p"}},
    }
    assert extract_entities("GCP.AuditLog", gcp).as_dict() == {
        "user": "sa@p.iam.gserviceaccount.com",
        "ip": "2.2.2.2",
        "account": "p",
    }
    gws = {
        "id": {"customerId": "C01", "time": "2026-01-01T00:00:00Z"},
        "actor": {"email": "a@x.com"},
        "ipAddress": "3.3.3.3",
    }
    assert extract_entities("GSuite.ActivityEvent", gws).as_dict() == {
        "user": "a@x.com",
        "ip": "3.3.3.3",
        "account": "C01",
    }
    assert extract_entities("Custom.Thing", {"src_ip": "4.4.4.4", "user": "u"}).as_dict() == {
        "user": "u",
        "ip": "4.4.4.4",
    }
