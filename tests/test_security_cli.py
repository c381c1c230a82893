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
