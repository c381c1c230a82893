"""Triage one security case directory: the engine, then (when a model is configured) what a
model adds, never more. What `nightowl triage DIR` and the evals call."""

from __future__ import annotations

import time
from pathlib import Path

from agents.security.engine import TriageEngine
from agents.security.report import TriageReport
from integrations.llm.base import ModelClient
from integrations.security.casedir import CaseDirectorySource


async def triage_directory(directory: Path, *, model: ModelClient | None = None,
                           engine: TriageEngine | None = None) -> TriageReport:
    """Raises `CaseError` when the directory cannot be read; everything else is a report."""
    started = time.perf_counter()
    source = CaseDirectorySource(directory)
    case = source.case
    report = await (engine or TriageEngine()).triage(case.signal, source, context=case.context,
                                                     window=case.window)
    report.problems = [*case.problems, *report.problems]
    if model is not None:
        from agents.security.assist import SecurityAssist

        await SecurityAssist(model).review(report, case)
    report.stats.elapsed_s = time.perf_counter() - started
    return report
