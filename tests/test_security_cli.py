"""`nightowl sigma check` / `nightowl sigma scan` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

OWN_RULES = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"


def test_check_names_bad_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.yml").write_text("title: x\nlogsource:\n  product: aws\n  service: "
                                      "cloudtrail\ndetection:\n  sel:\n    a: b\n"
                                      "  condition: sel and nothing\n")
    assert main(["sigma", "check", str(OWN_RULES)]) == 0
    assert "AWS.CloudTrail" in capsys.readouterr().out
    assert main(["sigma", "check", str(OWN_RULES), str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "skipped:" in out and "bad.yml:1" in out


def test_scan_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "trail.json").write_text(json.dumps({"Records": [{
        "eventID": "e1", "eventTime": "2026-03-02T04:11:09Z",
        "eventSource": "cloudtrail.amazonaws.com", "eventName": "StopLogging",
        "userIdentity": {"arn": "arn:aws:iam::1:user/eve"}}]}))
    assert main(["sigma", "scan", str(tmp_path), "--rules", str(OWN_RULES), "--json"]) == 0
    captured = capsys.readouterr()
    (line,) = captured.out.splitlines()
    signal = json.loads(line)
    assert signal["event_ids"] == ["e1"] and signal["entities"]["user"].endswith("user/eve")
    assert "1 signals" in captured.err


def test_sources_and_rules_from_settings(tmp_path: Path) -> None:
    from bot.security_sources import OWN_RULES as own
    from bot.security_sources import build_security_sources, rule_roots
    from bot.settings import SecurityDetectionSettings

    for folder in ("a", "b", "r1", "r2"):  # paths are checked when read: they exist
        (tmp_path / folder).mkdir()
    config = SecurityDetectionSettings(
        cloudtrail_paths=f"{tmp_path}/a:{tmp_path}/b", json_paths=str(tmp_path),
        json_log_type="Acme.Audit", okta_url="http://127.0.0.1:9", okta_token="t",
        github_org="acme", github_token="ghp_g", sigma_rules=f"{tmp_path}/r1,{tmp_path}/r2")
    names = [s.name for s in build_security_sources(config)]
    assert names == ["cloudtrail", "json", "okta", "github"]
    assert rule_roots(config) == [own, tmp_path / "r1", tmp_path / "r2"]
    assert build_security_sources(SecurityDetectionSettings()) == []
