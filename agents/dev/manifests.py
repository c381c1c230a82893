"""Find the Kubernetes manifest or Helm values that hold a container's resources, and bump them.

The repository is searched at one commit with `git grep` for YAML files naming the container;
each is tried with the resource editor (resources.bump), and exactly one must hold it. Several
candidates are narrowed to those under the service's directory (NIGHTOWL_REPOS's path) or
naming the service; a choice still left open is no change, and the result names the files,
so a person can point nightowl at the right one.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from agents.dev.resource_need import ResourceFigures
from agents.dev.resources import (
    LIMIT_STEP,
    MEMORY_HEADROOM,
    ResourceEditError,
    ResourceNeed,
    bump,
    propose_resource_bump,
)
from agents.dev.types import FixResult, Remediation, SuspectFile
from integrations.github.errors import GitError
from integrations.github.git import Git

MAX_CANDIDATES = 40  # YAML files naming the container that are read and tried


def need_of(figures: ResourceFigures) -> ResourceNeed:
    """The editor's input: memory figures only when memory was blamed or pods were OOM-killed,
    the CPU request only when CPU was blamed (a bump changes what the evidence is about)."""
    memory = figures.kind == "memory" or figures.oom_killed
    return ResourceNeed(
        container=figures.container,
        peak_memory_bytes=figures.peak_memory_bytes if memory else None,
        peak_memory_share=figures.peak_memory_share if memory else None,
        cpu_p95_cores=figures.cpu_p95_cores if figures.kind == "cpu" else None,
        cpu_p95_share=figures.cpu_p95_share if figures.kind == "cpu" else None,
        oom_killed=figures.oom_killed)


async def resource_bump_in(git: Git, rev: str, figures: ResourceFigures, *,
                           under: str = "") -> FixResult:
    need = need_of(figures)
    notes = [*explain(figures)]
    try:
        candidates = await _candidates(git, rev, need.container)
    except GitError as exc:
        return FixResult(abstained=True, notes=(f"searching the repository failed: {exc}",),
                         remediation=Remediation(message="the repository could not be searched"))
    fits: list[tuple[str, str]] = []
    for path in candidates[:MAX_CANDIDATES]:
        try:
            text = await git.show_file(rev, path)
            bump(text, need)
        except (GitError, ResourceEditError):
            continue
        fits.append((path, text))
    if len(fits) > 1:
        narrowed = [f for f in fits if under and f[0].startswith(under.rstrip("/") + "/")] or \
            [f for f in fits if figures.service in PurePosixPath(f[0]).parts
             or figures.service in PurePosixPath(f[0]).stem]
        fits = narrowed if narrowed else fits
    if not fits:
        message = (f"no Kubernetes manifest or Helm values in the repository holds a "
                   f"container named `{need.container}`: no resource change")
        return FixResult(remediation=Remediation(message=message), notes=tuple(notes))
    if len(fits) > 1:
        names = ", ".join(p for p, _ in fits[:5])
        return FixResult(remediation=Remediation(
            message=f"several files hold a container named `{need.container}` ({names}): "
                    "no resource change; set the service's path in NIGHTOWL_REPOS",
            files=tuple(p for p, _ in fits)), notes=tuple(notes))
    path, text = fits[0]
    remediation = propose_resource_bump(path, text, need)
    line = _container_line(text, need.container)
    files = (SuspectFile(path=path, line=line, function=need.container,
                         why=f"holds the resources of container `{need.container}`"),)
    return FixResult(files=files, remediation=remediation, notes=tuple(notes))


def explain(figures: ResourceFigures) -> list[str]:
    """The figures and the rule, in words, for the thread and the pull request."""
    out = []
    if figures.oom_killed:
        out.append(f"`{figures.container}` was OOM-killed: its memory limit becomes at "
                   f"least {LIMIT_STEP:g}× the limit it was killed at")
    if figures.peak_memory_bytes:
        out.append(f"peak memory {figures.peak_memory_bytes / 1024 ** 2:.0f} MiB "
                   f"(× {MEMORY_HEADROOM:g} headroom)")
    elif figures.peak_memory_share:
        out.append(f"peak memory {figures.peak_memory_share:.0%} of its limit "
                   f"(× {MEMORY_HEADROOM:g} headroom)")
    if figures.kind == "cpu":
        if figures.cpu_p95_cores is not None:
            out.append(f"CPU p95 {figures.cpu_p95_cores * 1000:.0f}m: the CPU request")
        elif figures.cpu_p95_share is not None:
            out.append(f"CPU p95 {figures.cpu_p95_share:.0%} of its limit: the CPU request")
        if figures.throttled_share is not None:
            out.append(f"{figures.throttled_share:.0%} of CPU periods throttled")
    return out


def _container_line(text: str, container: str) -> int:
    """The line that opens the container (`- name: x`) or the values block (`x:`)."""
    opening = re.compile(rf"^\s*(?:-\s*)?name:\s*[\"']?{re.escape(container)}[\"']?\s*$|"
                         rf"^\s*{re.escape(container)}:\s*$")
    lines = text.splitlines()
    for i, ln in enumerate(lines, 1):
        if opening.match(ln) and (ln.lstrip().startswith("-") or not ln.lstrip()
                                  .startswith("name:")):
            return i
    return next((i for i, ln in enumerate(lines, 1) if container in ln), 1)


async def _candidates(git: Git, rev: str, container: str) -> list[str]:
    res = await git.run("grep", "-l", "-I", "-F", "-e", container, rev, "--", "*.yaml", "*.yml",
                        check=False)
    if res.code not in (0, 1):  # 1: nothing matched
        raise GitError(f"git grep failed: {res.err.strip()[:300]}", stderr=res.err)
    prefix = f"{rev}:"
    return sorted(ln.removeprefix(prefix) for ln in res.out.splitlines() if ln.strip())
