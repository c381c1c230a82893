"""A fault that began long before its alert fired (a few percent of failures, the alert's
threshold crossed forty minutes later): the baseline is cut before the episode, as early as
a fifth of the way from the data's start to the alert (`Thresholds.split_floor_share`), so
that the failure's own first minutes are not read as the normal it is compared against."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, steady, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120
FAULT = 26  # about a fifth of the way into the window
FIRED = 110


def write_case(path: Path) -> Path:
    """api calls ledger and search. From FAULT ledger writes a new exception on a tenth of
    its requests (its metrics show nothing: it answers 200 with an error body) and api
    fails those requests with a line of its own; the alert on api's errors fires at FIRED,
    when their share finally crosses its threshold (the error rate itself barely moved)."""
    rng = np.random.default_rng(3)
    series = steady({"api": 150.0, "ledger": 40.0, "search": 60.0}, n=N, rng=rng)
    write_metrics(path, series, t0=T0, step=STEP)
    lines = [{"ts": T0 + i * STEP + 7, "service": "ledger", "level": "error",
              "message": "caught error, returning empty result: KeyError 'tier_discount' "
                         f"req={i:05x}"} for i in range(FAULT, N)]
    lines += [{"ts": T0 + i * STEP + 9, "service": "api", "level": "error",
               "message": f"request {i:05x} failed: empty result from ledger"}
              for i in range(FAULT, N)]
    lines += [{"ts": T0 + i * STEP + 11, "service": "search", "level": "warning",
               "message": f"slow query took {200 + i} ms"} for i in range(0, N, 9)]
    lines.sort(key=lambda item: item["ts"])  # type: ignore[arg-type, return-value]
    (path / "logs.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="ApiErrors", service="api",
                    signal="errors", fired_at=FIRED,
                    topology=(("api", "ledger"), ("api", "search")))
    return path


def test_a_fault_long_before_its_alert_is_not_read_into_the_baseline(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "slow"), capsys)
    assert not report["abstained"], report["summary"]
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("ledger", "code_error"), report["summary"]
