"""A cache that stops answering sends every read it missed to the store behind it: the
database's requests surge with no caller sending more, and its CPU and latency follow. The
surge entered at the cache (its misses), not at the database that took it. A database whose
exporter says nothing of its requests (only its CPU and latency) is read the same way, its
saturation standing in for its load, unless its callers sent more requests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
AT = 90
TOPOLOGY = (("web", "api"), ("api", "cache"), ("api", "db"))


def write_case(path: Path, *, misses_after: float, db_requests: bool = True,
               load: float = 1.0) -> Path:
    """From AT the cache misses `misses_after` times as often and the database saturates;
    `load`: every service's requests, the misses among them, rise so many times too."""
    rng = np.random.default_rng(5)
    after = np.arange(N) >= AT
    more = np.where(after, load, 1.0)
    series = {
        ("web", "latency_ms"): 120 + rng.normal(0, 3, N) + 300 * after,
        ("web", "requests"): 900 * more + rng.normal(0, 10, N),
        ("api", "latency_ms"): 60 + rng.normal(0, 2, N) + 280 * after,
        ("api", "requests"): 900 * more + rng.normal(0, 10, N),
        ("cache", "latency_ms"): 1.2 + rng.normal(0, 0.05, N),
        ("cache", "requests"): 900 * more + rng.normal(0, 10, N),
        ("cache", "cache_misses"): 90 * more * np.where(after, misses_after, 1.0)
        + rng.normal(0, 3, N),
        # The database took the reads the cache no longer answered: three times its load.
        ("db", "requests"): 100 * np.where(after, 3.0, 1.0) + rng.normal(0, 3, N),
        ("db", "latency_ms"): 8 + rng.normal(0, 0.3, N) + 250 * after,
        ("db", "cpu"): 0.3 + rng.normal(0, 0.01, N) + 0.6 * after,
    }
    if not db_requests:  # a MySQL exporter's view: CPU and latency, no request rate
        del series[("db", "requests")]
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="web",
                    signal="latency", fired_at=AT + 6, topology=TOPOLOGY)
    return path


def test_a_database_swamped_by_cache_misses_points_at_the_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "case", misses_after=10.0), capsys)
    assert report["root_causes"][0]["service"] == "cache", report["root_causes"]
    statements = [h["statement"] for h in report["hypotheses"] if h["status"] == "supported"]
    assert "misses at cache sent api's reads on to db" in statements


def test_misses_that_barely_rose_do_not_carry_the_surge(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The misses rose a fifth while the database's requests tripled: the reads came from
    # elsewhere, whatever the cache did.
    report = investigate_json(write_case(tmp_path / "case", misses_after=1.2), capsys)
    assert report["root_causes"][0]["service"] == "db", report["root_causes"]
    assert not [h for h in report["hypotheses"] if h["statement"].startswith("misses at")]


def test_a_database_with_no_request_rate_swamped_by_misses_points_at_the_cache(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "case", misses_after=10.0,
                                         db_requests=False), capsys)
    assert report["root_causes"][0]["service"] == "cache", report["root_causes"]
    statements = [h["statement"] for h in report["hypotheses"] if h["status"] == "supported"]
    assert "misses at cache sent api's reads on to db" in statements


def test_misses_that_rose_with_the_callers_requests_are_not_a_stampede(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Three times the requests from the edge down: the cache misses three times as often
    # with the same hit ratio, and the database (no request rate of its own) saturates
    # under the load. The misses outgrew nothing.
    report = investigate_json(write_case(tmp_path / "case", misses_after=1.0,
                                         db_requests=False, load=3.0), capsys)
    assert report["root_causes"][0]["service"] != "cache", report["root_causes"]
    assert not [h for h in report["hypotheses"] if h["statement"].startswith("misses at")]
