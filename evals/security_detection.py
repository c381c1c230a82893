"""Detection conformance: does the Sigma engine, with the loaded rules, reproduce other
projects' expected results? `nightowl eval --suite security-detection`.

1. Panther's rule tests (Panther Analysis rule tests, Panther Labs, Apache-2.0). Each test is
   one raw event and whether Panther's rule should fire on it. A Sigma rule set and Panther's
   rules are different rules, so "the engine agrees with a test" has to be defined:

   - a test is **in scope** when its log type has loaded Sigma rules, its Panther rule names
     ATT&CK techniques, and it needs no mocks (mocked tests hold only under their mocks);
   - the engine **predicts a fire** on a test when a loaded Sigma rule *with the same intent*
     matches its event: same log type, and a shared ATT&CK technique, compared at the parent
     technique (T1562.008 ~ T1562) after mapping ATT&CK v19's replacement ids back
     (T1685.002 -> T1562.008) where the offline ATT&CK table is available;
   - precision = agreeing fires / all fires; recall = agreeing fires / tests expecting one.
     `covered` counts the expected fires whose Panther rule has at least one same-intent Sigma
     rule loaded: recall cannot exceed covered / expected.

   The tests are small hand-written events, many trimmed down: agreement here shows rules and
   engine handle these shapes, not that they work on real traffic.

2. Stratus Red Team detonations (Stratus Red Team detonation logs, Datadog, Apache-2.0): for
   each technique, whether any loaded rule fires on its CloudTrail events, and whether one
   that fires shares its ATT&CK technique (parent level) or tactic. The recordings were
   anonymised with fake regions and a `stratus-red-team_<uuid>` user agent: a firing rule
   that reads `userAgent` or `awsRegion` is flagged so nobody mistakes such a hit for
   detection.

Rule sets: the project's own rules, SigmaHQ's (../shared/datasets/sigma, DRL 1.1, read in
place), and both. Data is read in place from ../shared/datasets/security.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations.security.engine import SigmaEngine
from integrations.security.entities import event_time
from integrations.security.sigma import CompiledRule, RuleSet, load_rules
from integrations.security.types import AWS_CLOUDTRAIL, SecurityEvent

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SECURITY = DATASETS / "security"
SIGMA = DATASETS / "sigma" / "rules"
OWN = Path(__file__).resolve().parents[1] / "integrations" / "security" / "rules"
CREDITS = (
    "Panther Analysis rule tests, Panther Labs, Apache-2.0",
    "Stratus Red Team detonation logs, Datadog, Apache-2.0",
    "Sigma rules by their authors, SigmaHQ, DRL 1.1",
)
# Panther's log type -> the one our logsource mapping uses, where the names differ.
LOG_TYPE_ALIASES = {"Amazon.EKS.Audit": "Kubernetes.Audit"}
# Fields the Stratus anonymisation rewrote on every event.
ANONYMISED = {"useragent", "awsregion"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _canonical() -> tuple[Callable[[str], str], bool]:
    """ATT&CK v19 -> pre-v19 ids, from the triage agent's offline table when it is there."""
    try:
        from agents.security.attack import canonical
    except ImportError:
        return (lambda technique: technique), False
    return canonical, True


def parents(techniques: Sequence[str], canonical: Callable[[str], str]) -> set[str]:
    return {canonical(t.upper()).split(".")[0] for t in techniques if t}


@dataclass
class LogTypeFigures:
    log_type: str
    tests: int = 0
    expected: int = 0
    covered: int = 0
    fired: int = 0
    agree_fire: int = 0
    agree_quiet: int = 0
    any_rule_fired: int = 0  # any loaded rule of the log type, intent aside (descriptive)

    @property
    def precision(self) -> float | None:
        return self.agree_fire / self.fired if self.fired else None

    @property
    def recall(self) -> float | None:
        return self.agree_fire / self.expected if self.expected else None

    def as_json(self) -> dict[str, Any]:
        return {
            "log_type": self.log_type, "tests": self.tests, "expected_fires": self.expected,
            "covered": self.covered, "predicted_fires": self.fired,
            "agreeing_fires": self.agree_fire, "agreeing_quiet": self.agree_quiet,
            "precision": self.precision, "recall": self.recall,
            "any_rule_fired": self.any_rule_fired,
        }


@dataclass
class PantherReport:
    by_log_type: dict[str, LogTypeFigures] = field(default_factory=dict)
    excluded: Counter[str] = field(default_factory=Counter)


def load_panther(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def panther_conformance(tests: Sequence[dict[str, Any]], rules: RuleSet,
                        canonical: Callable[[str], str]) -> PantherReport:
    engine = SigmaEngine(rules)
    rule_types = rules.log_types
    report = PantherReport()
    events: list[SecurityEvent] = []
    meta: list[tuple[dict[str, Any], str]] = []
    for i, test in enumerate(tests):
        log = test.get("log")
        declared = test.get("log_types") or []
        log_type = (log or {}).get("p_log_type") if isinstance(log, dict) else None
        log_type = log_type or (declared[0] if len(declared) == 1 else None)
        log_type = LOG_TYPE_ALIASES.get(log_type or "", log_type)
        if not isinstance(log, dict) or log_type is None:
            report.excluded["no single log type"] += 1
        elif log_type not in rule_types:
            report.excluded["log type without loaded rules"] += 1
        elif test.get("mocks"):
            report.excluded["needs mocks"] += 1
        elif not test.get("mitre"):
            report.excluded["Panther rule has no ATT&CK ids"] += 1
        else:
            ts = event_time(log_type, log) or _EPOCH
            events.append(SecurityEvent(id=f"t{i}", log_type=log_type, ts=ts, event=log))
            meta.append((test, log_type))
    matches, _ = engine.match(events)
    fired_by: dict[str, list[CompiledRule]] = defaultdict(list)
    for match in matches:
        for ev in match.events:
            fired_by[ev.id].append(match.rule)
    intents: dict[str, list[set[str]]] = defaultdict(list)
    for rule in rules.rules:
        intents[rule.log_type].append(parents(rule.techniques, canonical))
    for ev, (test, log_type) in zip(events, meta, strict=True):
        figures = report.by_log_type.setdefault(log_type, LogTypeFigures(log_type))
        want = parents(test["mitre"], canonical)
        expected = bool(test.get("expected_result"))
        same_intent = [r for r in fired_by[ev.id] if parents(r.techniques, canonical) & want]
        figures.tests += 1
        figures.any_rule_fired += bool(fired_by[ev.id])
        if expected:
            figures.expected += 1
            figures.covered += any(want & tags for tags in intents[log_type])
        if same_intent:
            figures.fired += 1
            figures.agree_fire += expected
        elif not expected:
            figures.agree_quiet += 1
    return report


@dataclass(frozen=True, slots=True)
class StratusResult:
    technique: str
    name: str
    events: int
    fired: tuple[str, ...]  # titles of rules that matched an event of the detonation
    same_intent: bool
    anonymised_fields: tuple[str, ...]  # rules that fired while reading rewritten fields


def stratus_detection(folder: Path, rules: RuleSet,
                      canonical: Callable[[str], str]) -> list[StratusResult]:
    engine = SigmaEngine(rules)
    out: list[StratusResult] = []
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        events = [
            SecurityEvent(id=f"{data['id']}#{i}", log_type=AWS_CLOUDTRAIL,
                          ts=event_time(AWS_CLOUDTRAIL, e) or _EPOCH, event=e)
            for i, e in enumerate(data.get("events", []))
        ]
        matches, _ = engine.match(events)
        want = parents(data.get("mitre", []), canonical)
        tactics = {t.lower().replace(" ", "-") for t in data.get("stratus_tactics", [])}
        fired = tuple(sorted({m.rule.title for m in matches}))
        same = any(parents(m.rule.techniques, canonical) & want
                   or set(m.rule.tactics) & tactics for m in matches)
        flagged = tuple(sorted({m.rule.title for m in matches
                                if set(m.rule.columns) & ANONYMISED}))
        out.append(StratusResult(data["id"], data.get("name", ""), len(events), fired, same,
                                 flagged))
    return out


def rule_sets(*, sigma: Path = SIGMA, own: Path = OWN) -> dict[str, RuleSet]:
    sets = {"own": load_rules([own])}
    if sigma.is_dir():
        sets["sigmahq"] = load_rules([sigma])
        sets["own+sigmahq"] = load_rules([own, sigma])
    return sets


def run(*, security: Path = SECURITY, sigma: Path = SIGMA) -> dict[str, Any]:
    canonical, has_v19 = _canonical()
    tests = load_panther(security / "panther_tests.jsonl")
    results: dict[str, Any] = {"suite": "security-detection", "credit": list(CREDITS),
                               "attack_v19_mapping": has_v19, "rule_sets": {}}
    for name, rules in rule_sets(sigma=sigma).items():
        panther = panther_conformance(tests, rules, canonical)
        stratus = stratus_detection(security / "stratus", rules, canonical)
        results["rule_sets"][name] = {
            "rules": len(rules.rules), "rule_problems": [str(p) for p in rules.problems],
            "panther": [f.as_json() for f in sorted(panther.by_log_type.values(),
                                                    key=lambda f: -f.tests)],
            "panther_excluded": dict(panther.excluded),
            "stratus": [{"technique": s.technique, "events": s.events, "fired": list(s.fired),
                         "same_intent": s.same_intent,
                         "reads_anonymised_fields": list(s.anonymised_fields)}
                        for s in stratus],
            "stratus_caught": sum(bool(s.fired) for s in stratus),
            "stratus_caught_same_intent": sum(s.same_intent for s in stratus),
            "stratus_techniques": len(stratus),
        }
    return results


def _pct(value: float | None) -> str:
    return "  –  " if value is None else f"{value:5.2f}"


def render(results: dict[str, Any]) -> str:
    lines = []
    for name, figures in results["rule_sets"].items():
        skipped = len(figures["rule_problems"])
        lines.append(f"== rule set {name}: {figures['rules']} rules loaded"
                     + (f", {skipped} skipped" if skipped else ""))
        lines.append(f"{'Panther tests by log type':<26} {'tests':>5} {'expect':>6} "
                     f"{'covered':>7} {'fired':>5} {'agree':>5} {'prec':>5} {'recall':>6}")
        for row in figures["panther"]:
            lines.append(f"{row['log_type']:<26} {row['tests']:>5} {row['expected_fires']:>6} "
                         f"{row['covered']:>7} {row['predicted_fires']:>5} "
                         f"{row['agreeing_fires']:>5} {_pct(row['precision'])} "
                         f"{_pct(row['recall']):>6}")
        excluded = ", ".join(f"{k}: {v}" for k, v in sorted(figures["panther_excluded"].items()))
        lines.append(f"  excluded: {excluded}")
        lines.append(f"Stratus: {figures['stratus_caught']}/{figures['stratus_techniques']} "
                     f"techniques fire a rule, {figures['stratus_caught_same_intent']} with the "
                     "same ATT&CK technique or tactic")
        for row in figures["stratus"]:
            mark = "✔" if row["same_intent"] else ("~" if row["fired"] else "✘")
            flag = " [reads userAgent/awsRegion: " + ", ".join(
                row["reads_anonymised_fields"]) + "]" if row["reads_anonymised_fields"] else ""
            lines.append(f"  {mark} {row['technique']:<55} "
                         f"{'; '.join(row['fired'])[:90] or '-'}{flag}")
        lines.append("")
    if not results["attack_v19_mapping"]:
        lines.append("note: ATT&CK v19 ids were compared as written (offline table not found)")
    lines.append("credits: " + "; ".join(results["credit"]))
    return "\n".join(lines)


def command(*, as_json: bool, out: Path | None) -> int:
    if not (SECURITY / "panther_tests.jsonl").is_file():
        print(f"security-detection: dataset not found at {SECURITY} (../shared/datasets)")
        return 2
    results = run()
    if as_json:
        print(json.dumps(results, default=str))
    else:
        print(render(results))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "security-detection.json").write_text(json.dumps(results, indent=1, default=str))
    return 0
