"""Off-stack suspects: shipped changes that are not on the stack but feed what raised.

Blame only sees the lines of the frames' functions. A regression is often elsewhere: a
constant or a config value changed in an imported module, a helper called earlier that now
returns something else, a record built with one key fewer by a function that already
returned. None of those is on the stack when the error is raised, yet each leaves a trace
that a reader would follow:

- the raising line reads a name, attribute or key (`level["reserved"]`, `RATES[...]`,
  `order.total`) that a shipped commit bound, removed, or that the error message names;
- a function called on the path to the raise (on the raising line, or on a line binding a
  name the raising line reads) had its body changed by a shipped commit.

The shipped commits' patches are read once, for the frames' files and the modules those
files import (`git log -p -U0` over the deploy range, with git's Python function context
in hunk headers). Each match is an `OffStack` item on the frame; the ranking counts them
only when nothing in the range changed the frames' own code on the path to the raise, so
they never compete with a direct hit.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from integrations.github.git import Git

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEF = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,\d+)? @@ ?(.*)$")
_CALL = re.compile(r"([A-Za-z_]\w*)\s*\(")
# Words too common to tie a change to a raise: keywords, builtins, and the receivers.
_COMMON = (set(keyword.kwlist) | set(dir(builtins)) | {"self", "cls", "None", "True", "False",
                                                          "args", "kwargs"})
MIN_TOKEN = 3


@dataclass(frozen=True, slots=True)
class Hunk:
    """One changed block of one file in one commit (zero lines of context)."""

    path: str
    new_start: int
    context: str                      # the enclosing def/class line git reports, if any
    removed: tuple[str, ...]
    added: tuple[str, ...]
    created: bool = False             # the file's first version (or a rename's new name)

    @property
    def function(self) -> str:
        """The function the change is in: a def it changes, else the one git names above
        it, unless every changed line sits at module level (git names the def above a
        module-level constant too)."""
        changed = [ln for ln in (*self.removed, *self.added) if ln.strip()]
        for ln in changed:
            m = _DEF.match(ln)
            if m:
                return m.group(1)
        if changed and all(not ln[:1].isspace() for ln in changed):
            return ""
        m = _DEF.match(self.context)
        return m.group(1) if m else ""


@dataclass(frozen=True, slots=True)
class OffStack:
    """A shipped commit's change off the stack that feeds the frame's raise."""

    sha: str
    kind: str                         # "callee" | "reads" | "mentions"
    path: str
    function: str                     # the changed function ("" at module level)
    detail: str                       # what it matched, for the `why`
    line: int = 0                     # where the change sits in the deployed file


@dataclass(slots=True)
class PathReads:
    """What the raise depends on, as the frame's own code shows it."""

    names: set[str] = field(default_factory=set)    # free names, attributes, keys it reads
    callees: set[str] = field(default_factory=set)  # functions called on the path
    function: str = ""                              # the frame's own function
    via: dict[str, str] = field(default_factory=dict)  # a deeper callee → who calls it


def path_reads(text: str, span: tuple[int, int], lineno: int, function: str) -> PathReads:
    """Names and calls on the path to the raise in one frame's function.

    The path is the raising line plus the lines above it (in the function) that bind a
    name the raising line reads. Names the function binds itself (parameters, locals) are
    left out: a change elsewhere that mentions `qty` says nothing about this `qty`.
    """
    from agents.dev.suspects import _binds  # one definition of "a line binds a name"

    lines = text.splitlines()
    lo, hi = span
    body = lines[max(0, lo - 1):hi]
    local = _locals(text, span, body)
    raising = lines[lineno - 1] if 0 < lineno <= len(lines) else ""
    reads = set(_NAME.findall(_code(raising)))
    path = [raising]
    for ln in lines[max(0, lo - 1):max(0, lineno - 1)]:
        if _binds(ln) & reads:
            path.append(ln)
    out = PathReads(function=function)
    for ln in path:
        code = _code(ln)
        out.names |= {t for t in _NAME.findall(code) if _distinctive(t) and t not in local}
        out.callees |= {c for c in _CALL.findall(code) if _distinctive(c)}
    return out


def expand_callees(reads: PathReads, texts: Iterable[str], depth: int = 1) -> None:
    """Add the functions that the path's callees call in turn, `depth` levels down, when
    their definitions are in `texts` (the frames' files and the modules they import): a
    helper two calls below the raising frame has returned by the time it raises, yet what
    it returned is what raised."""
    defs: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for text in texts:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                defs.setdefault(node.name, node)
    frontier = set(reads.callees)
    for _ in range(depth):
        found: set[str] = set()
        for caller in sorted(frontier):
            body = defs.get(caller)
            if body is None:
                continue
            for sub in ast.walk(body):
                if not isinstance(sub, ast.Call):
                    continue
                f = sub.func
                name = f.id if isinstance(f, ast.Name) else \
                    f.attr if isinstance(f, ast.Attribute) else ""
                if _distinctive(name) and name not in reads.callees and name != caller \
                        and name != reads.function:
                    reads.via.setdefault(name, caller)
                    found.add(name)
        reads.callees |= found
        frontier = found


def substitutions(hunks: Iterable[Hunk]) -> set[tuple[str, str]]:
    """The renames the hunks make: (token gone, token new) pairs of hunks that swap a few
    words for a few others (a rewrite of many words says nothing this precise)."""
    pairs: set[tuple[str, str]] = set()
    for h in hunks:
        before, after = _tokens(h.removed), _tokens(h.added)
        gone, new = before - after, after - before
        if gone and new and len(gone) <= 2 and len(new) <= 2:
            pairs |= {(g, n) for g in gone for n in new}
    return pairs


def error_tokens(value: str) -> set[str]:
    """Distinctive words of the error's message (`KeyError: 'reserved'` → {reserved})."""
    return {t for t in _NAME.findall(value) if _distinctive(t)}


def imported_paths(text: str, path: str, listing: Sequence[str]) -> list[str]:
    """Repository paths of the modules a Python file imports (one level, ours only)."""
    if not path.endswith(".py"):
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return []
    package = PurePosixPath(path).parent.parts
    wanted: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            wanted += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package[:len(package) - (node.level - 1)] if node.level > 1 else package
                base = ".".join([*up, *([base] if base else [])])
            if base:
                wanted.append(base)
            wanted += [f"{base}.{a.name}" if base else a.name for a in node.names]
    files = set(listing)
    found: list[str] = []
    for dotted in dict.fromkeys(wanted):
        rel = dotted.replace(".", "/")
        for candidate in (f"{rel}.py", f"{rel}/__init__.py"):
            hit = candidate if candidate in files else _unique_suffix(candidate, listing)
            if hit and hit != path and hit not in found:
                found.append(hit)
                break
    return found


async def range_hunks(git: Git, range_spec: str, paths: Sequence[str]) -> dict[str, list[Hunk]]:
    """Each shipped non-merge commit's code hunks in `paths`, newest commit first."""
    if not paths:
        return {}
    res = await git.run("-c", f"core.attributesFile={_attributes_file()}", "log",
                        "--no-merges", "--no-renames", "--format=%x00%H", "-p", "-U0",
                        "--no-color", "--no-ext-diff", range_spec, "--", *paths, check=False)
    out: dict[str, list[Hunk]] = {}
    if res.code != 0:
        return out
    for chunk in res.out.split("\0")[1:]:
        sha, _, patch = chunk.partition("\n")
        out[sha.strip()] = _parse_patch(patch)
    return out


def match(sha: str, hunks: Iterable[Hunk], reads: PathReads, frame_path: str,
          said: set[str]) -> list[OffStack]:
    """The off-stack items one commit's hunks give one frame (at most one per hunk)."""
    found: list[OffStack] = []
    for h in hunks:
        # The frame's own function is blame's and line history's; a new file (or a rename
        # seen through a path filter) changed no behaviour that was there before.
        if h.created or (h.path == frame_path and h.function == reads.function):
            continue
        if not any(_executable(t) for t in (*h.removed, *h.added)):
            continue
        gone = _tokens(h.removed) - _tokens(h.added)
        before, after = _bindings(h.removed), _bindings(h.added)
        bound = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        shared = reads.names & (_tokens(h.removed) | _tokens(h.added))
        if not shared:
            if h.function and h.function in reads.callees:
                via = reads.via.get(h.function)
                found.append(OffStack(sha, "callee", h.path, h.function,
                                      f"changed {h.function}(), called "
                                      + (f"by {via}() " if via else "")
                                      + "on the path to the raise"))
            continue
        removed, redefined = shared & gone, (shared & bound) - gone
        named = (shared & said) - removed - redefined
        if removed or redefined or named:
            what = [f"{verb} {', '.join(sorted(names)[:3])}" for verb, names in
                    (("removed", removed), ("redefined", redefined),
                     ("changed", named)) if names]
            found.append(OffStack(sha, "reads", h.path, h.function,
                                  f"{' and '.join(what)}, which the raising line reads"
                                  + (" and the error names" if shared & said else "")))
        else:
            found.append(OffStack(sha, "mentions", h.path, h.function,
                                  f"changed a line mentioning {', '.join(sorted(shared)[:3])}"))
    return found


def locate_line(text: str, item: OffStack, hunks: Iterable[Hunk]) -> int:
    """Where an off-stack change sits in the deployed file: its first surviving added line,
    else its function's definition, else the top of the file."""
    lines = text.splitlines()
    for h in hunks:
        if h.path != item.path:
            continue
        for added in h.added:
            want = added.strip()
            if want:
                for i, ln in enumerate(lines, 1):
                    if ln.strip() == want:
                        return i
    if item.function:
        for i, ln in enumerate(lines, 1):
            m = _DEF.match(ln)
            if m and m.group(1) == item.function:
                return i
    return 1


def _parse_patch(patch: str) -> list[Hunk]:
    hunks: list[Hunk] = []
    path = ""
    created = False
    cur: tuple[int, str, list[str], list[str]] | None = None

    def close() -> None:
        if cur is not None and path:
            hunks.append(Hunk(path, cur[0], cur[1], tuple(cur[2]), tuple(cur[3]),
                              created=created))

    for ln in patch.splitlines():
        if ln.startswith("diff --git "):
            close()
            cur, path, created = None, "", False
        elif ln.startswith("new file mode"):
            created = True
        elif ln.startswith("+++ "):
            target = ln[4:]
            path = target[2:] if target.startswith("b/") else ""
        elif ln.startswith("--- "):
            continue
        elif ln.startswith("@@"):
            close()
            m = _HUNK.match(ln)
            if m and m.group(1) == "0" and m.group(2) == "0":
                created = True  # a path-limited log shows a renamed file as created
            cur = (int(m.group(3)), m.group(4), [], []) if m else None
        elif cur is not None and ln[:1] == "-":
            cur[2].append(ln[1:])
        elif cur is not None and ln[:1] == "+":
            cur[3].append(ln[1:])
    close()
    return hunks


def _locals(text: str, span: tuple[int, int], body: Sequence[str]) -> set[str]:
    """Names the function binds itself: parameters, assigned names, loop and `as` targets
    (not `x["k"]` or `x.k`, which read `x` and name a key or attribute)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        from agents.dev.suspects import _binds

        return {n for ln in body for n in list(_binds(ln))[:1]}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                node.lineno >= span[0] and (node.end_lineno or node.lineno) <= span[1]:
            a = node.args
            names = {x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs,
                                     *([a.vararg] if a.vararg else []),
                                     *([a.kwarg] if a.kwarg else []))}
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
                elif isinstance(sub, ast.arg):
                    names.add(sub.arg)
            return names
    return set()


_BINDING = re.compile(r"""(?:["']([A-Za-z_]\w*)["']\s*:|\b([A-Za-z_]\w*)\s*"""
                      r"""(?:[-+*/%&|^@]|//|\*\*|<<|>>)?=(?!=))(?=\s*([^,}\n]*))""")


def _bindings(lines: Iterable[str]) -> dict[str, str]:
    """Names the lines bind — `X = 1`, a keyword `k=v`, a dict key `"k": v` — and the value
    each gets, so a binding whose value did not change (a key kept in a rewritten literal)
    is not taken for a redefinition."""
    out: dict[str, str] = {}
    for line in lines:
        for m in _BINDING.finditer(_code(line)):
            out[m.group(1) or m.group(2)] = m.group(3).strip()
    return out


def _tokens(lines: Iterable[str]) -> set[str]:
    return {t for ln in lines for t in _NAME.findall(_code(ln)) if _distinctive(t)}


def _code(line: str) -> str:
    """A line without its trailing `#` comment (quotes respected, roughly)."""
    quote = ""
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line


def _executable(text: str) -> bool:
    stripped = text.strip()
    return bool(stripped) and not stripped.startswith("#")


def _distinctive(token: str) -> bool:
    return len(token) >= MIN_TOKEN and token not in _COMMON


def _unique_suffix(candidate: str, listing: Sequence[str]) -> str | None:
    hits = [p for p in listing if p.endswith("/" + candidate)]
    return hits[0] if len(hits) == 1 else None


_ATTRS: str | None = None


def _attributes_file() -> str:
    """A private gitattributes file that gives Python files git's `python` diff driver, so
    hunk headers name the enclosing def (methods included) instead of the class line."""
    global _ATTRS
    if _ATTRS is None or not os.path.exists(_ATTRS):
        fd, name = tempfile.mkstemp(prefix="nightowl-attrs-")
        with os.fdopen(fd, "w") as fh:
            fh.write("*.py diff=python\n")
        _ATTRS = name
    return _ATTRS
