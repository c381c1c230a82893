"""The case directory's bad input, `nightowl triage` on hand-made and generated cases, the
security eval's scoring, and the ATT&CK table against the shared datasets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agents.security import attack
from agents.security.triage import triage_directory
from bot.cli import main
from evals.security.dataset import DATASET
from evals.security.generate import build_suite
from evals.security.score import Outcome, score, suppression_at_recall
from integrations.security.casedir import CaseDirectorySource, CaseError
from integrations.security.types import SecuritySource
from tests.security_case import T0, ct, history, write_case

SIGMA = DATASET.parent / "sigma"
CONTRACT = {"verdict", "confidence", "summary", "techniques", "checklist", "evidence",
            "proposed_actions", "stats"}


def need_dataset() -> None:
    if not DATASET.is_dir():
        pytest.skip(f"the shared security dataset is missing ({DATASET})")


def test_missing_files_and_unusable_case_json_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="not a directory"):
        CaseDirectorySource(tmp_path / "nope")
    (tmp_path / "a").mkdir()
    with pytest.raises(CaseError, match=r"case\.json: missing"):
        CaseDirectorySource(tmp_path / "a")
    (tmp_path / "a" / "case.json").write_text('{"signal": {"rule": "r", "fired_at": "x"}}')
    with pytest.raises(CaseError, match="fired_at"):
        CaseDirectorySource(tmp_path / "a")
    (tmp_path / "a" / "case.json").write_text(
        '{"signal": {"rule": "r", "fired_at": "2026-03-02T12:00:00Z"}}')
    with pytest.raises(CaseError, match=r"events\.jsonl: missing"):
        CaseDirectorySource(tmp_path / "a")
    (tmp_path / "a" / "case.json").write_text("{not json")
    with pytest.raises(CaseError, match="not JSON"):
        CaseDirectorySource(tmp_path / "a")


async def test_malformed_lines_are_skipped_counted_and_named(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "c", [*history(), ct("StopLogging", 0, source="cloudtrail")],
                        triggers=[6], context={"corporate_cidrs": ["10.0.0.0/8", "nonsense"],
                                               "change_tickets": [{"id": "X"}]})
    with (folder / "events.jsonl").open("a") as out:
        out.write("{broken\n")
        out.write(json.dumps({"id": "e-90", "log_type": "AWS.CloudTrail", "ts": "later",
                              "event": {}}) + "\n")
        out.write(json.dumps({"id": "e-91", "log_type": "Acme.Audit",
                              "ts": "2026-03-02T12:01:00Z", "event": {"user": "x"}}) + "\n")
        out.write(json.dumps({"id": "e-1", "log_type": "AWS.CloudTrail",
                              "ts": "2026-03-02T12:01:00Z", "event": {}}) + "\n")
    source = CaseDirectorySource(folder)
    problems = " | ".join(source.problems)
    assert "skipped 3 malformed event line(s)" in problems
    assert "line 8: not JSON" in problems and "line 9: field 'ts'" in problems
    assert "line 11: duplicate id 'e-1'" in problems
    assert "Acme.Audit (1)" in problems  # kept and reported
    assert "'nonsense' is not a network" in problems
    assert "change_tickets[1]: needs principal" in problems
    assert [e.id for e in await source.events(start=T0.replace(hour=0), end=T0.replace(
        hour=23), log_types=["Acme.Audit"])] == ["e-91"]
    assert len(source.case.context.corporate_cidrs) == 1
    assert isinstance(source, SecuritySource)


async def test_odd_shapes_inside_events_and_context_never_crash(tmp_path: Path) -> None:
    odd = [{"eventName": 7, "userIdentity": "root", "requestParameters": [1, None],
            "sourceIPAddress": "999.1.1.1", "eventTime": "2026-03-02T12:00:00Z",
            "additionalEventData": [], "responseElements": "x"},
           {"eventName": "AssumeRole", "userIdentity": {"type": "AssumedRole",
                                                        "sessionContext": "nope"},
            "responseElements": {"assumedRoleUser": "x"}, "eventTime": "2026-03-02T12:00:00Z",
            "client": {"geographicalContext": {"geolocation": "here"}}}]
    folder = write_case(tmp_path / "c", odd, triggers=[0, 1], context={
        "known_admins": "alice", "maintenance_windows": ["x"], "change_tickets": "none",
        "corporate_cidrs": [None]})
    report = await triage_directory(folder)
    assert report.verdict in ("escalate", "false_positive")
    assert any("known_admins is not a list" in p for p in report.problems)


def test_cli_prints_the_contract_and_bad_input_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = write_case(tmp_path / "c", [*history(), ct("StopLogging", 0, source="cloudtrail")],
                        triggers=[6])
    assert main(["triage", str(folder), "--json", "--no-model"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == CONTRACT
    assert out["verdict"] == "escalate"
    assert main(["triage", str(folder), "--no-model"]) == 0
    assert "Needs a human" in capsys.readouterr().out
    assert main(["triage", str(tmp_path / "missing"), "--json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_cli_on_generated_cases_cites_only_real_events(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    need_dataset()
    folders = build_suite(DATASET, tmp_path / "suite", split="dev", seed=11)
    groups: dict[str, int] = {}
    for folder in folders[::9]:
        truth = json.loads((folder / "truth.json").read_text())
        groups[truth["group"]] = groups.get(truth["group"], 0) + 1
        assert main(["triage", str(folder), "--json", "--no-model"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert set(out) == CONTRACT
        ids = {json.loads(line)["id"] for line in (folder / "events.jsonl").open()}
        evidence = {e["id"] for e in out["evidence"]}
        assert all(set(e["events"]) <= ids and e["events"] for e in out["evidence"])
        assert all(set(s["evidence"]) <= evidence for s in out["checklist"])
        assert all(a["requires_approval"] is True for a in out["proposed_actions"])
        assert 0.0 <= out["confidence"] <= 1.0
    assert len(groups) >= 5


def test_generator_is_deterministic_and_never_puts_the_answer_in_case_json(
        tmp_path: Path) -> None:
    need_dataset()
    a = build_suite(DATASET, tmp_path / "a", split="dev", seed=3)
    b = build_suite(DATASET, tmp_path / "b", split="dev", seed=3)
    assert [p.name for p in a] == [p.name for p in b]
    assert (a[5] / "events.jsonl").read_text() == (b[5] / "events.jsonl").read_text()
    verdicts = set()
    for folder in a:
        case = (folder / "case.json").read_text()
        truth = json.loads((folder / "truth.json").read_text())
        verdicts.add(truth["verdict"])
        assert truth["verdict"] not in case and truth["group"] not in case
    assert verdicts == {"true_positive", "benign_true_positive", "false_positive", "escalate"}
    # Decoys: tickets and admins appear in cases of every verdict, not only benign ones.
    with_tickets = {json.loads((f / "truth.json").read_text())["verdict"] for f in a
                    if json.loads((f / "case.json").read_text())["context"]["change_tickets"]}
    assert len(with_tickets) == 4


def _outcome(truth: str, verdict: str, risk: float, **extra: object) -> Outcome:
    return Outcome("c", {"verdict": truth, **extra}, verdict, risk)


def test_scoring_counts_escalation_as_caught_and_sweeps_suppression() -> None:
    rows = [_outcome("true_positive", "true_positive", 0.9),
            _outcome("true_positive", "escalate", 0.5),
            _outcome("false_positive", "false_positive", 0.1),
            _outcome("false_positive", "escalate", 0.45),
            _outcome("benign_true_positive", "benign_true_positive", 0.2),
            _outcome("escalate", "false_positive", 0.2)]
    figures = score(rows)
    assert figures["tp_recall"] == 1.0
    assert figures["accuracy"] == 0.5
    assert figures["confusion"]["escalate"]["false_positive"] == 1
    suppressed, threshold = suppression_at_recall(rows)
    assert suppressed == 1.0 and 0.45 < threshold <= 0.5
    assert suppression_at_recall(rows, floor=1.0)[0] == 1.0
    rows.append(_outcome("false_positive", "true_positive", 0.95))
    assert suppression_at_recall(rows)[0] == pytest.approx(2 / 3)


def test_attack_table_covers_the_sigma_rules_and_the_dataset_labels() -> None:
    need_dataset()
    wanted: set[str] = set()
    for path in SIGMA.glob("rules/**/*.yml"):
        wanted |= {m.upper() for m in re.findall(r"attack\.(t\d{4}(?:\.\d{3})?)",
                                                 path.read_text(), re.I)}
    for line in (DATASET / "panther_tests.jsonl").open():
        wanted |= set(json.loads(line)["mitre"])
    for path in (DATASET / "stratus").glob("*.json"):
        wanted |= set(json.loads(path.read_text())["mitre"])
    unknown = sorted(t for t in wanted if attack.lookup(t).status == "unknown")
    assert unknown == ["T0018.000"]  # Panther's typo-like id: not an ATT&CK technique
    assert all(attack.lookup(t).tactics for t in wanted if t != "T0018.000")
