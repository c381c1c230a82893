"""Triage of a live case by the checklist engine (agents/security), through the case format.

A case's stored signal, context and events are written as a security case directory
(DESIGN.md: `case.json` + `events.jsonl`) and triaged exactly as `nightowl triage DIR`
triages one, so a live case, the CLI and the evals go through one door and one contract.
Writing a few hundred events costs milliseconds next to a Slack round trip.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agents.security.triage import triage_directory
from bot.security.service import CaseFile
from integrations.llm.base import ModelClient


class EngineTriage:
    """`TriageEngine` for the case layer: the deterministic engine, plus the model's review
    when a model is configured."""

    def __init__(self, *, model: ModelClient | None = None) -> None:
        self.model = model

    async def triage(self, case: CaseFile) -> Mapping[str, Any]:
        with tempfile.TemporaryDirectory(prefix="nightowl-case-") as tmp:
            directory = Path(tmp)
            await asyncio.to_thread(_write, directory, case)
            report = await triage_directory(directory, model=self.model)
        return report.contract()


def _write(directory: Path, case: CaseFile) -> None:
    (directory / "case.json").write_text(json.dumps(case.case, default=str), encoding="utf-8")
    with (directory / "events.jsonl").open("w", encoding="utf-8") as out:
        for event in case.events:
            out.write(json.dumps(event.to_json(), default=str) + "\n")
