"""Security scan: the loaded Sigma rules evaluated over 200,000 generated events (70% CloudTrail,
15% Okta, 15% GitHub audit; vendor-shaped records with nested request parameters), in
batches of 50,000 as the scan job hands them over. Prints events/s on one core (flattening,
loading into SQLite, every rule's query, suppression and grouping included) with the number of
rules loaded, and the signals raised.

Rules: the project's own, plus SigmaHQ's cloud/SaaS/identity rules from
../shared/datasets/sigma when present (DRL 1.1, read in place).
"""

from __future__ import annotations

import random
import resource
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integrations.security.engine import SigmaEngine
from integrations.security.sigma import load_rules
from integrations.security.types import SecurityEvent

EVENTS = 200_000
BATCH = 50_000
ROOT = Path(__file__).resolve().parents[1]
OWN = ROOT / "integrations" / "security" / "rules"
SIGMA = ROOT.parent / "shared" / "datasets" / "sigma" / "rules"

AWS_CALLS = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("iam.amazonaws.com", "ListRoles"),
    ("kms.amazonaws.com", "Decrypt"),
    ("lambda.amazonaws.com", "Invoke"),
    ("logs.amazonaws.com", "PutLogEvents"),
    ("dynamodb.amazonaws.com", "GetItem"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("signin.amazonaws.com", "ConsoleLogin"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"),
]
OKTA_TYPES = [
    "user.session.start",
    "user.authentication.sso",
    "user.mfa.factor.deactivate",
    "policy.evaluate_sign_on",
    "user.account.privilege.grant",
    "app.oauth2.as.token.grant",
]
GITHUB_ACTIONS = [
    "repo.create",
    "git.clone",
    "protected_branch.destroy",
    "org.add_member",
    "workflows.completed_workflow_run",
    "repo.access",
    "team.add_repository",
]


def _cloudtrail(rng: random.Random, ts: datetime) -> dict[str, Any]:
    source, name = rng.choice(AWS_CALLS[:9]) if rng.random() < 0.98 else rng.choice(AWS_CALLS)
    user = f"user{rng.randrange(200)}"
    return {
        "eventVersion": "1.09",
        "eventTime": ts.isoformat().replace("+00:00", "Z"),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": f"198.51.{rng.randrange(256)}.{rng.randrange(256)}",
        "userAgent": rng.choice(
            ["aws-cli/2.15.0 Python/3.11", "Boto3/1.34 botocore/1.34", "console.amazonaws.com"]
        ),
        "userIdentity": {
            "type": "IAMUser",
            "principalId": f"AIDA{rng.getrandbits(40):x}",
            "arn": f"arn:aws:iam::111122223333:user/{user}",
            "accountId": "111122223333",
            "userName": user,
            "sessionContext": {
                "attributes": {"mfaAuthenticated": "true", "creationDate": "2026-01-01T00:00:00Z"}
            },
        },
        "requestParameters": {
            "bucketName": f"b{rng.randrange(50)}",
            "key": f"k/{rng.random()}",
            "filter": [{"name": "instance-state", "values": ["running"]}],
            "tags": {f"t{i}": str(i) for i in range(6)},
        },
        "responseElements": None if rng.random() < 0.7 else {"credentials": {"expiration": "x"}},
        "requestID": f"{rng.getrandbits(64):x}",
        "eventID": f"{rng.getrandbits(64):x}",
        "readOnly": name.startswith(("Describe", "Get", "List")),
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": "111122223333",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256"},
    }


def _okta(rng: random.Random, ts: datetime) -> dict[str, Any]:
    return {
        "uuid": f"{rng.getrandbits(64):x}",
        "published": ts.isoformat(),
        "eventType": rng.choice(OKTA_TYPES) if rng.random() < 0.05 else OKTA_TYPES[0],
        "displayMessage": "User login to Okta",
        "severity": "INFO",
        "actor": {
            "id": "00u1",
            "type": "User",
            "alternateId": f"u{rng.randrange(300)}@corp.example",
        },
        "client": {
            "ipAddress": f"203.0.113.{rng.randrange(256)}",
            "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
            "geographicalContext": {"country": "France", "city": "Paris"},
        },
        "outcome": {"result": "SUCCESS"},
        "securityContext": {"isProxy": False},
        "debugContext": {"debugData": {"requestUri": "/api/v1/authn", "behaviors": "{}"}},
        "target": [{"id": "0oa1", "type": "AppInstance", "displayName": "Slack"}],
    }


def _github(rng: random.Random, ts: datetime) -> dict[str, Any]:
    return {
        "@timestamp": int(ts.timestamp() * 1000),
        "_document_id": f"{rng.getrandbits(64):x}",
        "action": rng.choice(GITHUB_ACTIONS) if rng.random() < 0.1 else "git.clone",
        "actor": f"dev{rng.randrange(100)}",
        "actor_ip": f"192.0.2.{rng.randrange(256)}",
        "org": "acme",
        "repo": f"acme/r{rng.randrange(40)}",
        "user_agent": "git/2.43",
        "actor_location": {"country_code": "FR"},
    }


def generate(n: int, end: datetime) -> list[SecurityEvent]:
    rng = random.Random(21)
    start = end - timedelta(hours=1)
    out: list[SecurityEvent] = []
    for i in range(n):
        ts = start + timedelta(seconds=3600 * i / n)
        roll = rng.random()
        if roll < 0.70:
            log_type, body = "AWS.CloudTrail", _cloudtrail(rng, ts)
        elif roll < 0.85:
            log_type, body = "Okta.SystemLog", _okta(rng, ts)
        else:
            log_type, body = "GitHub.Audit", _github(rng, ts)
        out.append(SecurityEvent(id=f"e-{i}", log_type=log_type, ts=ts, event=body))
    return out


def main() -> None:
    roots = [OWN] + ([SIGMA] if SIGMA.is_dir() else [])
    started = time.perf_counter()
    rules = load_rules(roots)
    load_s = time.perf_counter() - started
    engine = SigmaEngine(rules)
    events = generate(EVENTS, datetime(2026, 3, 2, tzinfo=UTC))
    applicable = sum(len(rules.for_log_type(t)) for t in {e.log_type for e in events})
    signals = 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    for i in range(0, len(events), BATCH):
        result = engine.evaluate(events[i : i + BATCH])
        signals += len(result.signals)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"rules loaded: {len(rules.rules)} from {rules.files} files in {load_s:.1f}s "
        f"({applicable} apply to the generated log types; "
        f"{'own + SigmaHQ' if SIGMA.is_dir() else 'own only: ../shared/datasets missing'})"
    )
    print(f"events: {EVENTS:,} in batches of {BATCH:,}; signals: {signals}")
    print(
        f"scan: {EVENTS / wall:,.0f} events/s wall, {EVENTS / cpu:,.0f} events/s per CPU second"
        " (one core: single-threaded)"
    )
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
