"""Run nightowl and the baselines on every case of a suite, in worker processes."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from agents.sre.context import AlertContext
from agents.sre.grounding import ground
from agents.sre.investigator import Investigator
from agents.sre.report import Report
from evals.baselines import BASELINES
from evals.cases import LabelledCase, Suite
from evals.scoring import Outcome
from evals.variants import Variant
from integrations.telemetry.scenario import ScenarioSource

METHODS = ["nightowl", *BASELINES]


@dataclass
class CaseResult:
    case: LabelledCase
    outcomes: dict[str, Outcome]


def run_case(case: LabelledCase, variants: tuple[Variant, ...] = (),
             base: Variant | None = None) -> CaseResult:
    """Every method on one case; the scenario is loaded once and shared. nightowl runs with
    the statistical engine alone (no model), so that figures are reproducible."""
    outcomes: dict[str, Outcome] = {}

    def blank() -> Outcome:
        return Outcome(case=case.name, group=case.group, truth=case.truth)

    started = time.perf_counter()
    try:
        source = ScenarioSource(case.path)
    except Exception as exc:
        for label in [*METHODS, *(v.label for v in variants)]:
            outcomes[label] = blank()
            outcomes[label].error = f"could not load the scenario: {exc}"
        return CaseResult(case, outcomes)
    load_s = time.perf_counter() - started

    outcomes["nightowl"] = _nightowl(source, blank(), load_s, base or Variant("nightowl"))
    for variant in variants:
        outcomes[variant.label] = _nightowl(source, blank(), load_s, variant)

    for name, method in BASELINES.items():
        result = blank()
        try:
            t0 = time.perf_counter()
            result.ranking = method(source)
            result.seconds = time.perf_counter() - t0 + load_s
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
        outcomes[name] = result
    return CaseResult(case, outcomes)


def _nightowl(source: ScenarioSource, outcome: Outcome, load_s: float,
              variant: Variant) -> Outcome:
    try:
        t0 = time.perf_counter()
        investigator = Investigator(source, rules=variant.rules, thresholds=variant.thresholds)
        context = AlertContext.from_case(source.case)

        async def run() -> Report:
            # What `nightowl investigate DIR --json` prints: the investigation, then grounding.
            report = await investigator.investigate(context)
            await ground(report, context, source)
            return report

        report = asyncio.run(run())
        outcome.seconds = time.perf_counter() - t0 + load_s
        contract = report.contract()
        _validate(contract)
        outcome.ranking = [c["service"] for c in contract["root_causes"]]
        outcome.kinds = [c["kind"] for c in contract["root_causes"]]
        outcome.confidence = (contract["root_causes"][0]["confidence"]
                              if contract["root_causes"] else 0.0)
        outcome.abstained = bool(contract["abstained"])
        outcome.basis = dict(contract.get("confidence_basis") or {})
        outcome.queries = int(contract["stats"]["queries"])
        outcome.llm_input_tokens = int(contract["stats"]["llm_input_tokens"])
    except Exception as exc:
        outcome.error = f"{type(exc).__name__}: {exc} | {traceback.format_exc(limit=2)[-300:]}"
        outcome.ranking = []
    return outcome


def _validate(contract: dict[str, Any]) -> None:
    """The output contract's shape; an invalid output is a failure, not a silent miss."""
    for key in ("root_causes", "abstained", "summary", "hypotheses", "evidence", "stats"):
        if key not in contract:
            raise ValueError(f"output misses '{key}'")
    ids = {e["id"] for e in contract["evidence"]}
    for cause in contract["root_causes"]:
        if not 0.0 <= cause["confidence"] <= 1.0:
            raise ValueError(f"confidence out of range: {cause['confidence']}")
        missing = [e for e in cause["evidence"] if e not in ids]
        if missing:
            raise ValueError(f"root cause cites unknown evidence {missing}")


def run_suite(suite: Suite, *, jobs: int = 1,
              progress: Callable[[int, int], None] | None = None,
              variants: tuple[Variant, ...] = (), base: Variant | None = None
              ) -> list[CaseResult]:
    results: list[CaseResult] = []
    total = len(suite.cases)
    if jobs <= 1:
        for done, case in enumerate(suite.cases, 1):
            results.append(run_case(case, variants, base))
            if progress:
                progress(done, total)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(run_case, case, variants, base) for case in suite.cases]
            for done, future in enumerate(as_completed(futures), 1):
                results.append(future.result())
                if progress:
                    progress(done, total)
    order = {case.path: i for i, case in enumerate(suite.cases)}
    return sorted(results, key=lambda r: order[r.case.path])
