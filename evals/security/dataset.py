"""The shared security dataset, read in place, and the AWS account the triage cases happen in.

Data: "Panther Analysis rule tests, Panther Labs, Apache-2.0" and "Stratus Red Team
detonation logs, Datadog, Apache-2.0" (`../shared/datasets/security`; nothing of it is copied
into the repository). `load_dataset` reads it; a `Builder` turns it into events: the people
and CI roles of one invented account, their routine CloudTrail, a Stratus detonation replayed
as one of them, a Panther rule test's log as an event. Which stories the cases tell is
`evals/security/generate.py`'s business.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evals.errors import EvalError

CREDIT = ("Panther Analysis rule tests, Panther Labs, Apache-2.0; Stratus Red Team detonation "
          "logs, Datadog, Apache-2.0")
DATASET = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "security"
PEOPLE = ("maria.lopez", "j.okafor", "chen.wei", "a.novak", "sam.taylor", "priya.r",
          "lukas.b", "fatima.z", "tom.h", "ines.m")
CI_ROLES = ("github-actions-deploy", "gitlab-runner", "terraform-ci")
HOME_NETS = ("81.2.69", "92.40.180", "176.24.33", "109.144.12", "86.150.7")
AGENTS = ("aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 prompt/off",
          "aws-cli/2.13.2 Python/3.11.4 Darwin/23.1.0 exe/x86_64 prompt/off",
          "Boto3/1.34.51 md/Botocore#1.34.51 ua/2.0 os/linux#6.1 lang/python#3.12.2",
          "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.0 api/ec2#1.150.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 Chrome/124.0")
ROUTINE = (("ec2", "DescribeInstances", True), ("s3", "ListBuckets", True),
           ("iam", "GetUser", True), ("logs", "DescribeLogGroups", True),
           ("cloudwatch", "GetMetricData", True), ("ec2", "CreateTags", False),
           ("s3", "PutObject", False), ("sts", "GetCallerIdentity", True),
           ("lambda", "ListFunctions", True), ("ecs", "UpdateService", False),
           ("ssm", "DescribeInstanceInformation", True), ("rds", "DescribeDBInstances", True))


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_dataset(root: Path) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    stratus_dir, panther = root / "stratus", root / "panther_tests.jsonl"
    if not stratus_dir.is_dir() or not panther.is_file():
        raise EvalError(f"{root}: the security dataset is missing (expected stratus/ and "
                        f"panther_tests.jsonl; see ../shared/datasets/security/README.md)")
    stratus = {}
    for path in sorted(stratus_dir.glob("*.json")):
        data = json.loads(path.read_text())
        stratus[data["id"].split(".", 2)[2]] = data
    tests = [json.loads(line) for line in panther.open() if line.strip()]
    return stratus, tests


class Builder:
    """One suite's random source and the identities it invents."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.account = str(self.rng.randrange(10**11, 10**12))
        self.counter = 0

    def ident(self) -> str:
        self.counter += 1
        return f"e-{self.rng.randrange(10**5, 10**6)}{self.counter}"

    def home_ip(self, person: str) -> str:
        net = HOME_NETS[sum(map(ord, person)) % len(HOME_NETS)]
        return f"{net}.{10 + sum(map(ord, person)) % 200}"

    def agent(self, person: str) -> str:
        return AGENTS[sum(map(ord, person)) * 7 % len(AGENTS)]

    def identity(self, name: str, *, role: bool = False) -> dict[str, Any]:
        if role:
            session = f"{name}-{self.rng.randrange(10**6, 10**7)}"
            return {"type": "AssumedRole", "accountId": self.account,
                    "principalId": f"AROA{self.rng.randrange(10**9, 10**10)}:{session}",
                    "arn": f"arn:aws:sts::{self.account}:assumed-role/{name}/{session}",
                    "accessKeyId": f"ASIA{self.rng.randrange(10**11, 10**12)}",
                    "sessionContext": {"attributes": {"mfaAuthenticated": "false"},
                                       "sessionIssuer": {"type": "Role", "userName": name,
                                                         "arn": f"arn:aws:iam::{self.account}:"
                                                                f"role/{name}"}}}
        return {"type": "IAMUser", "accountId": self.account, "userName": name,
                "principalId": f"AIDA{sum(map(ord, name)) * 104729 % 10**10:010d}",
                "arn": f"arn:aws:iam::{self.account}:user/{name}",
                "accessKeyId": f"AKIA{sum(map(ord, name)) * 7919 % 10**12:012d}"}

    def record(self, identity: dict[str, Any], source: str, name: str, read_only: bool,
               when: datetime, ip: str, agent: str, **extra: Any) -> dict[str, Any]:
        return {"eventVersion": "1.09", "userIdentity": identity, "eventTime": timestamp(when),
                "eventSource": f"{source}.amazonaws.com", "eventName": name,
                "awsRegion": "eu-west-1", "sourceIPAddress": ip, "userAgent": agent,
                "requestParameters": extra.pop("request", None), "responseElements": None,
                "readOnly": read_only, "eventType": "AwsApiCall", "managementEvent": True,
                "recipientAccountId": self.account,
                "eventID": f"{self.rng.randrange(16**8, 16**9):x}-bg", **extra}

    def wrap(self, raw: dict[str, Any], when: datetime, log_type: str = "AWS.CloudTrail"
             ) -> dict[str, Any]:
        return {"id": self.ident(), "log_type": log_type, "ts": timestamp(when), "event": raw}

    def background(self, person: str, identity: dict[str, Any], until: datetime, *,
                   count: int, ip: str | None = None, agent: str | None = None
                   ) -> list[dict[str, Any]]:
        out = []
        for _ in range(count):
            source, name, read_only = self.rng.choice(ROUTINE)
            when = until - timedelta(minutes=self.rng.randrange(30, 20 * 60))
            out.append(self.wrap(self.record(identity, source, name, read_only, when,
                                             ip or self.home_ip(person),
                                             agent or self.agent(person)), when))
        return out

    def others(self, until: datetime, count: int) -> list[dict[str, Any]]:
        """Other principals' routine work: noise the checklist must not attribute."""
        out = []
        for _ in range(count):
            person = self.rng.choice(PEOPLE)
            out.extend(self.background(person, self.identity(person), until, count=1))
        role = self.rng.choice(CI_ROLES)
        out.extend(self.background(role, self.identity(role, role=True), until, count=3,
                                   ip="34.201.10.5", agent=AGENTS[3]))
        return out

    def detonation(self, technique: dict[str, Any], identity: dict[str, Any], at: datetime,
                   ip: str, agent: str) -> list[dict[str, Any]]:
        """A Stratus detonation's events as this identity's, shifted to start at `at`.
        Assumed-role sessions of the detonation stay roles, linked by their AssumeRole."""
        events = technique["events"]
        start = datetime.fromisoformat(events[0]["eventTime"].replace("Z", "+00:00"))
        out = []
        for raw in events:
            record = copy.deepcopy(raw)
            when = at + (datetime.fromisoformat(raw["eventTime"].replace("Z", "+00:00"))
                         - start)
            record["eventTime"] = timestamp(when)
            record["recipientAccountId"] = self.account
            record["awsRegion"] = "eu-west-1"
            record["sourceIPAddress"] = ip
            record["userAgent"] = agent
            if record.get("userIdentity", {}).get("type") == "IAMUser":
                record["userIdentity"] = copy.deepcopy(identity)
            out.append(self.wrap(record, when))
        return out


def action_of(log: dict[str, Any]) -> str | None:
    for key in ("eventName", "action", "name", "operationName", "eventType", "type"):
        value = log.get(key)
        if isinstance(value, str):
            return value
    return None


def log_type_of(test: dict[str, Any]) -> str:
    return str(test["log"].get("p_log_type") or (test["log_types"] or ["Unknown"])[0])


def in_half(rule_id: str, split: str) -> bool:
    digest = hashlib.sha256(rule_id.encode()).digest()[0]
    return (digest % 2 == 0) == (split == "dev")


def panther_event(b: Builder, test: dict[str, Any], at: datetime) -> dict[str, Any]:
    raw = copy.deepcopy(test["log"])
    if "eventTime" in raw:
        raw["eventTime"] = timestamp(at)
    return b.wrap(raw, at, log_type_of(test))


def principal_of(event: dict[str, Any]) -> str | None:
    from integrations.security.entities import extract_entities

    return extract_entities(event["log_type"], event["event"]).principal
