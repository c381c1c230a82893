"""Suspect commits and files for one error, from its stack frames and the deploy range.

For each in-app frame (innermost first) the line that raised and the function around it are
blamed at the deployed commit, following renames and moved code; inside the deployed range,
`git log -L` over the function also finds commits that only *deleted* lines there (a removed
guard), which blame cannot show. Each commit then collects evidence per frame, weighed by:

- depth: the innermost in-app frame is where it raised, so it weighs most, and each frame
  further out weighs less (DEPTH_DECAY);
- how the change touched the frame: the raising line itself, a line above it in the same
  function (on the path to the raise), a deletion inside the function, or a line below it
  (after the raise, so it can only matter through a loop);
- the deploy range: a commit the deploy shipped is "new code"; an older one stays a
  candidate ("old code meeting new input") at OLD_CODE_FACTOR of its weight, so when nothing
  in the range touched the frames, the old line's author still comes first and the result
  says which case it is.

Every threshold lives in `Weights`, so evals can sweep them. Problems (a frame's file not in
the repository, an unknown range, a shallow clone) become notes; the rest still runs.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from collections import defaultdict
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath
from typing import TypeVar

from agents.dev import offstack
from agents.dev.companions import say_old_code, with_companions
from agents.dev.types import (
    DeployRange,
    ErrorEvent,
    Frame,
    SuspectCase,
    SuspectCommit,
    SuspectFile,
)
from integrations.github.errors import GitError, MissingFile
from integrations.github.git import BlameLine, Commit, Git

log = logging.getLogger(__name__)
T = TypeVar("T")
PARALLEL_GIT = 4  # git processes at once per error


@dataclass(frozen=True, slots=True)
class Weights:
    depth_decay: float = 0.5         # weight of frame d is depth_decay ** d
    line: float = 1.0                # the commit last changed the raising line
    above: float = 0.6               # ... a line above it in the same function
    deleted: float = 0.5             # ... deleted lines inside the function (range only)
    below: float = 0.2               # ... a line below it in the same function
    nearby: float = 0.3              # ... a line above it that binds nothing it reads
    file: float = 0.15               # ... code elsewhere in a frame's file (range only)
    # Off the stack (offstack.py), counted only when nothing shipped changed the frames'
    # own code on the path to the raise:
    callee: float = 0.6              # ... the body of a function called on the path
    reads: float = 0.6               # ... bound or removed a name the raising line reads
    mentions: float = 0.2            # ... a line mentioning such a name
    spread: float = 0.25             # share of a commit's other frames added to its best
    old_code_factor: float = 0.7     # older commits against shipped off-path changes
    max_frames: int = 8              # in-app frames examined, innermost first
    context_lines: int = 6           # span blamed when the function cannot be parsed


DEFAULT_WEIGHTS = Weights()
TOUCH_WORDS = {"line": "changed the raising line", "above": "changed a line above it",
               "deleted": "deleted lines in it", "below": "changed a line below it",
               "file": "changed code elsewhere in its file",
               "nearby": "changed a line above it (not one it reads)"}
ON_PATH = frozenset({"line", "above", "deleted"})
OFF_STACK_ON_PATH = frozenset({"callee", "reads"})


@dataclass(slots=True)
class FrameFacts:
    """What git says about one in-app frame at the deployed commit."""

    depth: int
    frame: Frame
    path: str                                 # the frame's file, as found in the repository
    span: tuple[int, int]                     # the enclosing function's lines
    blame: list[BlameLine] = field(default_factory=list)
    range_touches: list[str] = field(default_factory=list)  # in-range shas from `log -L`
    offstack: list[offstack.OffStack] = field(default_factory=list)  # shipped, off the stack

    @property
    def line_blame(self) -> BlameLine | None:
        return next((b for b in self.blame if b.line == self.frame.lineno), None)


@dataclass(slots=True)
class Evidence:
    """Everything suspect-finding learned, shared by the ranking and the eval baselines."""

    deployed: str
    frames: list[FrameFacts]
    range_shas: set[str] | None               # None: no usable range
    commits: dict[str, Commit]
    notes: list[str]
    # Shipped commits that changed code (not only comments) elsewhere in a frame's file.
    file_touches: dict[str, list[str]] = field(default_factory=dict)
    # The range's code hunks per shipped commit (frames' files and the modules they import).
    hunks: dict[str, list[offstack.Hunk]] = field(default_factory=dict)


async def collect(git: Git, error: ErrorEvent, deploy: DeployRange | None, *,
                  weights: Weights = DEFAULT_WEIGHTS, keep_library: bool = False) -> Evidence:
    """Blame the error's in-app frames at the deployed commit and read the deploy range
    (`keep_library`: library frames too, as the error marks them, for the eval's baselines)."""
    notes: list[str] = []
    deployed = await _deployed(git, deploy, notes)
    # The range, the shallow check and the file listing are independent: ask git at once.
    (range_shas, range_spec, range_notes), shallow, listing = await asyncio.gather(
        _range(git, deploy, deployed), git.is_shallow(), _tree(git, deployed))
    notes += range_notes
    if shallow:
        notes.append("shallow clone: blame stops at the shallow boundary; older suspects "
                     "may be missing (fetch with --unshallow)")
    frames: list[FrameFacts] = []
    app = error.in_app_innermost_first()
    # Vendored copies of libraries (and site-packages frames an SDK marked in-app) raise
    # what their callers hand them: blame the callers, unless nothing else is on the stack.
    library = [(d, f) for d, f in app if is_library(f.filename)]
    if library and len(library) < len(app) and not keep_library:
        app = [(d, f) for d, f in app if not is_library(f.filename)]
        notes += [f"frame {f.filename}:{f.lineno} in {f.function or '?'}: library code "
                  "(vendored or site-packages), not blamed; its callers are"
                  for _, f in library]
    app = app[:weights.max_frames]
    if not app:
        notes.append("no in-app frames in the error: nothing to blame")
    seen: set[tuple[str, int]] = set()
    for _, frame in app:
        path = _locate(frame.filename, listing)
        if path is None:
            notes.append(f"frame {frame.filename}:{frame.lineno}: file not in the repository "
                         f"at {deployed[:12]}")
            continue
        if (path, frame.lineno) in seen:
            continue  # a comprehension's frame repeats its function's line
        seen.add((path, frame.lineno))
        frames.append(FrameFacts(depth=len(frames), frame=frame, path=path, span=(0, 0)))
    # Each file's blame walks its history on its own: read and blame files side by side.
    gate = asyncio.Semaphore(PARALLEL_GIT)
    texts = {p: asyncio.ensure_future(_guarded(gate, git.show_file(deployed, p)))
             for p in dict.fromkeys(f.path for f in frames)}
    # One blame per file, over all its frames' functions: frames that share a file (a
    # stack often passes through one module several times) walk its history once.
    by_path: dict[str, list[FrameFacts]] = defaultdict(list)
    for facts in frames:
        by_path[facts.path].append(facts)
    spans = {p: asyncio.ensure_future(_file_spans(group, texts[p], weights))
             for p, group in by_path.items()}
    blames = {p: asyncio.ensure_future(_file_blame(git, gate, p, spans[p], deployed))
              for p in by_path}
    problems = await asyncio.gather(*(_blame_frame(git, gate, facts, spans[facts.path],
                                                   blames[facts.path], deployed, range_spec)
                                      for facts in frames))
    await asyncio.gather(*blames.values(), return_exceptions=True)  # each frame noted it
    notes.extend(p for p in problems if p)
    frames = [f for f, p in zip(frames, problems, strict=True) if not p or f.blame]
    for depth, facts in enumerate(frames):
        facts.depth = depth

    file_touches: dict[str, list[str]] = {}
    hunks: dict[str, list[offstack.Hunk]] = {}
    if range_spec is not None and frames:
        file_touches, hunks = await _off_stack(git, error, frames, texts, listing, deployed,
                                        range_spec)
    wanted = ({s for shas in file_touches.values() for s in shas} | set(hunks)
              | {b.commit for f in frames for b in f.blame}
              | {s for f in frames for s in f.range_touches}
              | {o.sha for f in frames for o in f.offstack})
    commits = {c.sha: c for c in await git.commits(sorted(wanted))}
    return Evidence(deployed=deployed, frames=frames, range_shas=range_shas, commits=commits,
                    notes=notes, file_touches=file_touches, hunks=hunks)


async def _guarded(gate: asyncio.Semaphore, work: Awaitable[T]) -> T:
    async with gate:
        return await work


async def _file_spans(group: Sequence[FrameFacts], text: Awaitable[str],
                      weights: Weights) -> list[tuple[int, int]]:
    """Set each frame's function span in one file; the spans merged, for one blame."""
    source = await text
    for facts in group:
        facts.span = _function_span(source, facts.frame, weights.context_lines)
    merged: list[tuple[int, int]] = []
    for lo, hi in sorted({f.span for f in group}):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


async def _file_blame(git: Git, gate: asyncio.Semaphore, path: str,
                      spans: Awaitable[list[tuple[int, int]]], deployed: str
                      ) -> list[BlameLine]:
    return await _guarded(gate, git.blame(deployed, path, await spans))


async def _blame_frame(git: Git, gate: asyncio.Semaphore, facts: FrameFacts,
                       spans: Awaitable[list[tuple[int, int]]],
                       file_blame: Awaitable[list[BlameLine]], deployed: str,
                       range_spec: str | None) -> str:
    """Fill in one frame's blame and range touches; a problem comes back as a note."""
    frame = facts.frame
    try:
        await spans
        if range_spec is None:
            lines = await file_blame
        else:  # the range's line history does not wait for the (longer) blame
            lines, facts.range_touches = await asyncio.gather(
                file_blame, _guarded(gate, git.line_log(range_spec, facts.path, *facts.span)))
        lo, hi = facts.span
        facts.blame = [b for b in lines if lo <= b.line <= hi]
    except MissingFile as exc:
        return f"frame {frame.filename}:{frame.lineno}: {exc}"
    except GitError as exc:
        return f"frame {frame.filename}:{frame.lineno}: git failed ({exc})"
    if facts.line_blame is None:
        return f"frame {facts.path}:{frame.lineno}: line past the end of the file at " \
               f"{deployed[:12]}"
    return ""


def rank(ev: Evidence, *, weights: Weights = DEFAULT_WEIGHTS,
         limit: int = 5) -> tuple[list[SuspectCommit], SuspectCase]:
    """Suspect commits, most likely first, and whether it is new code or old code.

    Range first: a commit the deploy shipped that changed a line on the path to the raise
    (the raising line, a line above it, or deleted lines in a frame's function) comes before
    anything older. Among the rest (older commits, shipped changes elsewhere in a frame's
    file) the weights decide; each commit's weight is its best frame plus a share of the
    others, so the initial import that owns every line does not win by sheer extent.
    """
    per_frame: dict[str, list[float]] = defaultdict(list)
    kinds: dict[str, set[str]] = defaultdict(set)
    reasons: dict[str, list[str]] = defaultdict(list)
    files: dict[str, set[str]] = defaultdict(set)
    found = [_frame_kinds(facts, ev, weights) for facts in ev.frames]
    direct = ev.range_shas is not None and any(
        sha in ev.range_shas and kind in ON_PATH
        for best in found for sha, (_, kind) in best.items())
    for facts, best in zip(ev.frames, found, strict=True):
        w_depth = weights.depth_decay ** facts.depth
        line = facts.frame.lineno
        where = f"{facts.path}:{line} in {facts.frame.function or '?'}"
        detail: dict[str, offstack.OffStack] = {}
        if not direct:  # nothing shipped touched the path itself: look off the stack
            for item in facts.offstack:
                if item.sha not in best or best[item.sha][0] < getattr(weights, item.kind):
                    best[item.sha] = (getattr(weights, item.kind), item.kind)
                    detail[item.sha] = item
        for sha, (w, kind) in best.items():
            commit = ev.commits.get(sha)
            if commit is None or commit.is_merge:
                continue
            per_frame[sha].append(w_depth * w)
            kinds[sha].add(kind)
            off = detail.get(sha)
            if off is not None:
                at = off.path + (f" in {off.function}" if off.function else "")
                reasons[sha].append(f"{off.detail} ({at}; the raise is at {where}, frame "
                                    f"{facts.depth + 1}, off the stack)")
                files[sha].add(off.path)
            else:
                reasons[sha].append(f"{TOUCH_WORDS[kind]} ({where}, frame {facts.depth + 1} "
                                    f"from the raise)")
                files[sha].add(facts.path)
    if not per_frame:
        return [], "unknown"
    out = []
    for sha, weights_seen in per_frame.items():
        commit = ev.commits[sha]
        top = max(weights_seen)
        raw = min(1.0, top + weights.spread * (sum(weights_seen) - top))
        in_range = None if ev.range_shas is None else sha in ev.range_shas
        on_path = bool(kinds[sha] & (ON_PATH | OFF_STACK_ON_PATH))
        if in_range and on_path:
            score = 0.5 + 0.5 * raw
        elif in_range is None:
            score = raw
        else:
            score = 0.5 * raw * (1.0 if in_range else weights.old_code_factor)
        scope = ("shipped in the deployed range" if in_range else
                 "older than the deployed range: old code meeting new input"
                 if in_range is False else "no deploy range given")
        why = "; ".join(reasons[sha][:3]) + f"; {scope}"
        out.append(SuspectCommit(commit=sha, author=commit.author, title=commit.title,
                                 score=score, why=why, when=commit.when, pr=commit.pr,
                                 in_range=in_range, email=commit.email,
                                 files=tuple(sorted(files[sha]))))
    # Ties go to the newer commit: of two equally placed changes the later one is likelier.
    newest = lambda s: (-s.score, -(s.when.timestamp() if s.when else 0.0))  # noqa: E731
    out.sort(key=newest)
    out = with_companions(ev, out)
    out.sort(key=newest)
    out = out[:limit]
    out[0] = say_old_code(ev, out[0], bool(found) and
                          found[0].get(out[0].commit, (0.0, ""))[1] in ON_PATH)
    case: SuspectCase = ("unknown" if ev.range_shas is None else
                         "new_code" if out[0].in_range else "old_code")
    return out, case


def _frame_kinds(facts: FrameFacts, ev: Evidence,
                 weights: Weights) -> dict[str, tuple[float, str]]:
    """Each commit's strongest touch of one frame's own code: (weight, kind)."""
    best: dict[str, tuple[float, str]] = {}
    line = facts.frame.lineno
    raising = next((b.text for b in facts.blame if b.line == line), facts.frame.context_line)
    used = _path_names(raising, [b.text for b in facts.blame if b.line < line])
    for b in facts.blame:
        if not _executable(b.text):
            continue  # a comment or a blank line cannot raise
        if b.line == line:
            kind = "line"
        elif b.line > line:
            kind = "below"
        else:  # above: on the path only when it binds a name the raising line reads
            kind = "above" if _binds(b.text) & used else "nearby"
        _keep_best(best, b.commit, getattr(weights, kind), kind)
    blamed = {b.commit for b in facts.blame}
    for sha in facts.range_touches:
        if sha not in blamed:
            _keep_best(best, sha, weights.deleted, "deleted")
    for sha in ev.file_touches.get(facts.path, ()):
        _keep_best(best, sha, weights.file, "file")
    return best


def rank_files(ev: Evidence, suspects: Sequence[SuspectCommit], *,
               weights: Weights = DEFAULT_WEIGHTS) -> list[SuspectFile]:
    """In-app frames' files, the innermost first unless the top suspect changed another."""
    top = suspects[0] if suspects else None
    best: dict[str, SuspectFile] = {}
    for facts in ev.frames:
        s = weights.depth_decay ** facts.depth
        touched = top is not None and (any(b.commit == top.commit for b in facts.blame)
                                       or top.commit in facts.range_touches)
        if touched:
            s += 1.0
        why = (f"frame {facts.depth + 1} from the raise, in {facts.frame.function or '?'}" +
               (f"; changed by suspect {top.commit[:12]}" if touched and top else ""))
        if facts.path not in best or best[facts.path].score < s:
            best[facts.path] = SuspectFile(path=facts.path, line=facts.frame.lineno, why=why,
                                           function=facts.frame.function, score=s)
        # The top suspect ranked for a change off the stack: that change is what to fix.
        for item in facts.offstack:
            if top is None or item.sha != top.commit or item.path not in top.files:
                continue
            s_off = weights.depth_decay ** facts.depth + 1.05
            if item.path not in best or best[item.path].score < s_off:
                best[item.path] = SuspectFile(
                    path=item.path, line=item.line or 1, function=item.function,
                    score=s_off, why=f"{item.detail}; changed by suspect {top.commit[:12]}, "
                                     f"off the stack of frame {facts.depth + 1}")
    return sorted(best.values(), key=lambda f: -f.score)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF_LINE = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\((.*?)\)?\s*(?:->.*)?:?\s*$")
_BINDING = re.compile(r"^\s*(?:for\s+(.+?)\s+in\b|with\b.*\bas\s+(.+?):|"
                      r"([A-Za-z_][\w\s,.\[\]'\"()*]*?)\s*(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=))")


def _path_names(raising: str, above: Sequence[str]) -> set[str]:
    """The names the raise depends on: those the raising line reads, and, through the lines
    above it that bind one of them, what those lines read in turn (`site = get(default)`
    makes `default` matter to `SITES[site]`, and so the signature's default for it)."""
    used = set(_NAME.findall(raising))
    lines = [t for t in above if _executable(t)]
    for _ in range(4):  # data flows down a function in a pass or two; loops may need more
        grown = set(used)
        for text in reversed(lines):
            if _binds(text) & grown:
                grown |= set(_NAME.findall(text))
        if grown == used:
            break
        used = grown
    return used


def _binds(text: str) -> set[str]:
    """Names a line assigns (`x = ...`, `a, b = ...`, `x += ...`, `for x in`, `as x`), and
    a `def` line's parameters (their values, defaults included, come from it)."""
    d = _DEF_LINE.match(text)
    if d:
        return {p.split("=")[0].split(":")[0].strip(" *") for p in d.group(1).split(",")
                if p.strip(" */")} - {"self", "cls"}
    m = _BINDING.match(text)
    if not m:
        return set()
    target = next(g for g in m.groups() if g is not None)
    return set(_NAME.findall(target))


def _executable(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def _keep_best(best: dict[str, tuple[float, str]], sha: str, w: float, kind: str) -> None:
    if sha not in best or best[sha][0] < w:
        best[sha] = (w, kind)


async def _range(git: Git, deploy: DeployRange | None, deployed: str
                 ) -> tuple[set[str] | None, str | None, list[str]]:
    """The deploy's shipped commits, its `from..to` spec, and notes on what was wrong."""
    if deploy is None or not deploy.from_sha:
        return None, None, []
    try:
        start = await git.resolve(deploy.from_sha)
        shipped = await git.log(f"{start}..{deployed}")
        notes = []
        if not await git.is_ancestor(start, deployed):
            notes.append(f"deploy range: {deploy.from_sha[:12]} is not an ancestor of "
                         f"{deployed[:12]}; using the commits only the new one has")
        return {c.sha for c in shipped}, f"{start}..{deployed}", notes
    except GitError as exc:
        return None, None, [f"deploy range {deploy.from_sha[:12]}..{deploy.to_sha[:12]} "
                            f"unusable: {exc}"]


async def _deployed(git: Git, deploy: DeployRange | None, notes: list[str]) -> str:
    if deploy is not None:
        try:
            return await git.resolve(deploy.to_sha)
        except GitError as exc:
            notes.append(f"deployed commit unusable ({exc}); blaming HEAD instead")
    return await git.resolve("HEAD")


async def _off_stack(git: Git, error: ErrorEvent, frames: list[FrameFacts],
                     texts: Mapping[str, Awaitable[str]], listing: list[str], deployed: str,
                     range_spec: str
                     ) -> tuple[dict[str, list[str]], dict[str, list[offstack.Hunk]]]:
    """Read the range's patches once, for the frames' files and the modules they import:
    which shipped commits changed code in each frame's file (returned), and which changed
    something off the stack that the frames' raises read (each frame's `offstack`)."""
    frame_paths = list(dict.fromkeys(f.path for f in frames))
    sources: dict[str, str] = {}
    for p in frame_paths:
        try:
            sources[p] = await texts[p]
        except GitError:
            continue
    imported = [m for p, text in sources.items()
                for m in offstack.imported_paths(text, p, listing)]
    paths = list(dict.fromkeys([*frame_paths, *imported]))
    hunks = await offstack.range_hunks(git, range_spec, paths)
    for p in imported:  # the path's callees may be defined there (expand_callees)
        if p not in sources:
            try:
                sources[p] = await git.show_file(deployed, p)
            except GitError:
                continue
    touches: dict[str, list[str]] = {p: [] for p in frame_paths}
    for sha, items in hunks.items():
        for p in dict.fromkeys(h.path for h in items
                               if any(_executable(t) for t in (*h.removed, *h.added))):
            if p in touches:
                touches[p].append(sha)
    said = offstack.error_tokens(error.value)
    for facts in frames:
        text = sources.get(facts.path)
        if text is None:
            continue
        reads = offstack.path_reads(text, facts.span, facts.frame.lineno,
                                    facts.frame.function)
        offstack.expand_callees(reads, [text, *(sources[p] for p in sources if p != facts.path)])
        for sha, items in hunks.items():
            facts.offstack += offstack.match(sha, items, reads, facts.path, said)
    for p in {o.path for f in frames for o in f.offstack}:
        try:
            text = sources.get(p) or await git.show_file(deployed, p)
        except GitError:
            continue
        for facts in frames:
            facts.offstack = [
                replace(o, line=offstack.locate_line(text, o, hunks.get(o.sha, ())))
                if o.path == p else o for o in facts.offstack]
    return touches, hunks


async def _tree(git: Git, rev: str) -> list[str]:
    res = await git.run("ls-tree", "-r", "--name-only", "-z", rev)
    return [p for p in res.out.split("\0") if p]


LIBRARY_DIRS = frozenset({"site-packages", "dist-packages", "vendor", "vendored", "_vendor",
                          "third_party", "thirdparty", "third-party", "node_modules"})


def is_library(filename: str) -> bool:
    """A frame in a library's code: a directory named like a vendored or installed copy."""
    parts = PurePosixPath(filename.replace("\\", "/")).parts[:-1]
    return any(p.lower() in LIBRARY_DIRS for p in parts)


def _locate(filename: str, listing: list[str]) -> str | None:
    """The repository path of a frame's file: exact, or the longest matching path suffix.

    Sentry reports paths relative to the project root or absolute (site-packages, /app/...);
    the repository may hold the service in a subdirectory.
    """
    name = filename.replace("\\", "/").lstrip("./")
    if name in listing:
        return name
    parts = PurePosixPath(name).parts
    for k in range(len(parts), min(2, len(parts)) - 1, -1):  # a bare file name is too weak
        suffix = "/".join(parts[-k:])
        hits = [p for p in listing if p == suffix or p.endswith("/" + suffix)]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None  # ambiguous at this length: a shorter suffix is more so
    return None


def _function_span(text: str, frame: Frame, context: int) -> tuple[int, int]:
    """The lines of the innermost function around the frame's line (decorators included)."""
    line = frame.lineno
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return max(1, line - context), line + 2
    best: tuple[int, int] | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            end = node.end_lineno or node.lineno
            if start <= line <= end and (best is None or end - start < best[1] - best[0]):
                best = (start, end)
    if best is None:  # module level: a few lines around it
        return max(1, line - context), line + 2
    return best
