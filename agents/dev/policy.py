"""The one policy guard every pull request nightowl would open or update passes through.

`guard(proposal, facts)` is a pure function: it judges what would be pushed and opened (the
branch, the base, the exact diff, the title, body and commit message) against the rules
below and the facts the caller gathered (open PRs per repository, the stop button, ...). It
returns a `Verdict`: the texts to use (redacted) and every refusal, each with the rule's
name, so the caller records one audit event per refusal and opens nothing when any refusal
is fatal. The rules:

- branches are `nightowl/...`, never the default branch; the base is the default branch;
  the pull request is a draft (nightowl never merges, approves or marks ready: there is no
  code for it, and `tests/test_dev_policy.py` fails if any appears);
- no file under `.github/`, CI configuration, CODEOWNERS, `.env*`, migrations, or lockfiles
  (lockfiles only in a dependency PR);
- a model-written fix touches at most 2 files and 60 changed lines, never deletes or skips a
  test;
- secrets: title, body and commit message are redacted; a secret in the diff aborts;
- the body stays under 60,000 characters and carries the hidden fingerprint marker;
- per repository: at most 3 open, 2 an hour, 5 a day (a PR updated in place is not new);
- a fingerprint+suspect whose PR a human closed unmerged is left alone until a new release;
- the stop button (`/nightowl pause`) and a repository's opt-out refuse everything; shadow
  mode is not a refusal: the caller shows the diff in the thread and opens nothing.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from integrations.redaction import redact

PRKind = Literal["revert", "code", "resource", "config", "dependency"]
BRANCH_PREFIX = "nightowl/"
MARKER_PREFIX = "<!-- nightowl:fingerprint="
_REF = re.compile(r"^[A-Za-z0-9._/-]+$")

FORBIDDEN = (
    ".github/*", "*/.github/*",
    ".gitlab-ci.yml", "*/.gitlab-ci.yml", ".circleci/*", ".travis.yml", "Jenkinsfile",
    "*/Jenkinsfile", "azure-pipelines.yml", ".buildkite/*", "bitbucket-pipelines.yml",
    ".drone.yml", ".ci/*",
    "CODEOWNERS", "*/CODEOWNERS",
    ".env", ".env.*", "*/.env", "*/.env.*",
    "*/migrations/*", "migrations/*", "*/alembic/versions/*", "*/db/migrate/*",
    "db/migrate/*",
)
LOCKFILES = ("poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "package-lock.json",
             "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "Cargo.lock", "go.sum",
             "Gemfile.lock", "composer.lock", "mix.lock", "packages.lock.json")
TEST_FILE = re.compile(r"(^|/)(tests?/|test_[^/]*\.py$|[^/]*_test\.(py|go)$|"
                       r"[^/]*\.(spec|test)\.[jt]sx?$)")
_SKIP = re.compile(r"^\+.*(@pytest\.mark\.(skip|xfail)|pytest\.skip\(|@unittest\.skip|"
                   r"\bxit\(|\bit\.skip\(|\bdescribe\.skip\(|\btest\.skip\(|t\.Skip\(|"
                   r"@Disabled|@Ignore)")
_TEST_DEF = re.compile(r"^-\s*(async\s+)?def test_|^-\s*(it|test)\(|^-\s*func Test")


@dataclass(frozen=True, slots=True)
class Limits:
    max_open: int = 3
    per_hour: int = 2
    per_day: int = 5
    model_max_files: int = 2
    model_max_lines: int = 60
    max_body_chars: int = 60_000


@dataclass(frozen=True, slots=True)
class Proposal:
    """What would be pushed and opened."""

    repository: str
    default_branch: str
    branch: str
    base: str
    kind: PRKind
    title: str
    body: str
    commit_message: str
    diff: str
    files: tuple[str, ...]
    deleted_files: tuple[str, ...] = ()
    changed_lines: int = 0
    fingerprint: str = ""
    suspect: str = ""
    by_model: bool = False
    draft: bool = True


@dataclass(frozen=True, slots=True)
class Facts:
    """What the caller knows about the repository and this fingerprint right now."""

    open_prs: int = 0
    opened_last_hour: int = 0
    opened_last_day: int = 0
    updating: bool = False  # an open PR for this fingerprint exists: it is updated in place
    paused: bool = False
    opted_out: bool = False
    shadow: bool = False
    human_closed_at: datetime | None = None  # this fingerprint+suspect's PR, closed unmerged
    latest_release_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    rule: str
    reason: str
    fatal: bool = True  # False: fixed on the way (a secret redacted from the body)


@dataclass(frozen=True, slots=True)
class Verdict:
    proposal: Proposal  # with redacted title, body and commit message
    refusals: tuple[Refusal, ...] = field(default_factory=tuple)
    shadow: bool = False

    @property
    def allowed(self) -> bool:
        return not any(r.fatal for r in self.refusals)

    def reasons(self) -> str:
        return "; ".join(r.reason for r in self.refusals if r.fatal)


def marker(fingerprint: str) -> str:
    return f"{MARKER_PREFIX}{fingerprint} -->"


def forbidden_path(path: str, *, kind: PRKind) -> str | None:
    """Why nightowl may not touch `path`, or None."""
    clean = path.lstrip("./") if path.startswith("./") else path
    for pattern in FORBIDDEN:
        if fnmatch.fnmatchcase(clean, pattern):
            return f"{path} is off limits ({pattern})"
    if clean.rsplit("/", 1)[-1] in LOCKFILES and kind != "dependency":
        return f"{path} is a lockfile (only a dependency update may change one)"
    return None


def test_tampering(diff: str, deleted_files: tuple[str, ...]) -> list[str]:
    """Ways a change deletes or skips tests."""
    found = [f"deletes the test file {p}" for p in deleted_files if TEST_FILE.search(p)]
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            continue
        if _SKIP.search(line):
            found.append(f"skips a test: {line[1:].strip()[:80]}")
        elif _TEST_DEF.search(line):
            found.append(f"removes a test: {line[1:].strip()[:80]}")
    return found


def guard(proposal: Proposal, facts: Facts, limits: Limits | None = None) -> Verdict:
    limits = limits or Limits()
    refusals: list[Refusal] = []

    def refuse(rule: str, reason: str, *, fatal: bool = True) -> None:
        refusals.append(Refusal(rule, reason, fatal))

    if facts.paused:
        refuse("paused", "nightowl is paused (/nightowl resume to restart)")
    if facts.opted_out:
        refuse("opted_out", f"{proposal.repository} opted out of nightowl pull requests")
    branch = proposal.branch
    if not branch.startswith(BRANCH_PREFIX) or not _REF.match(branch) or ".." in branch:
        refuse("branch", f"branch {branch!r} is not a nightowl/... branch")
    if branch in (proposal.default_branch, proposal.base) or branch.removeprefix(
            "refs/heads/") == proposal.default_branch:
        refuse("default_branch", f"never pushes to the default branch {proposal.default_branch}")
    if proposal.base != proposal.default_branch:
        refuse("base", f"pull requests target {proposal.default_branch}, not {proposal.base}")
    if not proposal.draft:
        refuse("draft", "pull requests are always opened as drafts")
    for path in proposal.files:
        why = forbidden_path(path, kind=proposal.kind)
        if why:
            refuse("forbidden_path", why)
    if not proposal.files or not proposal.diff.strip():
        refuse("empty", "the change is empty")
    if proposal.by_model or proposal.kind == "code":
        if len(proposal.files) > limits.model_max_files:
            refuse("fix_size", f"a model fix may touch {limits.model_max_files} files, "
                               f"this one touches {len(proposal.files)}")
        if proposal.changed_lines > limits.model_max_lines:
            refuse("fix_size", f"a model fix may change {limits.model_max_lines} lines, "
                               f"this one changes {proposal.changed_lines}")
        for problem in test_tampering(proposal.diff, proposal.deleted_files):
            refuse("tests", f"a fix never deletes or skips a test: it {problem}")
    if redact(proposal.diff) != proposal.diff:
        refuse("secret_in_diff", "the diff contains what looks like a secret")
    title, body, message = (redact(proposal.title), redact(proposal.body),
                            redact(proposal.commit_message))
    for name, before, after in (("title", proposal.title, title), ("body", proposal.body, body),
                                ("commit message", proposal.commit_message, message)):
        if before != after:
            refuse("secret_in_text", f"a secret was masked in the {name}", fatal=False)
    if len(body) >= limits.max_body_chars:
        refuse("body_size", f"the body is {len(body)} characters "
                            f"(limit {limits.max_body_chars})")
    if not proposal.fingerprint or marker(proposal.fingerprint) not in body:
        refuse("marker", "the body lacks the hidden fingerprint marker")
    if not facts.updating:
        if facts.open_prs >= limits.max_open:
            refuse("rate_open", f"{proposal.repository} already has {facts.open_prs} open "
                                f"nightowl pull requests (limit {limits.max_open})")
        if facts.opened_last_hour >= limits.per_hour:
            refuse("rate_hour", f"{facts.opened_last_hour} opened on {proposal.repository} "
                                f"in the last hour (limit {limits.per_hour})")
        if facts.opened_last_day >= limits.per_day:
            refuse("rate_day", f"{facts.opened_last_day} opened on {proposal.repository} "
                               f"in the last day (limit {limits.per_day})")
    if facts.human_closed_at is not None and (
            facts.latest_release_at is None or facts.latest_release_at <= facts.human_closed_at):
        refuse("human_closed", "a human closed this fix unmerged; nightowl leaves it alone "
                               "until a new release")
    clean = replace(proposal, title=title[:256], body=body, commit_message=message)
    return Verdict(clean, tuple(refusals), shadow=facts.shadow)
