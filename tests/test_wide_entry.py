"""`--suite wide-entry`: the wide incidents with metrics and change events only, the alert on
the system's entry service whatever the fault moved (as a fault-labelled benchmark raises it)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from evals.synthetic_wide import WideCase, generate


def test_the_alert_moves_to_the_entry_service_and_nothing_else_changes(tmp_path: Path) -> None:
    bare = generate(tmp_path / "bare", seed=7, count=7, name="wide-bare", bare=True)
    entry = generate(tmp_path / "entry", seed=7, count=7, name="wide-entry", bare=True,
                     entry=True)
    assert [c.truth for c in bare.cases] == [c.truth for c in entry.cases]
    for i, (b, e) in enumerate(zip(bare.cases, entry.cases, strict=True)):
        alert = json.loads((e.path / "case.json").read_text())["alert"]
        incident = WideCase(7, i)
        assert alert["service"] == incident.dag.services[0]
        assert alert["metric"] == incident.m["lat"]
        assert alert["fired_at"] == json.loads((b.path / "case.json").read_text())[
            "alert"]["fired_at"]
        with (e.path / "metrics.csv").open() as rows:
            assert any(r["service"] == alert["service"] and r["metric"] == alert["metric"]
                       for r in csv.DictReader(rows))
        assert (b.path / "metrics.csv").read_text() == (e.path / "metrics.csv").read_text()
        assert not (e.path / "logs.jsonl").exists() and not (e.path / "traces.jsonl").exists()
