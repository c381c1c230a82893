"""Sigma detection: real pySigma and the real SQLite backend on the project's own rules and on
SigmaHQ's rules read in place (skipped when ../shared/datasets is missing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from integrations.security.engine import SigmaEngine
from integrations.security.sigma import load_rules
from integrations.security.suppressions import FileSuppressions, Suppression
from integrations.security.types import SecurityEvent

OWN_RULES = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"
SIGMA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sigma" / "rules"
T0 = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)


def ev(i: int, event: dict[str, Any], log_type: str = "AWS.CloudTrail") -> SecurityEvent:
    return SecurityEvent(id=f"e-{i}", log_type=log_type, ts=T0 + timedelta(minutes=i), event=event)


def trail(i: int, name: str, user: str = "alice", **extra: Any) -> SecurityEvent:
    body = {
        "eventSource": "cloudtrail.amazonaws.com",
        "eventName": name,
        "userIdentity": {"type": "IAMUser", "arn": f"arn:aws:iam::111:user/{user}"},
        "sourceIPAddress": "203.0.113.7",
        "recipientAccountId": "111",
    }
    body.update(extra)
    return ev(i, body)


def write_rule(folder: Path, name: str, detection: str, *, logsource: str = "aws") -> Path:
    services = {"aws": "cloudtrail", "github": "audit"}
    path = folder / name
    path.write_text(
        f"title: {name}\nid: 00000000-0000-4000-8000-{abs(hash(name)) % 10**12:012d}\n"
        f"logsource:\n    product: {logsource}\n    service: {services[logsource]}\n"
        f"detection:\n{detection}\nlevel: low\n"
    )
    return path


def test_own_rules_load_cleanly_and_fire() -> None:
    rules = load_rules([OWN_RULES])
    assert rules.problems == []
    assert len(rules.rules) >= 10
    stop = next(r for r in rules.rules if r.title.startswith("CloudTrail logging stopped"))
    assert stop.techniques == ("T1562.008",)
    assert stop.severity == "high"
    engine = SigmaEngine(rules)
    result = engine.evaluate(
        [trail(1, "StopLogging"), trail(2, "DescribeTrails"), trail(3, "DeleteTrail", "bob")]
    )
    fired = {(s.rule, s.event_ids) for s in result.signals}
    assert fired == {
        (stop.title, ("e-1",)),
        (stop.title, ("e-3",)),  # another principal: its own signal
    }
    sig = result.signals[0]
    assert sig.entities["user"] == "arn:aws:iam::111:user/alice"
    assert sig.entities["ip"] == "203.0.113.7"
    assert sig.events[0].event["eventName"] == "StopLogging"


def test_case_insensitive_keys_merge_and_missing_columns(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "r.yml",
        "    sel:\n        eventName: StopLogging\n        userIdentity.type: Root\n"
        "    flt:\n        errorCode|exists: true\n    condition: sel and not flt",
    )
    engine = SigmaEngine(load_rules([tmp_path]))
    events = [
        # key spelled differently, value in another case: still a match
        ev(1, {"EventName": "stoplogging", "UserIdentity": {"Type": "ROOT"}}),
        # errorCode present: filtered out
        ev(2, {"eventName": "StopLogging", "userIdentity": {"type": "Root"}, "errorCode": "x"}),
        # no userIdentity at all: the column reads NULL, no match, no error
        ev(3, {"eventName": "StopLogging"}),
    ]
    result = engine.evaluate(events)
    assert [s.event_ids for s in result.signals] == [("e-1",)]
    assert result.problems == []


def test_regexp_booleans_lists_and_keywords(tmp_path: Path) -> None:
    write_rule(
        tmp_path,
        "re.yml",
        "    sel:\n        userAgent|re: '^aws-cli/2\\.'\n        readOnly: false\n"
        "    condition: sel",
    )
    write_rule(
        tmp_path,
        "list.yml",
        "    sel:\n        resources.ARN|endswith: ':secret:prod'\n    condition: sel",
    )
    write_rule(
        tmp_path, "kw.yml", "    keywords:\n        - 'break-glass'\n    condition: keywords"
    )
    engine = SigmaEngine(load_rules([tmp_path]))
    events = [
        ev(1, {"userAgent": "aws-cli/2.15 Python", "readOnly": False}),
        ev(2, {"userAgent": "aws-cli/1.0", "readOnly": False}),
        ev(3, {"resources": [{"ARN": "arn:aws:sm:::secret:prod"}]}),
        ev(4, {"requestParameters": {"note": "Break-Glass drill"}}),
    ]
    by_rule = {s.rule: s.event_ids for s in engine.evaluate(events).signals}
    assert by_rule == {"re.yml": ("e-1",), "list.yml": ("e-3",), "kw.yml": ("e-4",)}


def test_bad_rules_are_counted_and_named(tmp_path: Path) -> None:
    (tmp_path / "broken.yml").write_text("title: x\ndetection:\n  sel: [\n")
    write_rule(tmp_path, "badcond.yml", "    sel:\n        eventName: X\n    condition: sel and")
    write_rule(
        tmp_path, "badre.yml", "    sel:\n        eventName|re: '(?<oops'\n    condition: sel"
    )
    write_rule(tmp_path, "good.yml", "    sel:\n        eventName: StopLogging\n    condition: sel")
    (tmp_path / "azure.yml").write_text(
        "title: az\nlogsource:\n  product: nosuchcloud\ndetection:\n  sel:\n    a: b\n"
        "  condition: sel\n"
    )
    rules = load_rules([tmp_path, tmp_path / "missing"])
    problems = {Path(p.path).name: p for p in rules.problems}
    assert problems["broken.yml"].line == 4 and "invalid YAML" in problems["broken.yml"].reason
    assert problems["badcond.yml"].line == 1
    assert "missing" in problems and "no such file" in problems["missing"].reason
    assert [r.title for r in rules.inactive] == ["az"]
    titles = {r.title for r in rules.rules}
    assert "good.yml" in titles
    # A regex Python cannot compile fails only its own rule, at scan time, named.
    result = SigmaEngine(rules).evaluate([trail(1, "StopLogging")])
    assert [s.rule for s in result.signals] == ["good.yml"]
    if "badre.yml" in titles:
        assert any("badre.yml" in p for p in result.problems)
    else:
        assert "badre.yml" in problems


def test_unknown_log_type_is_kept_and_reported() -> None:
    engine = SigmaEngine(load_rules([OWN_RULES]))
    result = engine.evaluate([trail(1, "StopLogging"), ev(2, {"x": 1}, log_type="Acme.Widget")])
    assert result.uncovered == {"Acme.Widget": 1}
    assert result.events == 2
    assert "Acme.Widget (1)" in result.summary()


def test_suppressions_by_rule_principal_and_expiry(tmp_path: Path) -> None:
    rules = load_rules([OWN_RULES])
    stop = next(r for r in rules.rules if r.title.startswith("CloudTrail logging stopped"))
    engine = SigmaEngine(rules)
    events = [trail(1, "StopLogging", "alice"), trail(2, "StopLogging", "bob")]
    now = T0 + timedelta(hours=1)
    alice_only = Suppression(stop.id, principal="ARN:aws:iam::111:user/alice")
    result = engine.evaluate(events, suppressions=[alice_only], now=now)
    assert [s.entities["user"] for s in result.signals] == ["arn:aws:iam::111:user/bob"]
    assert result.suppressed == 1
    expired = Suppression(stop.id, expires_at=now - timedelta(minutes=1))
    assert len(engine.evaluate(events, suppressions=[expired], now=now).signals) == 2
    # The operator's file, by title, until a date.
    path = tmp_path / "supp.json"
    path.write_text(f'[{{"rule_id": "{stop.title}", "expires_at": "2099-01-01T00:00:00Z"}}]')
    live = FileSuppressions(path).active(now)
    assert engine.evaluate(events, suppressions=live, now=now).signals == []


needs_sigma = pytest.mark.skipif(
    not SIGMA.is_dir(), reason=f"SigmaHQ rules not found at {SIGMA} (../shared/datasets)"
)


@needs_sigma
def test_sigmahq_rules_load_and_fire_on_vendor_shapes() -> None:
    rules = load_rules(
        [
            SIGMA / "cloud" / "aws" / "cloudtrail" / "aws_cloudtrail_disable_logging.yml",
            SIGMA / "identity" / "okta" / "okta_admin_role_assignment_created.yml",
            SIGMA / "cloud" / "gcp" / "audit" / "gcp_access_policy_deleted.yml",
            SIGMA / "cloud" / "gcp" / "gworkspace" / "admin",
            SIGMA / "application" / "github" / "audit",
        ]
    )
    assert rules.problems == []
    # DRL 1.1: the authorship travels with the rule.
    assert all(r.author for r in rules.rules)
    engine = SigmaEngine(rules)
    events = [
        trail(1, "UpdateTrail"),
        ev(
            2,
            {"eventType": "iam.resourceset.bindings.add", "actor": {"alternateId": "m@x.io"}},
            log_type="Okta.SystemLog",
        ),
        # The rule names Elastic's data.protoPayload.*; the pipeline maps it to the raw record.
        ev(
            3,
            {
                "protoPayload": {
                    "serviceName": "accesscontextmanager.googleapis.com",
                    "authorizationInfo": [
                        {
                            "permission": "accesscontextmanager.accessPolicies.delete",
                            "granted": True,
                        }
                    ],
                    "authenticationInfo": {"principalEmail": "eve@corp.example"},
                }
            },
            log_type="GCP.AuditLog",
        ),
        # Reports API shape: eventService and the parameters are derived.
        ev(
            4,
            {
                "id": {"applicationName": "admin", "customerId": "C1"},
                "actor": {"email": "root@corp.example"},
                "events": [
                    {
                        "type": "APPLICATION_SETTINGS",
                        "name": "CHANGE_APPLICATION_SETTING",
                        "parameters": [
                            {"name": "SETTING_NAME", "value": "ContextAwareAccess level"}
                        ],
                    }
                ],
            },
            log_type="GSuite.ActivityEvent",
        ),
        ev(
            5,
            {
                "action": "org.advanced_security_disabled_on_all_repos",
                "actor": "mallory",
                "org": "acme",
            },
            log_type="GitHub.Audit",
        ),
    ]
    result = engine.evaluate(events)
    fired = {s.log_type: s for s in result.signals}
    assert set(fired) == {
        "AWS.CloudTrail",
        "Okta.SystemLog",
        "GCP.AuditLog",
        "GSuite.ActivityEvent",
        "GitHub.Audit",
    }, result.summary()
    assert fired["GCP.AuditLog"].entities["user"] == "eve@corp.example"
    assert fired["GitHub.Audit"].entities == {"user": "mallory", "account": "acme"}


@needs_sigma
def test_all_sigmahq_cloud_rules_convert() -> None:
    rules = load_rules([SIGMA])
    assert [str(p) for p in rules.problems] == []
    assert len(rules.rules) > 250
    engine = SigmaEngine(rules)
    result = engine.evaluate([trail(i, "DescribeInstances") for i in range(20)])
    assert result.problems == []
