"""The production-shaped suite generator (evals/synthetic_prod): deterministic, loadable
without complaint, labelled in the shared vocabulary, and not leaking its answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.cases import KINDS
from evals.synthetic_prod import generate, plan
from integrations.telemetry.scenario import ScenarioSource

COUNT = 8


@pytest.fixture(scope="module")
def suite_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prod") / "suite"
    generate(out, seed=7, count=COUNT)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_files(suite_dir: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    generate(again, seed=7, count=COUNT)
    assert _files(again) == _files(suite_dir)


def test_stamp_reuses_and_regenerates(suite_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "s"
    generate(out, seed=3, count=2)
    marker = out / "case-0000" / "marker"
    marker.write_text("kept")
    generate(out, seed=3, count=2)
    assert marker.exists()  # same stamp: reused
    generate(out, seed=4, count=2)
    assert not marker.exists()  # other seed: regenerated


def test_every_case_loads_cleanly(suite_dir: Path) -> None:
    for case in sorted(suite_dir.glob("case-*")):
        source = ScenarioSource(case)
        # A case whose logs deliberately lack a level (some shippers keep only the raw line)
        # gets the loader's one note about it; nothing else may be reported.
        others = [w for w in source.warnings if "have no level we can read" not in w]
        assert others == [], (case.name, others)
        assert source._series and source._logs and source._spans
        size = sum(p.stat().st_size for p in case.iterdir())
        assert size < 4_000_000, (case.name, size)


def test_truth_vocabulary_and_groups(suite_dir: Path) -> None:
    suite = generate(suite_dir, seed=7, count=COUNT)
    assert len(suite.cases) == COUNT
    for case in suite.cases:
        assert case.truth.kind in KINDS
        assert (case.group == "control") == (case.truth.kind == "none")
        if case.group == "control":
            assert case.truth.service == "" and case.truth.also_correct == ()
    assert any(c.group == "control" for c in suite.cases)


def test_truth_service_is_in_the_telemetry(suite_dir: Path) -> None:
    for case in sorted(suite_dir.glob("case-*")):
        truth = json.loads((case / "truth.json").read_text())["root_cause"]
        if truth["kind"] == "none":
            continue
        source = ScenarioSource(case)
        seen = set(source._series) | set(source._logs) | {s.service for s in source._spans}
        assert truth["service"] in seen, case.name


def test_alert_fires_inside_the_window(suite_dir: Path) -> None:
    for case in sorted(suite_dir.glob("case-*")):
        c = ScenarioSource(case).case
        before = (c.alert.fired_at - c.window.start).total_seconds() / 60
        after = (c.window.end - c.alert.fired_at).total_seconds() / 60
        assert before >= 60 and 4.5 <= after <= 15.5, (case.name, before, after)


def test_ids_and_names_reveal_nothing(suite_dir: Path) -> None:
    families = {f for f, _ in plan(42, 7)}
    for case in sorted(suite_dir.glob("case-*")):
        raw = json.loads((case / "case.json").read_text())
        truth = json.loads((case / "truth.json").read_text())["root_cause"]
        ident = raw["id"]
        assert ident.startswith("inc-") and len(ident) == 16
        for word in families | set(KINDS) | {truth["service"]} - {""}:
            assert word not in ident and word not in case.name
        assert "truth" not in json.dumps(raw) and "family" not in json.dumps(raw)


def test_plan_mix_at_full_size() -> None:
    counts: dict[str, int] = {}
    for family, _ in plan(42, 7):
        counts[family] = counts.get(family, 0) + 1
    assert counts.pop("control") == 6
    assert len(counts) == 12 and set(counts.values()) == {3}
