"""The pull request a reviewer judges in a minute: title, body and commit message.

The body leads with what happened and what the change does, then the evidence one click
away: the incident thread, the error (fingerprint, count, first/last seen, top in-app
frames), the deploy range and the suspect commit, the chain from the alert to the cause, the
test commands with their exit codes before and after, risk and rollback. Everything quoted
from telemetry is redacted and fenced: it is data, not instructions. A hidden marker carries
the fingerprint, so nightowl finds its own pull request again after a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from agents.dev.policy import PRKind, marker
from agents.dev.types import DeployRange, ErrorEvent, Remediation, SuspectCommit
from integrations.redaction import redact

MAX_BODY = 59_000  # the guard refuses 60,000 and more; leave room for the marker
MAX_DIFF_IN_BODY = 6_000

LABELS: dict[str, str] = {"revert": "revert", "code": "code-fix", "resource": "resource-bump",
                          "config": "config", "dependency": "dependencies"}


@dataclass(frozen=True, slots=True)
class PRContext:
    kind: PRKind
    repository: str
    fingerprint: str
    error: ErrorEvent
    remediation: Remediation
    suspects: Sequence[SuspectCommit] = ()
    deploy: DeployRange | None = None
    thread_url: str | None = None
    incident_title: str | None = None
    evidence: Sequence[str] = ()  # the chain from the alert to the cause, one line each
    case: str = "unknown"  # new_code | old_code | unknown
    suspect_login: str | None = None
    extra_notes: Sequence[str] = field(default_factory=tuple)


def _fence(text: str) -> str:
    return redact(text).replace("```", "'''")


def short(sha: str | None) -> str:
    return (sha or "")[:10]


def title(ctx: PRContext) -> str:
    top = ctx.suspects[0] if ctx.suspects else None
    if ctx.kind == "revert" and top is not None:
        shown = top.title if len(top.title) <= 60 else top.title[:59] + "…"
        return redact(f'Revert "{shown}" ({short(top.commit)[:7]})')
    if ctx.kind == "resource":
        return redact(f"Raise resources for {ctx.error.service or 'the service'}: "
                      f"{ctx.error.title}"[:120])
    where = ctx.remediation.files[0] if ctx.remediation.files else ctx.error.service
    return redact(f"Fix {ctx.error.type or 'error'} in {where}"[:120])


def commit_message(ctx: PRContext) -> str:
    lines = [title(ctx), ""]
    if ctx.kind == "revert":
        for sha in ctx.remediation.commits or tuple(s.commit for s in ctx.suspects[:1]):
            lines.append(f"This reverts commit {sha}.")
        lines.append("")
    lines.append(f"Error: {ctx.error.title}")
    lines.append(f"Fingerprint: {ctx.fingerprint}")
    lines.append("Opened by nightowl as a draft; a human reviews and merges.")
    return redact("\n".join(lines))


def body(ctx: PRContext) -> str:
    e, r = ctx.error, ctx.remediation
    top = ctx.suspects[0] if ctx.suspects else None
    out: list[str] = []
    what = {"revert": "reverts the commit(s) that introduced this error",
            "code": "fixes this error in the code (a model wrote it; the tests below verify it)",
            "resource": "raises the container's resources that ran out",
            "config": "changes the configuration", "dependency": "updates a dependency"}
    out.append(f"> 🦉 nightowl {what.get(ctx.kind, 'proposes a change')}. **Draft**: "
               "review it, then mark it ready and merge it yourself, or close it.")
    out.append("")
    if ctx.thread_url:
        label = ctx.incident_title or "incident thread"
        out.append(f"**Incident:** [{_fence(label)[:120]}]({ctx.thread_url})")
    out.append("")
    out.append("### The error")
    seen = []
    if e.count:
        seen.append(f"{e.count} events")
    if e.first_seen:
        seen.append(f"first seen {e.first_seen:%Y-%m-%d %H:%M} UTC")
    if e.last_seen:
        seen.append(f"last seen {e.last_seen:%Y-%m-%d %H:%M} UTC")
    out.append(f"`{_fence(e.title)[:200]}` in **{e.service or '?'}**"
               + (f" — {', '.join(seen)}" if seen else ""))
    out.append(f"Fingerprint: `{ctx.fingerprint}`")
    frames = [f for _, f in e.in_app_innermost_first()][:5]
    if frames:
        out.append("")
        out.append("Top in-app frames (innermost first):")
        out.append("```")
        for f in frames:
            out.append(f"{f.filename}:{f.lineno} in {f.function}")
            if f.context_line:
                out.append(f"    {_fence(f.context_line.strip())[:160]}")
        out.append("```")
    out.append("")
    out.append("### Cause")
    if ctx.deploy is not None:
        span = (f"`{short(ctx.deploy.from_sha)}..{short(ctx.deploy.to_sha)}`"
                if ctx.deploy.from_sha else f"up to `{short(ctx.deploy.to_sha)}`")
        when = f" at {ctx.deploy.at:%Y-%m-%d %H:%M} UTC" if ctx.deploy.at else ""
        out.append(f"Deploy {span}{when}.")
    case = {"new_code": "The suspect commit shipped in this deploy (new code).",
            "old_code": "The blamed lines predate the deploy: old code meeting new input."}
    if ctx.case in case:
        out.append(case[ctx.case])
    if top is not None:
        pr = f" (#{top.pr})" if top.pr else ""
        who = f"@{ctx.suspect_login}" if ctx.suspect_login else _fence(top.author)
        out.append("")
        out.append("| suspect | author | why | score |")
        out.append("| --- | --- | --- | --- |")
        for s in ctx.suspects[:3]:
            name = who if s is top else _fence(s.author)
            out.append(f"| `{short(s.commit)}` {_fence(s.title)[:60]}{pr if s is top else ''}"
                       f" | {name} | {_fence(s.why)[:160]} | {s.score:.2f} |")
    if ctx.evidence:
        out.append("")
        out.append("<details><summary>Chain of evidence, alert → cause</summary>")
        out.append("")
        for line in ctx.evidence[:12]:
            out.append(f"1. {_fence(line)[:300]}")
        out.append("</details>")
    out.append("")
    out.append("### The change")
    if r.message:
        out.append(_fence(r.message)[:600])
    if ctx.kind == "revert" and r.commits:
        out.append("Reverts " + ", ".join(f"`{short(c)}`" for c in r.commits) + ".")
    diff = r.diff if len(r.diff) <= MAX_DIFF_IN_BODY else (
        r.diff[:MAX_DIFF_IN_BODY] + "\n… (the full diff is in the Files tab)")
    if diff.strip():
        out.append("<details><summary>Diff</summary>")
        out.append("")
        out.append("```diff")
        out.append(_fence(diff))
        out.append("```")
        out.append("</details>")
    out.append("")
    out.append("### Verification")
    v = r.verified
    if v is not None:
        out.append("| command | before | after |")
        out.append("| --- | --- | --- |")
        out.append(f"| `{_fence(v.command)[:120]}` | exit {v.before_exit} | exit {v.after_exit} |")
        out.append("The failing command fails before the change and passes after it."
                   if v.passed else "⚠️ The change did not turn the command green.")
    elif ctx.kind == "resource":
        out.append("A resource change is not tested here: the investigation's figures in the "
                   "chain of evidence size it. After the rollout, check that the pods stop "
                   "being OOM-killed or throttled and that the nodes still have room.")
    else:
        out.append("No test command was run (none was configured for this repository).")
    out.append("")
    out.append("### Risk and rollback")
    risk = {"revert": "Low to medium: the reverted commits' intended behaviour goes away "
                      "until they are redone. Check what else relied on them.",
            "code": "Limited to the files changed (≤ 2 files, ≤ 60 lines); the suite passed.",
            "resource": "More memory/CPU is reserved per pod; the cluster must have room."}
    out.append(risk.get(ctx.kind, "Review the change."))
    out.append("Rollback: revert this pull request's merge commit.")
    for note in ctx.extra_notes:
        out.append(f"- {_fence(note)[:300]}")
    out.append("")
    out.append("_Opened by nightowl. It never merges, approves or marks its own pull "
               "requests ready; closing this one unmerged tells it to leave this error alone "
               "until the next release._")
    text = "\n".join(out)
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n… (cut to fit GitHub's limit)"
    return text + "\n\n" + marker(ctx.fingerprint) + "\n"


def labels(kind: PRKind) -> list[str]:
    return ["nightowl", LABELS.get(kind, kind)]
