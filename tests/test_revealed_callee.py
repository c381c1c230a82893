"""Calls the topology does not list, revealed by the caller's own error lines ("call to
users-db failed", "upstream users-db responded 503"): topologies drawn from traces miss the
databases and third parties no span reaches, and the lines name them. A service the graph
lists under another caller only is revealed too where a line addresses it as a call's target
(a pooler the topology lists under a batch job, which the API's lines say it calls as well);
a service the lines merely mention ("failed to convert currency") is not.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 160
ONSET = 130


def write_case(path: Path, *, name: str = "users-db", listed: bool = False,
               naming: int = 1, elsewhere: bool = False,
               wording: str = "call to {name} failed: context deadline exceeded") -> Path:
    """web calls users and ledger; users calls a database the topology leaves out (or lists,
    `listed`). From ONSET the database's query time jumps and its disk reads double; users'
    latency follows a sample later, web's errors with it. users' new error lines: statement
    timeouts, and "call to {name} failed" (`wording`) in half of them (in `naming` of every
    `naming` + 1). `elsewhere`: the topology lists the database under ledger only."""
    rng = np.random.default_rng(11)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("web", "users", "ledger"):
        series[(service, "http_5xx_per_second")] = 2 + rng.normal(0, 0.3, N)
        series[(service, "latency_p99_ms")] = 80 + rng.normal(0, 3, N)
        series[(service, "cpu_usage_ratio")] = 0.3 + rng.normal(0, 0.01, N)
    series[("users-db", "query_latency_p99_ms")] = 12 + rng.normal(0, 0.5, N)
    series[("users-db", "pg_disk_read_bytes_per_second")] = 5e6 + rng.normal(0, 2e5, N)
    series[("users-db", "query_latency_p99_ms")][ONSET:] += 6000
    series[("users-db", "pg_disk_read_bytes_per_second")][ONSET:] += 5e6
    series[("users", "latency_p99_ms")][ONSET + 1:] += 3000
    series[("web", "http_5xx_per_second")][ONSET + 1:] += 20
    write_metrics(path, series, t0=T0, step=STEP)

    def line(i: int, message: str) -> dict[str, object]:
        return {"ts": T0 + i * STEP + 3, "service": "users", "level": "error",
                "message": message}

    lines = [line(i, f"cache refresh slow req={i:05x}") for i in range(0, ONSET, 9)]
    for i in range(ONSET + 1, N):
        lines.append(line(i, f"canceling statement due to statement timeout req={i:05x}"))
        lines += [line(i, wording.format(name=name) + f" req={i:05x}") for _ in range(naming)]
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    edges = (("web", "users"), ("web", "ledger")) + ((("users", "users-db"),) if listed else ()) \
        + ((("ledger", "users-db"),) if elsewhere else ())
    write_case_json(path, t0=T0, step=STEP, samples=N, name="Http5xxRatioHigh",
                    service="web", signal="errors", fired_at=ONSET + 6, topology=edges)
    return path


def test_a_database_the_topology_misses_is_found_through_its_callers_lines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "revealed"), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "users-db", report["summary"]
    said = [e["finding"] for e in report["evidence"] if "call graph from" in e["query"]]
    assert said and "users-db" in said[0] and "does not list" in said[0]


def test_the_answer_is_the_one_a_listed_edge_gives(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The control: with the edge in the topology the same database is found the usual way.
    report = investigate_json(write_case(tmp_path / "listed", listed=True), capsys)
    assert report["root_causes"][0]["service"] == "users-db", report["summary"]
    assert not [e for e in report["evidence"] if "call graph from" in e["query"]]


def test_a_healthy_service_a_line_calls_is_judged_and_cleared(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # "call to ledger failed" from users: the edge is taken, and ledger, whose own signals
    # never moved, is judged as any dependency is and not named.
    report = investigate_json(write_case(tmp_path / "known", name="ledger"), capsys)
    assert report["root_causes"][0]["service"] != "ledger", report["summary"]


def test_a_database_listed_under_another_caller_is_revealed_by_a_call_to_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "elsewhere", elsewhere=True), capsys)
    assert report["root_causes"][0]["service"] == "users-db", report["summary"]
    said = [e["finding"] for e in report["evidence"] if "call graph from" in e["query"]]
    assert said and "users-db" in said[0], said


def test_a_database_the_lines_only_mention_is_not_revealed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # users' lines speak of the database ("stale rows read back from users-db") but call
    # no one by it: listed under ledger, it is no callee of users.
    report = investigate_json(write_case(tmp_path / "mention", elsewhere=True,
                                         wording="stale rows read back from {name}"), capsys)
    assert not [e for e in report["evidence"] if "call graph from" in e["query"]]



def test_lines_that_reveal_a_callee_are_judged_as_reports_of_its_failure(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two of users' three new lines name users-db: once the edge is revealed they are users'
    # view of the database failing, not a fault in users' own code, whichever was read first.
    report = investigate_json(write_case(tmp_path / "revealed", naming=2), capsys)
    own = [h for h in report["hypotheses"]
           if h["kind"] == "code_error" and h["service"] == "users"]
    assert own and own[0]["status"] == "refuted", own
    assert "users-db" in own[0]["reason"], own[0]["reason"]
