"""The detection conformance eval on the real datasets (skipped without ../shared/datasets)."""

from __future__ import annotations

import pytest

from evals.security_detection import (
    OWN,
    SECURITY,
    _canonical,
    load_panther,
    panther_conformance,
    stratus_detection,
)
from integrations.security.sigma import load_rules

pytestmark = pytest.mark.skipif(
    not (SECURITY / "panther_tests.jsonl").is_file(),
    reason=f"security dataset not found at {SECURITY} (../shared/datasets)",
)


def test_own_rules_on_stratus_and_panther() -> None:
    rules = load_rules([OWN])
    canonical, _ = _canonical()
    stratus = {r.technique: r for r in stratus_detection(SECURITY / "stratus", rules, canonical)}
    assert len(stratus) == 25
    for technique in ("aws.defense-evasion.cloudtrail-stop", "aws.exfiltration.ec2-share-ami",
                      "aws.persistence.iam-backdoor-user"):
        assert stratus[technique].fired and stratus[technique].same_intent, technique
    # None of the project's rules keys on the anonymised user agent or region.
    assert all(not r.anonymised_fields for r in stratus.values())
    report = panther_conformance(load_panther(SECURITY / "panther_tests.jsonl"), rules,
                                 canonical)
    trail = report.by_log_type["AWS.CloudTrail"]
    assert trail.tests > 300 and trail.expected > 100
    assert trail.agree_fire <= trail.fired and trail.agree_fire <= trail.covered
    assert report.excluded["needs mocks"] > 0
