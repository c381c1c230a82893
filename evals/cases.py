"""Suites of labelled cases: a folder of scenario directories, each with `truth.json`."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from evals.errors import SuiteError
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.scenario import load_case

KINDS = {"cpu", "memory", "disk", "network_delay", "network_loss", "deploy", "config",
         "traffic", "code_error", "dependency", "payload", "none"}


@dataclass(frozen=True, slots=True)
class Truth:
    service: str
    kind: str
    also_correct: tuple[str, ...] = ()
    notes: str = ""

    @property
    def control(self) -> bool:
        return self.kind == "none"

    def matches(self, service: str) -> bool:
        return service == self.service or service in self.also_correct


@dataclass(frozen=True, slots=True)
class LabelledCase:
    path: Path
    truth: Truth
    group: str = ""  # e.g. the traffic regime or the fault family, for per-group figures
    label: str = ""  # how reports name it, when not its folder's name (a nested suite's path)

    @property
    def name(self) -> str:
        return self.label or self.path.name


@dataclass
class Suite:
    name: str
    cases: list[LabelledCase] = field(default_factory=list)
    credit: str = ""


def load_truth(path: Path) -> Truth:
    file = path / "truth.json"
    if not file.is_file():
        raise SuiteError(f"case {path.name}: missing {file}")
    try:
        raw = json.loads(file.read_text())
        root = raw["root_cause"]
        kind = str(root.get("kind") or "")
        service = str(root.get("service") or "")
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise SuiteError(f"case {path.name}: {file} is malformed ({exc}); expected "
                         '{"root_cause": {"service": ..., "kind": ...}}') from exc
    if kind not in KINDS:
        raise SuiteError(f"case {path.name}: {file}: unknown kind {kind!r} "
                         f"(one of {', '.join(sorted(KINDS))})")
    if kind != "none" and not service:
        raise SuiteError(f"case {path.name}: {file}: root_cause.service is empty")
    also = raw.get("also_correct") or []
    return Truth(service, kind, tuple(str(a) for a in also if isinstance(a, str)),
                 str(raw.get("notes") or ""))


def load_suite(path: Path, *, name: str | None = None) -> Suite:
    """A folder of case directories, or of folders of them (one per system, say: a nested
    case is named by its path and grouped by the folders above it), or one case."""
    if not path.is_dir():
        raise SuiteError(f"suite {path}: not a directory")
    dirs = _case_dirs(path)
    if not dirs:
        raise SuiteError(f"suite {path}: holds no case directories")
    suite = Suite(name or path.name)
    for case_dir in dirs:
        try:
            load_case(case_dir)
        except ScenarioError as exc:
            raise SuiteError(f"case {case_dir.name}: {exc}") from exc
        if not (case_dir / "metrics.csv").is_file():
            raise SuiteError(f"case {case_dir.name}: missing {case_dir / 'metrics.csv'}")
        truth = load_truth(case_dir)
        where = case_dir.relative_to(path) if case_dir != path else Path(case_dir.name)
        group = str(where.parent) if where.parent != Path(".") else (
            truth.kind if truth.kind != "none" else "control")
        suite.cases.append(LabelledCase(case_dir, truth, group,
                                        label=str(where) if where.parent != Path(".") else ""))
    return suite


def _case_dirs(path: Path) -> list[Path]:
    """Every case directory under `path`. A folder that holds no case.json anywhere below
    it is taken for a broken case (so its error names it), not skipped in silence."""
    if (path / "case.json").is_file():
        return [path]  # a single case given as a suite
    found: list[Path] = []
    for child in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (child / "case.json").is_file() or not any(child.rglob("case.json")):
            found.append(child)
        else:
            found.extend(_case_dirs(child))
    return found


def by_family(suite: Suite) -> Suite:
    """`suite` with each case grouped by the fault family its truth's notes open with
    (`family=noisy_neighbour; ...`, as the generators write them): figures per family,
    finer than per kind (a noisy neighbour and a slow burn are both `cpu`)."""
    suite.cases = [replace(case, group=case.truth.notes.split(";")[0].removeprefix("family="))
                   for case in suite.cases]
    return suite
