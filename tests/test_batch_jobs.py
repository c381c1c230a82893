"""A batch job's start (Kubernetes' CronJob controller: "Created job <name>") sends new work
into the system: a service it calls that saturates right after is its victim, and the job
the cause, however loud the service's own CPU is. A job that ran long before the damage,
that calls nothing the alert depends on, or whose earlier run in the window was harmless (a
schedule's routine run), explains nothing. A service it calls that has no latency or error
series of its own (a connection pooler: its CPU and its waiting clients) is still what the
alert's path came to, and a caller on that path whose own CPU saturated after the job
started is the job's doing too, as is what the pooler passed the job's queries on to. What
a job calls, where no topology lists it, its own error lines say."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from agents.sre.jobs import job_start
from integrations.telemetry.base import ChangeEvent
from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120


def test_which_events_start_a_job() -> None:
    def starts(kind: str, summary: str) -> bool:
        return job_start(ChangeEvent(T0, "rollup", kind, summary))

    assert starts("k8s", "Created job rollup-28525550")
    assert starts("other", "batch nightly-export started by scheduler")
    assert not starts("k8s", "Started container rollup")
    assert not starts("k8s", "Created pod web-7d9f-abcde")
    assert not starts("deploy", "Created job rollup-1 (a deploy event names nothing of load)")


def write_case(path: Path, *, started_at: int, caller: str = "rollup",
               ran_before: int | None = None) -> Path:
    """api calls db; `caller` (a batch job with no telemetry of its own before it ran) calls
    db too. The job is created at `started_at`; db's CPU saturates from sample 88 and api's
    latency rises from 89. `ran_before`: the same job also ran at that sample, harmlessly."""
    rng = np.random.default_rng(5)
    series = {("api", "latency"): 80 + rng.normal(0, 3, N),
              ("db", "latency"): 5 + rng.normal(0, 0.3, N),
              ("db", "cpu"): 30 + rng.normal(0, 1.5, N)}
    series[("db", "cpu")][88:] += 60
    series[("db", "latency")][88:] += 40
    series[("api", "latency")][89:] += 150
    path.mkdir(parents=True)
    write_metrics(path, series, t0=T0, step=STEP)
    runs = [started_at] if ran_before is None else [ran_before, started_at]
    (path / "events.jsonl").write_text("".join(json.dumps(
        {"ts": T0 + at * STEP, "service": caller, "kind": "k8s",
         "summary": f"Created job {caller}-{28525550 + at}"}) + "\n" for at in runs))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="api",
                    signal="latency", fired_at=95, topology=(("api", "db"), ("rollup", "db")))
    return path


def write_pooler_case(path: Path, *, uncharted: bool = False) -> Path:
    """api calls pool, a connection pooler with no latency or error series (its CPU and its
    waiting clients only); the rollup job, created at sample 86, calls pool too. pool's CPU
    saturates from 88; api's latency rises from 89 and its own CPU, loudly, with it.
    `uncharted`: the topology leaves the job out (its pods are in no service map) and says
    pool passes queries on to pg, whose disk reads soar from 88; the job's own error lines
    say what it calls ("call to pool failed")."""
    rng = np.random.default_rng(7)
    series = {("api", "latency"): 80 + rng.normal(0, 3, N),
              ("api", "cpu"): 30 + rng.normal(0, 1.5, N),
              ("pool", "cpu"): 10 + rng.normal(0, 0.5, N),
              ("pool", "pool_waiting_clients"): 0.5 + rng.normal(0, 0.1, N)}
    series[("pool", "cpu")][88:] += 30
    series[("pool", "pool_waiting_clients")][88:] += 20
    series[("api", "latency")][89:] += 150
    series[("api", "cpu")][89:] += 120
    if uncharted:
        series[("pg", "disk_reads")] = 400 + rng.normal(0, 20, N)
        series[("pg", "disk_reads")][88:] += 20000
    path.mkdir(parents=True)
    write_metrics(path, series, t0=T0, step=STEP)
    (path / "events.jsonl").write_text(json.dumps(
        {"ts": T0 + 86 * STEP, "service": "rollup", "kind": "k8s",
         "summary": "Created job rollup-28525636"}) + "\n")
    if uncharted:
        (path / "logs.jsonl").write_text("".join(json.dumps(
            {"ts": T0 + i * STEP + 5, "service": "rollup", "level": "error",
             "message": f"call to pool failed: context deadline exceeded batch={i}"}) + "\n"
            for i in range(89, N)))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="api",
                    signal="latency", fired_at=95,
                    topology=(("api", "pool"), ("pool", "pg")) if uncharted
                    else (("api", "pool"), ("rollup", "pool")))
    return path


def test_a_job_loading_a_pooler_with_no_latency_series_is_the_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_pooler_case(tmp_path / "pooler"), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("rollup", "traffic"), report["summary"]


def test_a_job_the_topology_leaves_out_is_found_by_what_its_lines_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The job's lines name the pooler it calls; the database behind the pooler, whose reads
    # soared with the job's queries, is the job's doing too, not a cause of its own.
    report = investigate_json(write_pooler_case(tmp_path / "uncharted", uncharted=True),
                              capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("rollup", "traffic"), report["summary"]


def test_the_job_that_loaded_the_saturated_database_is_the_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "job", started_at=86), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("rollup", "traffic")
    cited = {e["id"]: e["finding"] for e in report["evidence"]}
    assert any("Created job" in cited[i] for i in top["evidence"])


def test_a_job_long_before_the_damage_explains_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "early", started_at=40), capsys)
    assert report["root_causes"][0]["service"] == "db"


def test_a_job_that_calls_nothing_on_the_path_explains_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "elsewhere", started_at=86,
                                         caller="thumbnails"), capsys)
    assert report["root_causes"][0]["service"] == "db"


def test_a_scheduled_jobs_routine_run_explains_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The same job ran an hour earlier and nothing followed: this run is routine."""
    report = investigate_json(write_case(tmp_path / "routine", started_at=86, ran_before=30),
                              capsys)
    assert report["root_causes"][0]["service"] == "db"
