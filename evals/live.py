"""Any suite as nightowl sees it live: investigated the moment the alert fires.

Labelled datasets ship the minutes after a fault as well as those before it, and an engine
developed on them can lean on what happened after the alert (whether a blip passed, how a
fault went on). In production the data ends at `fired_at`. `live(suite)` writes a copy of
every case with the telemetry after the alert dropped and the window ending at the alert
(`--suite wide-live`, `--suite public-multi-live`, ...), so that reliance shows in figures.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

from evals.cases import Suite, load_suite
from integrations.telemetry.dialects import canonical
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.scenario import parse_ts

VERSION = 1
# Each JSONL file's time field (DESIGN.md's name; other exporters' aliases are read too).
TIME_FIELD = {"logs.jsonl": "ts", "events.jsonl": "ts", "traces.jsonl": "start"}


def live(suite: Suite, out: Path) -> Suite:
    """`suite` cut at each case's alert, written under `out` (regenerated when stale)."""
    stamp = json.dumps({"version": VERSION, "cases": [
        [str(c.path), *(f.stat().st_mtime_ns for f in sorted(c.path.iterdir()))]
        for c in suite.cases]})
    if (out / ".stamp").is_file() and (out / ".stamp").read_text() == stamp:
        return load_suite(out, name=f"{suite.name}-live")
    if out.exists():
        shutil.rmtree(out)
    for case in suite.cases:
        cut_at_alert(case.path, out / case.name)
    (out / ".stamp").write_text(stamp)
    return load_suite(out, name=f"{suite.name}-live")


def cut_at_alert(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True)
    spec = json.loads((src / "case.json").read_text())
    end = parse_ts(spec["alert"]["fired_at"], "alert.fired_at")
    window = spec.get("window") or {}
    if window.get("end") is not None:
        window["end"] = min(parse_ts(window["end"], "window.end"), end)
        spec["window"] = window
    (dst / "case.json").write_text(json.dumps(spec, indent=1))
    for file in src.iterdir():
        if file.name == "case.json" or not file.is_file():
            continue
        if file.name == "metrics.csv":
            _cut_metrics(file, dst / file.name, end)
        elif file.name in TIME_FIELD:
            field = TIME_FIELD[file.name]
            lines = [line for line in file.read_text().splitlines()
                     if line.strip() and _before_line(line, field, end)]
            (dst / file.name).write_text("".join(f"{line}\n" for line in lines))
        else:
            shutil.copy(file, dst / file.name)


def _before_line(line: str, field: str, end: float) -> bool:
    """At or before `end`; a line the scenario loader would refuse is kept for it to report."""
    try:
        item = json.loads(line)
        return not isinstance(item, dict) or \
            parse_ts(canonical(item, (field,)).get(field), field) <= end
    except (ValueError, ScenarioError):
        return True


def _cut_metrics(src: Path, dst: Path, end: float) -> None:
    with src.open(newline="") as fin, dst.open("w", newline="") as fout:
        rows = csv.reader(fin)
        header = next(rows)
        at = [h.strip().lower() for h in header].index("timestamp")
        out = csv.writer(fout, lineterminator="\n")
        out.writerow(header)
        out.writerows(row for row in rows if _before(row, at, end))


def _before(row: list[str], at: int, end: float) -> bool:
    """At or before `end`; a row the scenario loader would refuse is kept for it to count."""
    try:
        return parse_ts(row[at], "timestamp") <= end
    except (IndexError, ScenarioError):
        return True
