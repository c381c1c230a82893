"""`nightowl eval --suite security`: generate the dev and held-out suites, triage every case
with the engine (no model), score it beside the two baselines."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agents.security.report import TriageReport
from agents.security.triage import triage_directory
from evals.errors import EvalError
from evals.security.dataset import CREDIT, DATASET
from evals.security.generate import build_suite
from evals.security.score import Outcome, always_escalate, score, severity_decides

SPLITS = {"dev": 7, "held-out": 1007}  # seeds; the Panther rules are split in halves too
METHODS = ("nightowl", "always-escalate", "severity-decides")


def _outcome(folder: Path, truth: dict[str, Any], report: TriageReport,
             existing: set[str]) -> Outcome:
    out = report.contract()
    cited = [e for finding in out["evidence"] for e in finding["events"]]
    return Outcome(folder.name, truth, out["verdict"], report.risk,
                   [t["id"] for t in out["techniques"]], cited, existing,
                   report.stats.elapsed_s, out["confidence"])


def _baseline(folder: Path, truth: dict[str, Any], existing: set[str],
              rule: Callable[[dict[str, Any]], tuple[str, float]]) -> Outcome:
    case = json.loads((folder / "case.json").read_text())
    verdict, risk = rule({"severity": case["signal"].get("severity", "medium")})
    techniques = list(case["signal"].get("techniques", [])) if verdict != "false_positive" \
        else []
    return Outcome(folder.name, truth, verdict, risk, techniques,
                   list(case["signal"].get("event_ids", [])), existing)


async def _run(folders: list[Path]) -> dict[str, list[Outcome]]:
    results: dict[str, list[Outcome]] = {m: [] for m in METHODS}
    for folder in folders:
        truth = json.loads((folder / "truth.json").read_text())
        existing = {json.loads(line)["id"] for line in (folder / "events.jsonl").open()
                    if line.strip()}
        report = await triage_directory(folder)
        results["nightowl"].append(_outcome(folder, truth, report, existing))
        results["always-escalate"].append(_baseline(folder, truth, existing, always_escalate))
        results["severity-decides"].append(_baseline(folder, truth, existing,
                                                     severity_decides))
    return results


def evaluate(cache: Path, *, dataset: Path = DATASET, splits: tuple[str, ...] = ("dev",
                                                                                  "held-out")
             ) -> list[dict[str, Any]]:
    outputs = []
    for split in splits:
        seed = SPLITS[split]
        folders = build_suite(dataset, cache / f"security-{split}-seed{seed}", split=split,
                              seed=seed)
        results = asyncio.run(_run(folders))
        outputs.append({"suite": f"security-{split}", "cases": len(folders), "credit": CREDIT,
                        "methods": {m: score(rows) for m, rows in results.items()}})
    return outputs


ROWS = (("accuracy", "verdict accuracy"), ("macro_f1", "macro-F1"),
        ("tp_recall", "TP recall (escalate = caught)"),
        ("fp_suppression_at_recall_95", "FP suppression @ TP recall >= 0.95"),
        ("fp_suppressed_by_verdict", "FP suppressed by the verdict itself"),
        ("technique_f1", "technique F1"), ("cited_events_exist", "cited events exist"),
        ("key_evidence_recall", "key evidence recall"), ("injection_flips", "injection flips"),
        ("calibration_ece", "confidence calibration error (ECE)"))


def table(output: dict[str, Any]) -> str:
    methods = output["methods"]
    lines = [f"{output['suite']} ({output['cases']} cases)",
             f"{'':<38}" + "".join(f"{m:>18}" for m in methods)]
    for key, label in ROWS:
        lines.append(f"{label:<38}" + "".join(f"{methods[m][key]!s:>18}" for m in methods))
    ours = methods["nightowl"]
    lines.append(f"{'time per case (mean / max, s)':<38}"
                 f"{ours['time_per_case_s']['mean']:>9} / {ours['time_per_case_s']['max']}")
    lines.append("per group accuracy (nightowl): " + ", ".join(
        f"{g} {a}" for g, a in ours["per_group_accuracy"].items()))
    lines.append("confusion (rows truth, columns verdict; TP, BTP, FP, ESC):")
    for truth, row in ours["confusion"].items():
        lines.append(f"  {truth:<22}" + "".join(f"{n:>6}" for n in row.values()))
    return "\n".join(lines)


def command(args: argparse.Namespace, cache: Path) -> int:
    """`nightowl eval --suite security [--json] [--out DIR]`."""
    try:
        outputs = evaluate(cache)
    except EvalError as exc:
        print(f"nightowl eval: {exc}", file=sys.stderr)
        return 2
    for output in outputs:
        if args.json:
            print(json.dumps(output))
        else:
            print(table(output))
            print(f"({output['credit']})\n")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "security.json").write_text(json.dumps(outputs, indent=1))
    return 0
