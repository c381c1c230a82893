"""An alert whose own statistic never moved, on a service that writes no error lines of its
own (an SLO burn or a Sentry issue alert counting what the metrics do not): when the episode
began is unknown, and the split a margin before the alert may fall long after a fault that
has been failing a share of requests since. A pattern a service began writing after the
reference part of the data, and writes still, is then the lead: reported with the doubt of
an alert that looks normal, not dropped. Lines that name the callee failing are the caller's
view of it, not a lead of their own; routine lines written since the data began are none.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_logs, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 100
ONSET = 30   # the fault, 15 minutes into the data
FIRED = 92   # the alert, 31 minutes later: long after the split's margin


def write_case(path: Path, *, fault: bool = True) -> Path:
    """front calls cart and users, users calls ledger; front writes nothing. From ONSET
    cart writes a new exception and users, "upstream ledger returned 503" (a flaky call
    that began at the same time, the caller's view of ledger). Every metric stays flat."""
    rng = np.random.default_rng(5)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "cart", "users", "ledger"):
        series[(service, "error_rate")] = 0.004 + rng.normal(0, 0.0005, N)
        series[(service, "latency_ms")] = 60 + rng.normal(0, 2, N)
        series[(service, "cpu")] = 0.3 + rng.normal(0, 0.01, N)
    write_metrics(path, series, t0=T0, step=STEP)

    def line(i: int, k: int, service: str, message: str) -> dict[str, object]:
        return {"ts": T0 + i * STEP + 7 * k, "service": service, "level": "error",
                "message": message}

    lines = [line(i, 1, "cart", f"slow cache refresh took {300 + i}ms")
             for i in range(0, N, 6)]
    if fault:
        lines += [line(i, 2, "users", f"upstream ledger returned 503; backing off {900 + i}ms")
                  for i in range(ONSET - 2, N, 2)]
        lines += [line(i, 3, "cart", f"IllegalStateException: ledger entry {i:06x} has no "
                                     "owner (500)") for i in range(ONSET, N, 3)]
    write_logs(path, lines)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ErrorBudgetBurn", service="front",
                    signal="errors", fired_at=FIRED,
                    topology=(("front", "cart"), ("front", "users"), ("users", "ledger")))
    return path


def test_a_new_pattern_long_before_a_quiet_alert_is_its_lead(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "quiet"), capsys)
    assert report["abstained"], report["summary"]  # the alert's own signal looks normal
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("cart", "code_error"), report["summary"]
    assert "lead" in report["summary"] and "cart" in report["summary"]
    assert "users" not in [c["service"] for c in report["root_causes"]], report["summary"]
    cited = {e["id"]: e for e in report["evidence"]}
    assert any("never written before" in cited[e]["finding"] for e in top["evidence"])


def test_routine_lines_are_no_lead(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "noise", fault=False), capsys)
    assert report["abstained"], report["summary"]
    # (Services whose signals moved a little are listed when nothing stood out: not leads
    # from the lines.)
    assert not any(c["kind"] == "code_error" and "nothing stood out" not in c["what"]
                   for c in report["root_causes"]), report["summary"]
