"""The public-benchmark-shaped suites: deterministic, valid, six controls, modalities as the
benchmarks ship them, and every label backed by some evidence in the shipped data."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from evals.cases import Suite
from evals.synthetic_public import generate
from evals.synthetic_public.systems import SYSTEMS
from integrations.telemetry.scenario import ScenarioSource

NAMES = ("public-metrics", "public-multi", "public-code")
ERRORISH = ("error", "exception", "traceback", "panic", "fail", "warn")


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Suite]:
    root = tmp_path_factory.mktemp("public")
    # Fewer cases than the default 42 keep this quick; 8 still holds a control and every
    # label of every suite.
    return {n: generate(root / n, seed=7, count=8, name=n) for n in NAMES}


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file() and not f.name.startswith("."):
            h.update(f.relative_to(folder).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def test_deterministic_by_seed(tmp_path: Path) -> None:
    a = generate(tmp_path / "a", seed=7, count=3, name="public-code")
    b = generate(tmp_path / "b", seed=7, count=3, name="public-code")
    c = generate(tmp_path / "c", seed=8, count=3, name="public-code")
    da, db, dc = (_digest(s.cases[0].path.parent) for s in (a, b, c))
    assert da == db and da != dc


def test_default_size_has_six_controls() -> None:
    from evals.synthetic_public import LABELS, plan

    for name in NAMES:
        order = plan(42, LABELS[name])
        assert len(order) == 42 and sum(label is None for label, _ in order) == 6
        faults = [(label, system) for label, system in order if label is not None]
        assert {label for label, _ in faults} == set(LABELS[name])
        for label in LABELS[name]:  # every fault meets every system
            assert {system for lab, system in faults if lab == label} == {0, 1, 2}


def test_cases_load_through_the_scenario_source(suites: dict[str, Suite]) -> None:
    for suite in suites.values():
        assert sum(c.truth.control for c in suite.cases) == 1
        for case in suite.cases:
            source = ScenarioSource(case.path)
            spec = json.loads((case.path / "case.json").read_text())
            assert spec["alert"]["service"] in {s.entry for s in SYSTEMS}
            assert not source.warnings or all("no level" in w for w in source.warnings)


def test_modalities(suites: dict[str, Suite]) -> None:
    for case in suites["public-metrics"].cases:
        assert sorted(p.name for p in case.path.iterdir()) == ["case.json", "metrics.csv",
                                                               "truth.json"]
        assert json.loads((case.path / "case.json").read_text())["topology"] == []
    for name in ("public-multi", "public-code"):
        with_topology = 0
        for case in suites[name].cases:
            assert (case.path / "logs.jsonl").stat().st_size > 0
            assert (case.path / "traces.jsonl").stat().st_size > 0
            assert not (case.path / "events.jsonl").exists()
            with_topology += bool(json.loads((case.path / "case.json").read_text())["topology"])
        assert with_topology == len(suites[name].cases) // 2
    # Some log sources carry no level at all: the investigator must read the message.
    styles = set()
    for case in suites["public-code"].cases:
        for line in (case.path / "logs.jsonl").read_text().splitlines()[:400]:
            item = json.loads(line)
            styles.add("level" if "level" in item else "severity" if "severity" in item
                       else "none")
    assert styles == {"level", "severity", "none"}


def _inject(case: Path) -> float:
    notes = json.loads((case / "truth.json").read_text())["notes"]
    return float(notes.split("inject_time=")[1].split(";")[0])


def evidence(case: Path) -> list[str]:
    """What in the shipped data points at the labelled service, read straight from the
    files: a metric of its own that left its normal range, error-ish or new log lines of its
    own, or spans of its own that fail or slow."""
    truth = json.loads((case / "truth.json").read_text())["root_cause"]["service"]
    at = _inject(case)
    found: list[str] = []
    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with (case / "metrics.csv").open() as handle:
        for line in handle:
            if f",{truth}," in line:  # cheaper than parsing every row
                ts, service, metric, value = line.rstrip("\n").split(",")
                if service == truth and value:
                    series[metric].append((float(ts), float(value)))
    for metric, points in series.items():
        t, v = np.array(points).T
        before, after = v[t < at], v[(t >= at + 30) & (t < at + 300)]
        if before.size < 10 or after.size < 10:
            continue
        m0, m1 = float(np.median(before)), float(np.median(after))
        # A shift an analyst can see: beyond the sample spread, or, on a noisy series, a
        # shift of the median of at least 10% that is many standard errors wide.
        spread = max(float(np.std(before)), 1e-9 + 0.01 * abs(m0))
        mad = 1.4826 * float(np.median(np.abs(before - m0)))
        error = 1.25 * mad * float(np.sqrt(1 / before.size + 1 / after.size))
        if abs(m1 - m0) > 3 * spread or (abs(m1 - m0) > max(5 * error, 0.1 * abs(m0))):
            found.append(f"metric {metric}")
    logs = case / "logs.jsonl"
    if logs.exists():
        known_before: set[str] = set()
        counts = [0, 0]
        for line in logs.read_text().splitlines():
            item = json.loads(line)
            if item["service"] != truth:
                continue
            shape = "".join(ch for ch in item["message"] if not ch.isdigit())[:40]
            after = float(item["ts"]) >= at
            if not after:
                known_before.add(shape)
            elif shape not in known_before or any(w in item["message"].lower()
                                                  for w in ERRORISH):
                counts[1] += 1
            if not after and any(w in item["message"].lower() for w in ERRORISH):
                counts[0] += 1
        if counts[1] > 3 * counts[0] + 3:
            found.append("logs")
    traces = case / "traces.jsonl"
    if traces.exists():
        spans: dict[bool, list[tuple[float, bool]]] = {False: [], True: []}
        for line in traces.read_text().splitlines():
            item = json.loads(line)
            if item["service"] == truth:
                spans[float(item["start"]) >= at].append((item["duration_ms"],
                                                          item["status"] == "error"))
        if spans[False] and spans[True]:
            d0, e0 = np.array(spans[False]).T
            d1, e1 = np.array(spans[True]).T
            if e1.mean() > e0.mean() + 0.05 or np.median(d1) > 1.3 * np.median(d0) or \
                    np.median(d1) < 0.8 * np.median(d0):
                found.append("traces")
    return found


def test_every_label_has_evidence(suites: dict[str, Suite]) -> None:
    for suite in suites.values():
        for case in suite.cases:
            if not case.truth.control:
                assert evidence(case.path), f"{suite.name} {case.path.name}: {case.group}"


def test_the_same_suite_whatever_the_hash_seed(tmp_path: Path) -> None:
    # Python randomises the order of a set of strings per process: a generator that draws
    # in that order writes another suite every run.
    import os
    import subprocess
    import sys

    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                        "from evals.synthetic_public import generate; "
                        "generate(Path(sys.argv[1]), seed=7, count=2, name='public-multi')",
                        str(out)], check=True, env={**os.environ, "PYTHONHASHSEED": hash_seed},
                       cwd=Path(__file__).resolve().parents[1])
        digests.append(_digest(out))
    assert digests[0] == digests[1]


def test_public_counters_is_public_multi_with_running_totals(tmp_path: Path) -> None:
    multi = generate(tmp_path / "multi", seed=7, count=2, name="public-multi")
    totals = generate(tmp_path / "totals", seed=7, count=2, name="public-counters")
    for a, b in zip(multi.cases, totals.cases, strict=True):
        assert a.truth == b.truth
        for name in ("case.json", "logs.jsonl", "traces.jsonl"):
            assert (a.path / name).read_bytes() == (b.path / name).read_bytes()
        rates, read = ScenarioSource(a.path), ScenarioSource(b.path)
        assert not rates.notes and "running totals" in read.notes[0]
        service = json.loads((a.path / "truth.json").read_text())["root_cause"]["service"] \
            or "frontend"
        metric = "container-cpu-usage-seconds-total"
        want = next(s for s in rates._series[service] if s.metric == metric)
        got = next(s for s in read._series[service] if s.metric == metric)
        both = np.isfinite(want.v) & np.isfinite(got.v)
        # Read back as rates: what public-multi wrote, but where the container restarted.
        assert np.mean(np.isclose(got.v[both], want.v[both], rtol=1e-3, atol=1e-4)) > 0.99
