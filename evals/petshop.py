"""Convert the PetShop root-cause dataset to scenario directories, reading the raw files in place.

PetShop dataset, Amazon Science, CC-BY-4.0 (https://github.com/amazon-science/petshop-root-cause-analysis).
Each issue folder holds 25 minutes of CloudWatch metrics around an injected fault; the
regime's `noissue/` folder holds days of normal operation. A case gets the last hours of that
normal period re-timed to end where the issue window starts (the investigator's baseline),
then the issue window itself; the alert is the target node and metric; the call graph comes
from `graph.csv` (rows call columns). The temporal regimes ship no normal period of their own:
they borrow `low_traffic/noissue`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path
from typing import Any

from evals.cases import LabelledCase, Suite, load_truth
from evals.errors import SuiteError

CREDIT = "PetShop dataset, Amazon Science, CC-BY-4.0"
REGIMES = ("low_traffic", "high_traffic", "temporal_traffic1", "temporal_traffic2")
BASELINE_POINTS = 144  # 12 hours at PetShop's 5-minute resolution
SIGNALS = {"latency": "latency", "availability": "availability", "requests": "throughput"}


def _read_wide(path: Path) -> tuple[list[tuple[str, str, str]], list[list[str]]]:
    """PetShop's wide CSV: three header rows (component, metric, statistic), then data."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    if len(rows) < 5 or rows[0][0] != "microservice" or rows[3][0] != "unix_timestamp":
        raise SuiteError(f"{path}: not a PetShop metrics file (expected the microservice/"
                         "metric/statistic/unix_timestamp header rows)")
    columns = list(zip(rows[0][1:], rows[1][1:], rows[2][1:], strict=False))
    return columns, rows[4:]


def _metric(metric: str, statistic: str) -> str:
    return f"{metric}_{statistic}"


def kind_of(command: str) -> str:
    """The fault kind from the dataset's reproduction command."""
    if "ssm put-parameter" in command:
        return "config"
    if "cdk deploy" in command:
        return "deploy"
    if "requests" in command:
        return "traffic"
    return "dependency"


def convert_issue(issue: Path, baseline: Path, graph: Path, out: Path) -> Path:
    target_file = issue / "target.json"
    try:
        target = json.loads(target_file.read_text())
        alert_node = target["target"]["node"]
        alert_metric = target["target"]["metric"]
        agg = target["target"]["agg"]
        fired = float(target["target"]["timestamp"])
        root = target["root_cause"]["node"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SuiteError(f"{target_file}: malformed ({exc})") from exc
    columns, rows = _read_wide(issue / "metrics.csv")
    base_columns, base_rows = _read_wide(baseline)
    first_ts = float(rows[0][0])
    base_rows = base_rows[-BASELINE_POINTS:]
    step = 300.0
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metrics.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)  # component names may hold commas; let csv quote them
        writer.writerow(["timestamp", "service", "metric", "value"])
        for offset, row in enumerate(base_rows):
            ts = first_ts - step * (len(base_rows) - offset)
            _write_row(writer, ts, base_columns, row)
        for row in rows:
            _write_row(writer, float(row[0]), columns, row)
    edges = _graph(graph)
    command = str(target.get("metadata", {}).get("reproducibility", {}).get("command", ""))
    case = {
        "id": "petshop-" + hashlib.sha256(str(issue).encode()).hexdigest()[:10],
        "alert": {"name": f"{alert_metric} {agg}".title().replace(" ", ""),
                  "service": alert_node, "signal": SIGNALS.get(alert_metric, "other"),
                  "metric": _metric(alert_metric, agg), "severity": "critical",
                  "fired_at": fired,
                  "summary": f"{alert_metric} ({agg}) of {alert_node} is abnormal"},
        "window": {"start": first_ts - step * len(base_rows), "end": float(rows[-1][0])},
        "topology": [{"caller": a, "callee": b} for a, b in edges],
    }
    (out / "case.json").write_text(json.dumps(case, indent=1))
    (out / "truth.json").write_text(json.dumps({
        "root_cause": {"service": root, "kind": kind_of(command)}, "also_correct": [],
        "notes": f"{CREDIT}; {issue.parent.parent.name}/{issue.parent.name}/{issue.name}"}))
    return out


def _write_row(writer: Any, ts: float, columns: list[tuple[str, str, str]],
               row: list[str]) -> None:
    for (component, metric, statistic), value in zip(columns, row[1:], strict=False):
        if not value:
            continue
        try:
            number = float(value)
        except ValueError:
            continue
        if math.isfinite(number):
            writer.writerow([f"{ts:.0f}", component, _metric(metric, statistic), f"{number:.6g}"])


def _graph(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    names = rows[0][1:]
    edges = []
    for row in rows[1:]:
        for callee, cell in zip(names, row[1:], strict=False):
            if cell and float(cell) != 0 and callee != row[0]:
                edges.append((row[0], callee))
    return edges


# The other traffic level's normal period, for the crossed development suite (the temporal
# regimes borrow low_traffic's by default, so their other level is high_traffic's).
OTHER_LEVEL = {"low_traffic": "high_traffic", "high_traffic": "low_traffic",
               "temporal_traffic1": "high_traffic", "temporal_traffic2": "high_traffic"}


def _dataset_root(dataset: Path) -> Path:
    root = dataset / "dataset" if (dataset / "dataset").is_dir() else dataset
    if not root.is_dir():
        raise SuiteError(f"PetShop dataset not found at {dataset}")
    return root


def _issues(split: Path) -> list[Path]:
    return sorted(split.glob("issue_*"), key=lambda p: int(p.name.split("_")[1]))


def convert_crossed(dataset: Path, out: Path) -> Suite:
    """A development suite: the real faults of the `train/` split, each against the normal
    period of the other traffic level. The temporal regimes ship no normal period and borrow
    one, so their incidents sit on a baseline recorded at another load; this puts every real
    fault in that position, without touching `test/`."""
    root = _dataset_root(dataset)
    suite = Suite("petshop-crossed", credit=CREDIT)
    for regime in REGIMES:
        other = OTHER_LEVEL[regime]
        baseline = root / other / "noissue" / "metrics.csv"
        if not baseline.is_file():
            raise SuiteError(f"PetShop normal period missing: {baseline}")
        for issue in _issues(root / regime / "train"):
            target = out / f"{regime}-vs-{other}" / issue.name
            if not (target / ".converted").is_file():
                convert_issue(issue, baseline, root / regime / "graph.csv", target)
                (target / ".converted").write_text("1")
            suite.cases.append(LabelledCase(target, load_truth(target), f"{regime} vs {other}"))
    return suite


def convert(dataset: Path, out: Path, *, split: str = "test",
            regimes: tuple[str, ...] = REGIMES) -> Suite:
    """Convert (or reuse) every issue of the split; one suite, grouped by traffic regime."""
    root = _dataset_root(dataset)
    suite = Suite(f"petshop-{split}", credit=CREDIT)
    for regime in regimes:
        folder = root / regime
        if not folder.is_dir():
            raise SuiteError(f"PetShop regime folder missing: {folder}")
        baseline = folder / "noissue" / "metrics.csv"
        if not baseline.is_file():
            baseline = root / "low_traffic" / "noissue" / "metrics.csv"
        for issue in _issues(folder / split):
            target = out / regime / issue.name
            stamp = target / ".converted"
            if not stamp.is_file():
                convert_issue(issue, baseline, folder / "graph.csv", target)
                stamp.write_text("1")
            suite.cases.append(LabelledCase(target, load_truth(target), regime))
    return suite
