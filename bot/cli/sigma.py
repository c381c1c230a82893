"""`nightowl sigma check` and `nightowl sigma scan`: the detection side from the command line.

`check` loads the rules the scan would load (or the folders given) and names every rule that
is skipped, with its file and line. `scan` runs them once over files (CloudTrail deliveries,
JSON lines, ...) and prints the signals: a quick way to try a rule on real logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("sigma", help="check Sigma rules, or run them over log files",
                            description="Check the Sigma rules the security scan loads, or run "
                                        "them once over files. See docs/security-detection.md.")
    actions = parser.add_subparsers(dest="sigma_action", required=True)
    check = actions.add_parser("check", help="load the rules and name every one skipped")
    check.add_argument("rules", nargs="*", type=Path,
                       help="rule folders or files (default: NIGHTOWL_SIGMA_RULES + own rules)")
    check.set_defaults(func=check_rules)
    scan = actions.add_parser("scan", help="run the rules once over files, print the signals")
    scan.add_argument("files", nargs="+", type=Path, help="log files or folders")
    scan.add_argument("--log-type", help="log type of every record (default: recognised)")
    scan.add_argument("--rules", action="append", type=Path, default=[],
                      help="rule folder or file (repeatable; default as for check)")
    scan.add_argument("--json", action="store_true", help="one JSON object per signal")
    scan.set_defaults(func=scan_files)


def _roots(given: list[Path]) -> list[Path]:
    if given:
        return given
    from bot.security_sources import rule_roots
    from bot.settings import Settings

    return rule_roots(Settings().security_detection)


def check_rules(args: argparse.Namespace) -> int:
    from integrations.security.sigma import load_rules

    rules = load_rules(_roots(args.rules))
    per_type = Counter(r.log_type for r in rules.rules)
    print(f"{len(rules.rules)} rules loaded from {rules.files} files")
    for log_type, count in sorted(per_type.items()):
        print(f"  {log_type:<28} {count}")
    for rule in rules.inactive:
        print(f"inactive (no log type for {rule.logsource}): {rule.path}: {rule.title}")
    for problem in rules.problems:
        print(f"skipped: {problem}")
    return 1 if rules.problems else 0


def scan_files(args: argparse.Namespace) -> int:
    from integrations.security.engine import SigmaEngine
    from integrations.security.errors import SourceError
    from integrations.security.sigma import load_rules
    from integrations.security.sources.files import json_source

    engine = SigmaEngine(load_rules(_roots(args.rules)))
    source = json_source(args.files, name="files", log_type=args.log_type)
    source.slack = datetime.now(UTC) - datetime(1970, 1, 2, tzinfo=UTC)  # every file
    try:
        events = source.read(start=datetime(1970, 1, 1, tzinfo=UTC),
                             end=datetime(9999, 1, 1, tzinfo=UTC))
    except SourceError as exc:
        print(f"nightowl sigma scan: {exc}", file=sys.stderr)
        return 2
    result = engine.evaluate(events)
    for signal in result.signals:
        if args.json:
            print(json.dumps(signal.case_signal()))
        else:
            who = signal.entities.get("user", "-")
            print(f"{signal.fired_at:%Y-%m-%d %H:%M:%S} {signal.severity:<8} {signal.rule} "
                  f"[{who}] events {', '.join(signal.event_ids[:5])}")
    for problem in source.problems + result.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    print(result.summary(), file=sys.stderr)
    return 0
