"""`nightowl fix DIR [--json]`: suspect commits, files and a remediation for one fix case.

Plugged in through the `nightowl.commands` entry point. Offline: it reads the case directory
(DESIGN.md, "Fix case directory") and runs git and the tests locally.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fix", help="suspect commits and a remediation for one error (a fix case directory)",
        description="Blame the error's in-app frames at the deployed commit, rank suspect "
                    "commits and files, and propose a remediation (a verified revert of the "
                    "deploy's suspect commits). Reads DIR/case.json and DIR/repo.")
    parser.add_argument("directory", help="fix case directory (case.json, repo/)")
    parser.add_argument("--json", action="store_true", help="print the JSON contract")
    parser.add_argument("--no-model", action="store_true",
                        help="statistical only, even when a model is configured")
    parser.add_argument("--no-remediation", action="store_true",
                        help="suspects and files only: no worktree, no tests run")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from agents.dev.engine import FixOptions, run_fix
    from agents.dev.types import CaseError, FixCase

    try:
        case = FixCase.load(Path(args.directory))
    except CaseError as exc:
        print(f"nightowl fix: {exc}", file=sys.stderr)
        return 2
    options = FixOptions(remediate=not args.no_remediation)
    if args.no_model or args.no_remediation:
        result = asyncio.run(run_fix(case, options=options))
    else:
        result = _with_model(case, options)
    if args.json:
        json.dump(result.contract(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(render(result.contract()))
    return 0


def _with_model(case: Any, options: Any) -> Any:
    """Run with the configured model (its spend recorded in the database), or without one."""
    from agents.dev.engine import run_fix
    from bot.models import build_gateway
    from bot.settings import Settings
    from storage.db import make_engine, upgrade
    from storage.repository import Store

    settings = Settings()
    models = settings.models
    if models.anthropic_api_key is None and models.openai_api_key is None \
            and not models.openai_base_url:
        return asyncio.run(run_fix(case, options=options))  # no model: statistical
    engine = make_engine(settings.database_url)
    upgrade(engine)
    store = Store(engine)
    try:
        gateway = build_gateway(settings, store)
        return asyncio.run(run_fix(case, model=gateway, options=options))
    finally:
        store.close()


def render(data: dict[str, Any]) -> str:
    lines = []
    case = {"new_code": "new code: the deploy shipped the suspect change",
            "old_code": "old code meeting new input: nothing in the deploy touched the stack",
            "unknown": "no deploy range"}.get(data.get("case", ""), "")
    if data["abstained"]:
        lines.append("No suspect commit.")
    elif data["suspects"]:
        lines.append(f"Suspect commits ({case}):")
    for s in data["suspects"]:
        pr = f" (#{s['pr']})" if s.get("pr") and f"#{s['pr']}" not in s["title"] else ""
        lines.append(f"  {s['commit'][:12]} {s['score']:.2f} {s['author']}: {s['title']}{pr}")
        lines.append(f"      {s['why']}")
    if data["files"]:
        lines.append("Files:")
        lines.extend(f"  {f['path']}:{f['line']}  {f['why']}" for f in data["files"])
    rem = data["remediation"]
    lines.append(f"Remediation: {rem['kind']}" + (f" on {rem['branch']}" if rem["branch"]
                                                  else ""))
    if rem.get("verified"):
        v = rem["verified"]
        lines.append(f"  `{v['command']}` exits {v['before_exit']} before, "
                     f"{v['after_exit']} after")
    if rem.get("message"):
        lines.append(f"  {rem['message']}")
    lines.extend(f"Note: {n}" for n in data.get("notes", []))
    return "\n".join(lines)
