"""Hand-made security case directories for the triage tests (no dataset needed)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"


def ts(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def user(name: str) -> dict[str, Any]:
    return {"type": "IAMUser", "userName": name, "accountId": ACCOUNT,
            "arn": f"arn:aws:iam::{ACCOUNT}:user/{name}", "principalId": f"AIDA{len(name)}",
            "accessKeyId": "AKIAEXAMPLEKEY000001"}


def role(name: str, session: str = "s-1") -> dict[str, Any]:
    return {"type": "AssumedRole", "accountId": ACCOUNT,
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{session}",
            "principalId": f"AROAEXAMPLE:{session}",
            "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
                               "sessionIssuer": {"type": "Role", "userName": name,
                                                 "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}}}


def ct(name: str, minutes: float, *, who: dict[str, Any] | None = None,
       ip: str = "81.2.69.10", agent: str = "aws-cli/2.15.30", source: str = "iam",
       error: str | None = None, read_only: bool = False,
       request: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    record = {"eventVersion": "1.09", "userIdentity": who or user("alice"),
              "eventTime": ts(minutes), "eventSource": f"{source}.amazonaws.com",
              "eventName": name, "awsRegion": "eu-west-1", "sourceIPAddress": ip,
              "userAgent": agent, "requestParameters": request, "readOnly": read_only,
              "recipientAccountId": ACCOUNT, **extra}
    if error:
        record["errorCode"] = error
    return record


def history(count: int = 6, **kwargs: Any) -> list[dict[str, Any]]:
    """Routine reads by the actor over the previous day."""
    names = ("DescribeInstances", "ListBuckets", "GetUser")
    return [ct(names[i % 3], -60 * (3 + 2 * i), read_only=True, source="ec2", **kwargs)
            for i in range(count)]


def write_case(folder: Path, events: list[dict[str, Any]], *, triggers: list[int],
               context: dict[str, Any] | None = None, rule: str = "Test rule",
               severity: str = "high", techniques: list[str] | None = None,
               log_type: str = "AWS.CloudTrail") -> Path:
    """Events are numbered e-1.. in the order given; `triggers` are indexes into them."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n, raw in enumerate(events):
        when = raw.get("eventTime") or raw.get("published") or ts(0)
        rows.append({"id": f"e-{n + 1}", "log_type": raw.pop("_log_type", log_type),
                     "ts": when, "event": raw})
    fired = max(rows[i]["ts"] for i in triggers) if triggers else ts(0)
    case = {"id": folder.name,
            "signal": {"rule": rule, "severity": severity, "source": "sigma",
                       "log_type": log_type, "fired_at": fired,
                       "event_ids": [rows[i]["id"] for i in triggers], "entities": {},
                       "techniques": techniques or []},
            "context": context or {}}
    (folder / "case.json").write_text(json.dumps(case))
    (folder / "events.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder
