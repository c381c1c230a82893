"""The Dev agent's typed inputs and outputs: what `nightowl fix DIR --json` reads and prints.

The input is the fix case directory of DESIGN.md (`case.json` + `repo/`); the output's JSON
shape (`FixResult.contract()`) is the contract there. Fields beyond it (`in_range`, `when`,
`pr` on suspects, `function` on files, `message`/`files` on the remediation, the result's
`case` and `notes`) are additions that scripts can ignore, as in the investigator's report.

These types are shared with the PR side of the agent (policy guard, PR body, Slack): keep
them small and change them only in backward-compatible ways (new optional fields last).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

RemediationKind = Literal["revert", "code", "resource", "config", "none"]
# "new_code": the suspect commit lies inside the deployed range (a regression the deploy
# shipped); "old_code": the blamed lines predate the range, so the error is old code meeting
# new input; "unknown": no deploy range was given, or nothing could be blamed.
SuspectCase = Literal["new_code", "old_code", "unknown"]


class CaseError(ValueError):
    """The fix case cannot be used (missing or malformed case.json); the message names why."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One stack frame as Sentry reports it (frames are ordered outermost first)."""

    filename: str
    lineno: int
    function: str
    in_app: bool = True
    context_line: str = ""


@dataclass(frozen=True, slots=True)
class ErrorEvent:
    """One error signature: what it is, how often, and where it was raised."""

    title: str
    type: str
    value: str
    service: str = ""
    count: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    frames: tuple[Frame, ...] = ()

    def in_app_innermost_first(self) -> list[tuple[int, Frame]]:
        """In-app frames with their depth (0 = innermost in-app frame, where it raised)."""
        app = [f for f in reversed(self.frames) if f.in_app]
        return list(enumerate(app))


@dataclass(frozen=True, slots=True)
class DeployRange:
    """The deploy that shipped the running code: commits in `from_sha..to_sha`."""

    to_sha: str
    from_sha: str | None = None
    service: str = ""
    at: datetime | None = None


RESOURCE_KINDS = ("memory", "cpu")


@dataclass(frozen=True, slots=True)
class ResourceFigures:
    """What an investigation's evidence says about one container's memory and CPU."""

    service: str
    container: str
    kind: str                                  # memory | cpu (the blamed family)
    oom_killed: bool = False
    peak_memory_bytes: float | None = None
    peak_memory_share: float | None = None     # of the container's memory limit
    cpu_p95_cores: float | None = None
    throttled_share: float | None = None
    cpu_p95_share: float | None = None         # of the container's CPU limit
    evidence: tuple[str, ...] = field(default_factory=tuple)  # the findings read

    def as_dict(self) -> dict[str, object]:
        return {"service": self.service, "container": self.container, "kind": self.kind,
                "oom_killed": self.oom_killed, "peak_memory_bytes": self.peak_memory_bytes,
                "peak_memory_share": self.peak_memory_share,
                "cpu_p95_cores": self.cpu_p95_cores, "throttled_share": self.throttled_share,
                "cpu_p95_share": self.cpu_p95_share,
                "evidence": list(self.evidence)}

    @classmethod
    def from_dict(cls, raw: dict[str, object]) -> ResourceFigures:
        def num(key: str) -> float | None:
            value = raw.get(key)
            return float(value) if isinstance(value, int | float) else None

        return cls(service=str(raw.get("service", "")),
                   container=str(raw.get("container", "")), kind=str(raw.get("kind", "")),
                   oom_killed=bool(raw.get("oom_killed")),
                   peak_memory_bytes=num("peak_memory_bytes"),
                   peak_memory_share=num("peak_memory_share"),
                   cpu_p95_cores=num("cpu_p95_cores"), throttled_share=num("throttled_share"),
                   cpu_p95_share=num("cpu_p95_share"),
                   evidence=tuple(str(e) for e in evidence)
                   if isinstance(evidence := raw.get("evidence"), list) else ())


@dataclass(frozen=True, slots=True)
class FixCase:
    """A fix case directory, parsed: the error, the deploy, the test command, the repository."""

    id: str
    error: ErrorEvent
    repo: Path
    deploy: DeployRange | None = None
    test_command: str | None = None
    # Optional (an addition to DESIGN's case.json): pods OOM-killed or CPU-throttled, and
    # what was measured; the remediation is then a bump of the container's `resources:`.
    resources: ResourceFigures | None = None

    @classmethod
    def load(cls, directory: Path) -> FixCase:
        """Parse `DIR/case.json`; `DIR/repo` is the repository. Raises CaseError on bad input."""
        path = directory / "case.json"
        if not path.is_file():
            raise CaseError(f"{directory}: no case.json")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CaseError(f"{path}: not readable JSON ({exc})") from exc
        return cls.from_dict(raw, repo=directory / "repo", where=str(path))

    @classmethod
    def from_dict(cls, raw: Any, *, repo: Path, where: str = "case.json") -> FixCase:
        if not isinstance(raw, dict):
            raise CaseError(f"{where}: expected an object")
        err = raw.get("error")
        if not isinstance(err, dict):
            raise CaseError(f"{where}: missing 'error' object")
        frames: list[Frame] = []
        for i, fr in enumerate(err.get("frames") or []):
            if not isinstance(fr, dict) or not fr.get("filename"):
                raise CaseError(f"{where}: error.frames[{i}] needs a filename")
            try:
                lineno = int(fr.get("lineno") or 0)
            except (TypeError, ValueError) as exc:
                raise CaseError(f"{where}: error.frames[{i}].lineno is not a number") from exc
            frames.append(Frame(filename=str(fr["filename"]), lineno=lineno,
                                function=str(fr.get("function") or ""),
                                in_app=bool(fr.get("in_app", True)),
                                context_line=str(fr.get("context_line") or "")))
        etype = str(err.get("type") or "")
        value = str(err.get("value") or "")
        error = ErrorEvent(
            title=str(err.get("title") or (f"{etype}: {value}" if etype else value)),
            type=etype, value=value, service=str(err.get("service") or ""),
            count=_int(err.get("count")), first_seen=_time(err.get("first_seen"), where),
            last_seen=_time(err.get("last_seen"), where), frames=tuple(frames))
        deploy = None
        dep = raw.get("deploy")
        if isinstance(dep, dict) and dep.get("to"):
            deploy = DeployRange(to_sha=str(dep["to"]),
                                 from_sha=str(dep["from"]) if dep.get("from") else None,
                                 service=str(dep.get("service") or ""),
                                 at=_time(dep.get("at"), where))
        elif dep is not None and not isinstance(dep, dict):
            raise CaseError(f"{where}: 'deploy' must be an object")
        test = raw.get("test_command")
        return cls(id=str(raw.get("id") or ""), error=error, repo=repo, deploy=deploy,
                   test_command=str(test) if test else None,
                   resources=_resources(raw.get("resources"), error.service, where))


@dataclass(frozen=True, slots=True)
class SuspectCommit:
    commit: str
    author: str
    title: str
    score: float
    why: str
    when: datetime | None = None
    pr: int | None = None
    # True when the commit lies in the deployed range ("new code"); False when it predates
    # it ("old code meeting new input"); None when no range was given.
    in_range: bool | None = None
    email: str = ""
    files: tuple[str, ...] = ()

    def contract(self) -> dict[str, Any]:
        return {"commit": self.commit, "author": self.author, "title": self.title,
                "score": round(self.score, 4), "why": self.why,
                "when": self.when.isoformat() if self.when else None, "pr": self.pr,
                "in_range": self.in_range}


@dataclass(frozen=True, slots=True)
class SuspectFile:
    path: str
    line: int
    why: str
    function: str = ""
    score: float = 0.0

    def contract(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "why": self.why,
                "function": self.function}


@dataclass(frozen=True, slots=True)
class Verification:
    """The test command run before and after the change, and its exit codes."""

    command: str
    before_exit: int | None
    after_exit: int | None

    @property
    def passed(self) -> bool:
        """The change turned a failing command green."""
        return self.before_exit not in (None, 0) and self.after_exit == 0

    def contract(self) -> dict[str, Any]:
        return {"command": self.command, "before_exit": self.before_exit,
                "after_exit": self.after_exit}


@dataclass(frozen=True, slots=True)
class Remediation:
    kind: RemediationKind = "none"
    branch: str = ""
    diff: str = ""
    verified: Verification | None = None
    # Why there is none, or what to know about it (e.g. the files a revert conflicts in).
    message: str = ""
    files: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()  # the commits a revert reverts

    def contract(self) -> dict[str, Any]:
        return {"kind": self.kind, "branch": self.branch, "diff": self.diff,
                "verified": self.verified.contract() if self.verified else None,
                "message": self.message, "files": list(self.files)}


@dataclass(frozen=True, slots=True)
class FixResult:
    suspects: tuple[SuspectCommit, ...] = ()
    files: tuple[SuspectFile, ...] = ()
    remediation: Remediation = field(default_factory=Remediation)
    abstained: bool = False
    case: SuspectCase = "unknown"
    # Problems met on the way, named (a frame's file missing at the commit, a shallow clone,
    # an unknown range, a model failure): the result stands, with these caveats.
    notes: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    llm_calls: int = 0

    def contract(self) -> dict[str, Any]:
        """The JSON of `nightowl fix DIR --json` (DESIGN.md), plus ignorable additions."""
        return {"suspects": [s.contract() for s in self.suspects],
                "files": [f.contract() for f in self.files],
                "remediation": self.remediation.contract(),
                "abstained": self.abstained,
                "case": self.case,
                "notes": list(self.notes),
                "stats": {"elapsed_s": round(self.elapsed_s, 3), "llm_calls": self.llm_calls}}


def _resources(raw: Any, service: str, where: str) -> ResourceFigures | None:
    """case.json's optional `resources`: {"container", "kind": memory|cpu, "oom_killed",
    "peak_memory_bytes", "peak_memory_share", "cpu_p95_cores", "cpu_p95_share",
    "throttled_share"}."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: 'resources' must be an object")
    kind = raw.get("kind", "memory")
    if kind not in RESOURCE_KINDS:
        raise CaseError(f"{where}: resources.kind must be one of {', '.join(RESOURCE_KINDS)}")
    for key in ("peak_memory_bytes", "peak_memory_share", "cpu_p95_cores", "cpu_p95_share",
                "throttled_share"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, int | float) or value < 0
                                  or isinstance(value, bool)):
            raise CaseError(f"{where}: resources.{key} must be a non-negative number")
    container = str(raw.get("container") or service or "")
    if not container:
        raise CaseError(f"{where}: resources.container is needed (or error.service)")
    return ResourceFigures.from_dict({**raw, "kind": kind, "container": container,
                                      "service": str(raw.get("service") or service)})


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _time(value: Any, where: str) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(float(value), tz=UTC)
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError) as exc:
        raise CaseError(f"{where}: {value!r} is not a time (ISO 8601 or Unix seconds)") from exc
