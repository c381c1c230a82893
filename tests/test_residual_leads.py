"""Nothing stood out anywhere: no hypothesis survived and nothing off the path passed the
search's bar. The run abstains, and still lists the services whose signals moved most as
leads, loudest first and never surer than such leads have been: an empty answer tells a
responder nothing, where to look first still does. The alerting service is the symptom,
never its own lead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.sre.rules import DEFAULT
from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 100
FIRED = 90


def write_case(path: Path) -> Path:
    """front's latency alert fired on a wobble; orders' latency crept up by a fraction of a
    sigma a minute from sample 60 (too faint to call), the rest stayed flat."""
    rng = np.random.default_rng(3)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "orders", "carts", "users"):
        series[(service, "latency_ms")] = 50 + rng.normal(0, 2, N)
        series[(service, "cpu")] = 0.3 + rng.normal(0, 0.01, N)
    series[("orders", "latency_ms")][60:] += np.linspace(0, 3, N - 60)
    write_metrics(path, series, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="front",
                    signal="latency", fired_at=FIRED)
    return path


def test_with_nothing_decisive_the_services_that_moved_most_are_leads(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "faint"), capsys)
    assert report["abstained"], report["summary"]
    causes = report["root_causes"]
    assert causes and causes[0]["service"] == "orders", causes
    assert "front" not in [c["service"] for c in causes]
    assert all(c["confidence"] <= DEFAULT.residual_confidence for c in causes)
    assert "nothing stood out" in report["summary"]


def test_the_strongest_weak_lead_is_named_where_responders_read(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agents.sre.report import Report
    from bot.rca import rca_view

    view = rca_view(Report.model_validate(investigate_json(write_case(tmp_path / "f"), capsys)))
    assert view.headline == "No confident root cause"
    assert view.lead is not None and "Strongest lead, too weak to call: orders" in view.lead.text
