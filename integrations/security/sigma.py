"""Sigma rules: loading from the folders an operator names, and conversion to SQLite predicates.

pySigma parses the rules and `pysigma-backend-sqlite` turns each detection into a SQL `WHERE`
expression over a flat table of events (see `flatten`); `engine` runs them. A rule that cannot
be read, parsed or converted is skipped and reported as a `RuleProblem` naming the file and the
line of the YAML document it came from, never an exception that stops the load.

A rule's `logsource` decides which events it sees (`LOGSOURCE_LOG_TYPES`): CloudTrail rules run
on `AWS.CloudTrail` events only, and so on. A rule whose logsource maps to no log type is kept
in `RuleSet.inactive` and reported, so an operator sees which rules never run.

Field names: SigmaHQ's AWS, GitHub and Okta rules name the raw fields of the vendor's record,
which the flattener reproduces as dotted paths. The GCP audit rules were written against
Elastic's shape (`data.protoPayload.*`, `gcp.audit.method_name`), mapped back to the raw
Cloud Audit Log record (`pipeline`). Google Workspace admin rules name `eventService`,
`eventName` and parameter names, which the flattener derives from the Reports API record.

SigmaHQ's rules are under DRL 1.1: a `CompiledRule` keeps the rule's author and references,
and reports show them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionOR
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError, SigmaRuleLocation
from sigma.processing.conditions import LogsourceCondition, RuleProcessingCondition
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import (
    FieldMappingTransformation,
    FieldPrefixMappingTransformation,
)
from sigma.rule import SigmaRule
from sigma.types import SigmaFieldReference, SigmaNumber, SigmaString

from integrations.security.types import (
    AWS_CLOUDTRAIL,
    GCP_AUDITLOG,
    GITHUB_AUDIT,
    GITHUB_SECURITY_ALERT,
    GSUITE_ACTIVITY,
    OKTA_SYSTEMLOG,
    SignalSeverity,
    normalize_severity,
)

logger = logging.getLogger(__name__)

FULLTEXT_COLUMN = "_raw"  # the whole event as JSON text, for keyword (field-less) rules
_TABLE_PLACEHOLDER = "nightowl_events"
_QUERY_PREFIX = f"SELECT * FROM {_TABLE_PLACEHOLDER} WHERE "

# (product, service) -> log type; service None matches any service of that product.
LOGSOURCE_LOG_TYPES: dict[tuple[str, str | None], str] = {
    ("aws", "cloudtrail"): AWS_CLOUDTRAIL,
    ("github", "audit"): GITHUB_AUDIT,
    ("github", "security_alert"): GITHUB_SECURITY_ALERT,
    ("okta", None): OKTA_SYSTEMLOG,
    ("gcp", "gcp.audit"): GCP_AUDITLOG,
    # Workspace login events reach most teams through Cloud Logging, in the audit-log shape
    # the login rules name (protoPayload.metadata.event.eventName).
    ("gcp", "google_workspace.login"): GCP_AUDITLOG,
    ("gcp", "google_workspace.admin"): GSUITE_ACTIVITY,
    ("gcp", "google_workspace"): GSUITE_ACTIVITY,
    # Reachable through the generic JSON source, which names its log type.
    ("azure", "activitylogs"): "Azure.MonitorActivity",
    ("azure", "auditlogs"): "Azure.Audit",
    ("azure", "signinlogs"): "Azure.SignIn",
    ("azure", "riskdetection"): "Azure.RiskDetection",
    ("azure", "pim"): "Azure.PIM",
    ("m365", None): "Microsoft365.Audit",
    ("kubernetes", "audit"): "Kubernetes.Audit",
    ("bitbucket", "audit"): "Bitbucket.Audit",
    ("onelogin", None): "OneLogin.Events",
    ("cisco", "duo"): "Duo.Authentication",
}


def pipeline() -> ProcessingPipeline:
    """Field mappings from the names SigmaHQ's rules use to the raw vendor records."""

    def gcp() -> list[RuleProcessingCondition]:  # a condition belongs to one processing item
        return [LogsourceCondition(product="gcp", service="gcp.audit")]

    return ProcessingPipeline(
        name="nightowl raw vendor records",
        priority=20,
        items=[
            ProcessingItem(
                identifier="gcp_elastic_prefix",
                transformation=FieldPrefixMappingTransformation({"data.": ""}),
                rule_conditions=gcp(),
            ),
            ProcessingItem(
                identifier="gcp_elastic_fields",
                transformation=FieldMappingTransformation(
                    {
                        "gcp.audit.method_name": "protoPayload.methodName",
                        # logName and resource sit beside protoPayload in the raw record.
                        "protoPayload.logName": "logName",
                        "protoPayload.resource.type": "resource.type",
                    }
                ),
                rule_conditions=gcp(),
            ),
        ],
    )


def log_type_for(product: str | None, service: str | None) -> str | None:
    product = (product or "").lower()
    service = (service or "").lower() or None
    return LOGSOURCE_LOG_TYPES.get((product, service)) or LOGSOURCE_LOG_TYPES.get((product, None))


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """A rule file, or one rule in it, that was skipped; `line` is 1-based when known."""

    path: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class CompiledRule:
    id: str
    title: str
    severity: SignalSeverity
    log_type: str
    where: str  # SQL boolean expression over the log type's table
    columns: tuple[str, ...]  # lowercase dotted field names the expression reads
    techniques: tuple[str, ...]
    tactics: tuple[str, ...]
    description: str = ""
    author: str = ""
    references: tuple[str, ...] = ()
    path: str = ""
    line: int | None = None
    # field -> the only values (lowercased) it may hold for the rule to match, where provable.
    bounds: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True, slots=True)
class InactiveRule:
    id: str
    title: str
    logsource: str
    path: str


@dataclass(slots=True)
class RuleSet:
    rules: list[CompiledRule] = field(default_factory=list)
    problems: list[RuleProblem] = field(default_factory=list)
    inactive: list[InactiveRule] = field(default_factory=list)
    files: int = 0

    def for_log_type(self, log_type: str) -> list[CompiledRule]:
        return [r for r in self.rules if r.log_type == log_type]

    @property
    def log_types(self) -> set[str]:
        return {r.log_type for r in self.rules}


_TECHNIQUE = re.compile(r"^t\d{4}(\.\d{3})?$")


def _techniques(rule: SigmaRule) -> tuple[tuple[str, ...], tuple[str, ...]]:
    techniques: list[str] = []
    tactics: list[str] = []
    for tag in rule.tags:
        if tag.namespace != "attack":
            continue
        name = tag.name.lower()
        if _TECHNIQUE.match(name):
            techniques.append(name.upper())
        elif not re.match(r"^[gs]\d{4}$", name):  # groups and software are not tactics
            tactics.append(name.replace("_", "-"))
    return tuple(dict.fromkeys(techniques)), tuple(dict.fromkeys(tactics))


def _walk(cond: Any) -> Iterable[Any]:
    yield cond
    for arg in getattr(cond, "args", None) or []:
        yield from _walk(arg)


def _columns(rule: SigmaRule, *, fulltext: bool) -> tuple[str, ...]:
    names: set[str] = set()
    for condition in rule.detection.parsed_condition:
        for cond in _walk(condition.parsed):
            if isinstance(cond, ConditionFieldEqualsValueExpression):
                if cond.field:
                    names.add(cond.field.lower())
                if isinstance(cond.value, SigmaFieldReference):
                    names.add(cond.value.field.lower())
    if fulltext:
        names.add(FULLTEXT_COLUMN)
    return tuple(sorted(names))


def _bound(cond: Any, name: str) -> set[str] | None:
    """The values `name` must take for `cond` to hold, or None when that is not provable.

    Used to skip, before flattening, events no rule of a log type can match (the way Zircolite
    pre-filters on Windows event ids). Only a bound that holds for certain is returned: a
    wrong one would cost detections, a missing one only speed.
    """
    if isinstance(cond, ConditionFieldEqualsValueExpression):
        if cond.field is None or cond.field.lower() != name:
            return None
        value = cond.value
        if isinstance(value, SigmaNumber):
            return {str(value.number).lower()}
        if isinstance(value, SigmaString) and not value.contains_special():
            text = str(value)
            # An escaped wildcard or backslash might not print as the literal SQL compares.
            return None if any(c in text for c in "*?\\") else {text.lower()}
        return None
    if isinstance(cond, ConditionAND):
        bounds = [b for b in (_bound(arg, name) for arg in cond.args) if b is not None]
        return set.intersection(*bounds) if bounds else None
    if isinstance(cond, ConditionOR):
        out: set[str] = set()
        for arg in cond.args:
            bound = _bound(arg, name)
            if bound is None:
                return None
            out |= bound
        return out
    return None


def _bounds(rule: SigmaRule, columns: Iterable[str]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name in columns:
        values: set[str] = set()
        for condition in rule.detection.parsed_condition:
            bound = _bound(condition.parsed, name)
            if bound is None:
                break
            values |= bound
        else:
            out[name] = frozenset(values)
    return out


def _documents(path: Path, text: str) -> tuple[list[Any], list[int]]:
    """The YAML documents of a file and the 1-based line each starts on."""
    docs = list(yaml.safe_load_all(text))
    lines = [node.start_mark.line + 1 for node in yaml.compose_all(text, Loader=yaml.SafeLoader)]
    # compose_all yields nothing for an empty document; keep the lists aligned.
    while len(lines) < len(docs):
        lines.append(lines[-1] if lines else 1)
    return docs, lines


def _rule_line(rule: Any, docs: Sequence[Any], lines: Sequence[int]) -> int | None:
    title = getattr(rule, "title", None)
    for doc, line in zip(docs, lines, strict=False):
        if isinstance(doc, dict) and doc.get("title") == title:
            return line
    return lines[0] if lines else None


def rule_files(roots: Iterable[Path]) -> tuple[list[Path], list[RuleProblem]]:
    files: list[Path] = []
    problems: list[RuleProblem] = []
    for root in roots:
        if root.is_file():
            files.append(root)
        elif root.is_dir():
            files.extend(sorted(p for p in root.rglob("*") if p.suffix in (".yml", ".yaml")))
        else:
            problems.append(RuleProblem(str(root), None, "no such file or folder"))
    return files, problems


def load_rules(roots: Iterable[Path | str]) -> RuleSet:
    """Every Sigma rule under `roots` (files or folders, searched recursively)."""
    backend = sqliteBackend(  # type: ignore[no-untyped-call]
        pipeline(), table=_TABLE_PLACEHOLDER, fulltext_field=FULLTEXT_COLUMN
    )
    files, problems = rule_files(Path(r) for r in roots)
    out = RuleSet(problems=problems, files=len(files))
    for path in files:
        _load_file(path, backend, out)
    logger.info(
        "sigma: %d rules loaded from %d files, %d skipped, %d for log types no source emits",
        len(out.rules),
        out.files,
        len(out.problems),
        len(out.inactive),
    )
    return out


def _load_file(path: Path, backend: sqliteBackend, out: RuleSet) -> None:
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        out.problems.append(RuleProblem(name, None, f"cannot read: {exc}"))
        return
    try:
        docs, lines = _documents(path, text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        out.problems.append(RuleProblem(name, line, f"invalid YAML: {exc.problem or exc}"))
        return
    except yaml.YAMLError as exc:
        out.problems.append(RuleProblem(name, None, f"invalid YAML: {exc}"))
        return
    if not any(isinstance(d, dict) for d in docs):
        out.problems.append(RuleProblem(name, lines[0] if lines else None, "not a Sigma rule"))
        return
    for doc, line in zip(docs, lines, strict=False):
        if doc is not None and not isinstance(doc, dict):
            out.problems.append(RuleProblem(name, line, "document is not a mapping"))
    try:
        collection = SigmaCollection.from_dicts(
            [d for d in docs if isinstance(d, dict)],
            collect_errors=True,
            source=SigmaRuleLocation(path),
        )
    except (SigmaError, ValueError, TypeError, KeyError) as exc:
        out.problems.append(RuleProblem(name, lines[0] if lines else None, _reason(exc)))
        return
    for error in collection.errors:
        if not any(error in getattr(r, "errors", []) for r in collection.rules):
            out.problems.append(RuleProblem(name, lines[0] if lines else None, _reason(error)))
    for rule in collection.rules:
        line = _rule_line(rule, docs, lines)
        if isinstance(rule, SigmaCorrelationRule):
            out.problems.append(
                RuleProblem(name, line, "correlation rules are not evaluated (single events only)")
            )
            continue
        if not isinstance(rule, SigmaRule):
            continue
        if rule.errors:
            out.problems.append(RuleProblem(name, line, _reason(rule.errors[0])))
            continue
        compiled = _compile(rule, backend, name, line, out)
        if compiled is not None:
            out.rules.append(compiled)


def _compile(
    rule: SigmaRule, backend: sqliteBackend, name: str, line: int | None, out: RuleSet
) -> CompiledRule | None:
    rule_id = str(rule.id) if rule.id else f"{Path(name).stem}"
    log_type = log_type_for(rule.logsource.product, rule.logsource.service)
    if log_type is None:
        source = f"product={rule.logsource.product} service={rule.logsource.service}"
        out.inactive.append(InactiveRule(rule_id, rule.title, source, name))
        return None
    try:
        queries = backend.convert_rule(rule)  # type: ignore[no-untyped-call]
    except (SigmaError, ValueError, TypeError, KeyError, NotImplementedError) as exc:
        out.problems.append(RuleProblem(name, line, f"cannot convert: {_reason(exc)}"))
        return None
    wheres: list[str] = []
    for query in queries:
        if not isinstance(query, str) or not query.startswith(_QUERY_PREFIX):
            out.problems.append(RuleProblem(name, line, "cannot convert: unexpected query shape"))
            return None
        wheres.append(query[len(_QUERY_PREFIX) :])
    if not wheres:
        out.problems.append(RuleProblem(name, line, "cannot convert: empty detection"))
        return None
    where = wheres[0] if len(wheres) == 1 else " OR ".join(f"({w})" for w in wheres)
    techniques, tactics = _techniques(rule)
    columns = _columns(rule, fulltext=FULLTEXT_COLUMN in where)
    return CompiledRule(
        id=rule_id,
        title=rule.title,
        severity=normalize_severity(str(rule.level) if rule.level else None),
        log_type=log_type,
        where=where,
        columns=columns,
        techniques=techniques,
        tactics=tactics,
        description=(rule.description or "").strip(),
        author=rule.author or "",
        references=tuple(rule.references),
        path=name,
        line=line,
        bounds=_bounds(rule, columns),
    )


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
