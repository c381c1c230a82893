"""`--suite NAME-live`: any suite as nightowl meets it in production, cut at each alert."""

from __future__ import annotations

import json
from pathlib import Path

from evals.cases import load_suite
from evals.live import live

T0 = 1_700_000_000


def write_case(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": T0 + 600},
        "alert": {"name": "HighLatency", "service": "front", "signal": "latency",
                  "fired_at": "2023-11-14T22:21:40Z"}}))  # T0 + 500
    (path / "metrics.csv").write_text("Timestamp,service,metric,value\n" + "".join(
        f"{T0 + i * 100},front,latency,{i}\n" for i in range(7)) + "garbage,front,latency,1\n")
    (path / "logs.jsonl").write_text(
        json.dumps({"@timestamp": T0 + 400, "service": "front", "message": "before"}) + "\n"
        + "not json\n" + json.dumps({"service": "front", "message": "no time"}) + "\n"
        + json.dumps({"ts": T0 + 550, "service": "front", "message": "after"}) + "\n")
    (path / "traces.jsonl").write_text(
        json.dumps({"trace_id": "1", "span_id": "1", "service": "front", "operation": "get",
                    "startTime": (T0 + 600) * 1_000_000, "duration_ms": 3}) + "\n")
    (path / "events.jsonl").write_text(
        json.dumps({"ts": "2023-11-14T22:15:00Z", "service": "front", "kind": "deploy"}) + "\n")
    (path / "truth.json").write_text('{"root_cause": {"service": "front", "kind": "cpu"}}')


def test_everything_after_the_alert_is_dropped_in_any_dialect(tmp_path: Path) -> None:
    write_case(tmp_path / "suite" / "a")
    cut = live(load_suite(tmp_path / "suite"), tmp_path / "out")
    assert cut.name == "suite-live" and len(cut.cases) == 1
    case = cut.cases[0].path
    spec = json.loads((case / "case.json").read_text())
    assert spec["window"]["end"] == T0 + 500
    rows = (case / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[3] for r in rows[1:]] == ["0", "1", "2", "3", "4", "5", "1"]
    assert "before" in (case / "logs.jsonl").read_text()
    assert "not json" in (case / "logs.jsonl").read_text()  # for the loader to report
    assert "no time" in (case / "logs.jsonl").read_text()
    assert "after" not in (case / "logs.jsonl").read_text()
    assert (case / "traces.jsonl").read_text() == ""
    assert "deploy" in (case / "events.jsonl").read_text()
    assert (case / "truth.json").is_file()


def test_a_fresh_copy_is_reused_and_a_stale_one_rewritten(tmp_path: Path) -> None:
    write_case(tmp_path / "suite" / "a")
    live(load_suite(tmp_path / "suite"), tmp_path / "out")
    marker = tmp_path / "out" / "a" / "marker"
    marker.write_text("x")
    live(load_suite(tmp_path / "suite"), tmp_path / "out")
    assert marker.exists()
    (tmp_path / "suite" / "a" / "truth.json").write_text(
        '{"root_cause": {"service": "front", "kind": "memory"}}')  # the suite was rewritten
    live(load_suite(tmp_path / "suite"), tmp_path / "out")
    assert not marker.exists()
    live(load_suite(tmp_path / "suite"), tmp_path / "out")
    marker.parent.mkdir(exist_ok=True)
    marker.write_text("x")
    write_case(tmp_path / "suite" / "b")
    assert len(live(load_suite(tmp_path / "suite"), tmp_path / "out").cases) == 2
    assert not marker.exists()
