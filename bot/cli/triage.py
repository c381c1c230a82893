"""`nightowl triage DIR [--json]`: triage a security case directory offline.

Plugged in through the `nightowl.commands` entry point. Bad input (a missing file, a case.json
that is not a case) is one line on stderr and exit code 2, never a traceback; malformed event
lines are skipped and named in `problems`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("nightowl")


def register(sub: Any) -> None:
    parser = sub.add_parser("triage", help="triage a security case directory offline",
                            description="Run the security checklist on a case directory "
                                        "(case.json, events.jsonl) and print the verdict.")
    parser.add_argument("directory", help="security case directory")
    parser.add_argument("--json", action="store_true", help="print the JSON contract")
    parser.add_argument("--no-model", action="store_true",
                        help="use the checklist engine only, even when a model is configured")
    parser.set_defaults(func=main)


def _model(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model gateway and its store when a provider is configured, else (None, None)."""
    if args.no_model:
        return None, None
    from bot.settings import Settings

    settings = Settings()
    if settings.models.anthropic_api_key is None and settings.models.openai_api_key is None \
            and not settings.models.openai_base_url:
        return None, None  # no provider: the engine alone, without loading the SDKs
    from bot.models import build_gateway
    from storage.db import make_engine, upgrade
    from storage.repository import Store

    engine = make_engine(settings.database_url)
    upgrade(engine)
    store = Store(engine)
    return build_gateway(settings, store), store


def main(args: argparse.Namespace) -> int:
    from agents.security.triage import triage_directory
    from integrations.security.casedir import CaseError

    model, store = _model(args)
    try:
        report = asyncio.run(triage_directory(Path(args.directory), model=model))
    except CaseError as exc:
        print(f"nightowl triage: {exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            store.close()
    for problem in report.problems:
        log.warning("%s: %s", args.directory, problem)
    if args.json:
        json.dump(report.contract(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    print(render(report.contract()))
    return 0


def render(out: dict[str, Any]) -> str:
    words = {"true_positive": "True positive", "benign_true_positive": "Benign (explained)",
             "false_positive": "False positive", "escalate": "Needs a human"}
    lines = [f"{words[out['verdict']]} · confidence {out['confidence']:.0%}", "",
             out["summary"], "", "Checklist:"]
    for step in out["checklist"]:
        cited = f" [{', '.join(step['evidence'])}]" if step["evidence"] else ""
        lines.append(f"  - {step['step']}: {step['result']}{cited}")
    if out["techniques"]:
        lines.append("ATT&CK: " + ", ".join(f"{t['id']} {t['name']} ({t['tactic']})"
                                            for t in out["techniques"]))
    if out["proposed_actions"]:
        lines.append("Proposed (each needs approval):")
        lines.extend(f"  - {a['action']}: {a['target']}" for a in out["proposed_actions"])
    lines.append("Evidence:")
    lines.extend(f"  {e['id']}: {e['finding']} (events {', '.join(e['events'])})"
                 for e in out["evidence"])
    return "\n".join(lines)
