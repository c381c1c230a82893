"""Stack traces out of error log lines: Python, Java, Go and Node, into one shape.

Only Sentry hands over structured frames; everything else logs a traceback as text. One
parser reads the four common formats and returns the frames outermost first (Sentry's
order, what the Dev agent's suspect finding reads), the exception's type and message, and
whether each frame is the application's own (not the standard library, site-packages,
node_modules, the JDK or the Go runtime). Chained exceptions: the last one raised (Python's
final traceback, Java's deepest `Caused by:`) is the one whose frames say where it broke.
Text that holds no trace gives None, never an exception.
"""

from __future__ import annotations

import re

from integrations.error_sources.sentry_events import SentryFrame, StackTrace

MAX_FRAMES = 50

# Python: `  File "/app/orders/mapper.py", line 42, in to_dto` then (maybe) the code line.
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)')
_PY_START = re.compile(r"Traceback \(most recent call last\):")
_PY_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|"
                     r"Iteration|Fault)?)(?::\s?(?P<value>.*))?$")
# Java: `\tat com.acme.orders.Mapper.toDto(Mapper.java:42)`.
_JAVA_FRAME = re.compile(r"^\s*at (?P<fn>[\w$.<>/]+)\((?P<file>[^:()]+)(?::(?P<line>\d+))?\)")
_JAVA_EXC = re.compile(r"^(?:Exception in thread \"[^\"]*\" |Caused by: )?"
                       r"(?P<type>[a-zA-Z_$][\w$]*(?:\.[\w$]+)+)(?::\s?(?P<value>.*))?$")
# Go: `main.lookup(...)` then `\t/app/main.go:12 +0x1d`.
_GO_FUNC = re.compile(r"^(?P<fn>[\w./*()\-]+?)\((?:[^)]*)\)$")
_GO_FILE = re.compile(r"^\s+(?P<file>/?[^\s:]+\.go):(?P<line>\d+)(?: \+0x[0-9a-f]+)?$")
_GO_PANIC = re.compile(r"^panic: (?P<value>.*)$")
# Node: `    at toDto (/app/src/mapper.js:10:15)` or `    at /app/src/index.js:3:1`.
_NODE_FRAME = re.compile(r"^\s*at (?:(?P<fn>.+?) \()?(?P<file>[^\s()]+?):(?P<line>\d+)"
                         r":\d+\)?$")
_NODE_EXC = re.compile(r"^(?P<type>[A-Z]\w*(?:Error|Exception))(?::\s?(?P<value>.*))?$")

_NOT_APP = re.compile(r"(site-packages|dist-packages|/lib/python\d|<frozen |<string>|"
                      r"node_modules|node:internal|^internal/|/usr/local/go/src/|"
                      r"^runtime/|/runtime/|^java\.|^javax\.|^jdk\.|^sun\.|^kotlin\.|"
                      r"^org\.springframework\.|^reactor\.)")


def parse(text: str) -> StackTrace | None:
    """The trace in `text`, or None when it holds none."""
    lines = text.replace("\r\n", "\n").split("\n")
    for reader in (_python, _java, _go, _node):
        trace = reader(lines)
        if trace is not None and trace.frames:
            return trace
    return None


def _python(lines: list[str]) -> StackTrace | None:
    starts = [i for i, ln in enumerate(lines) if _PY_START.search(ln)]
    first = starts[-1] if starts else 0  # the last chained traceback is what was raised
    frames: list[SentryFrame] = []
    i = first
    while i < len(lines):
        m = _PY_FRAME.match(lines[i])
        if m:
            code = ""
            if i + 1 < len(lines) and not _PY_FRAME.match(lines[i + 1]) and \
                    lines[i + 1].startswith("    ") and lines[i + 1].strip():
                code = lines[i + 1].strip()
            path = m.group("file")
            frames.append(SentryFrame(filename=path, lineno=int(m.group("line")),
                                      function=m.group("fn"), in_app=_in_app(path),
                                      context_line=code))
        i += 1
    if not frames:
        return None
    etype, value = "", ""
    for ln in reversed(lines):
        stripped = ln.strip()
        if not stripped or stripped.startswith(("^", "~")) or ln.startswith((" ", "\t")):
            continue
        m = _PY_EXC.match(stripped)
        if m:
            etype, value = m.group("type"), (m.group("value") or "").strip()
        break
    return StackTrace(type=etype or "Exception", value=value, frames=tuple(frames[-MAX_FRAMES:]))


def _java(lines: list[str]) -> StackTrace | None:
    blocks: list[tuple[str, str, list[SentryFrame]]] = []
    for ln in lines:
        frame = _JAVA_FRAME.match(ln)
        if frame and blocks:
            fn = frame.group("fn")
            blocks[-1][2].append(SentryFrame(
                filename=_java_path(fn, frame.group("file")),
                lineno=int(frame.group("line") or 0), function=fn.rsplit(".", 1)[-1],
                in_app=_in_app(fn)))
            continue
        exc = _JAVA_EXC.match(ln.strip())
        if exc and not ln.startswith((" ", "\t")):
            blocks.append((exc.group("type"), (exc.group("value") or "").strip(), []))
    blocks = [b for b in blocks if b[2]]
    if not blocks:
        return None
    etype, value, frames = blocks[-1]  # the deepest cause
    return StackTrace(type=etype.rsplit(".", 1)[-1], value=value,
                      frames=tuple(reversed(frames[:MAX_FRAMES])))


def _java_path(qualified: str, filename: str) -> str:
    """`com.acme.orders.Mapper.toDto` in `Mapper.java` → `com/acme/orders/Mapper.java`, the
    path suffix a repository holds it under (src/main/java/...)."""
    package = qualified.rsplit(".", 2)[0] if qualified.count(".") >= 2 else ""
    return f"{package.replace('.', '/')}/{filename}" if package else filename


def _go(lines: list[str]) -> StackTrace | None:
    panic = next((m for m in map(_GO_PANIC.match, lines) if m), None)
    frames: list[SentryFrame] = []
    for i in range(len(lines) - 1):
        fn, where = _GO_FUNC.match(lines[i].strip()), _GO_FILE.match(lines[i + 1])
        if fn and where:
            name = fn.group("fn")
            path = where.group("file")
            frames.append(SentryFrame(filename=path, lineno=int(where.group("line")),
                                      function=name.rsplit(".", 1)[-1],
                                      in_app=_in_app(path) and not name.startswith("runtime.")))
    if not frames:
        return None
    return StackTrace(type="panic", value=panic.group("value") if panic else "",
                      frames=tuple(reversed(frames[:MAX_FRAMES])))


def _node(lines: list[str]) -> StackTrace | None:
    frames: list[SentryFrame] = []
    etype, value = "", ""
    for ln in lines:
        m = _NODE_FRAME.match(ln)
        if m and ln.startswith((" ", "\t")):
            path = m.group("file").removeprefix("file://")
            # `Layer.handle [as handle_request]`, `async toDto`, `new Order`: the method.
            name = re.sub(r" \[as [^\]]+\]$", "", m.group("fn") or "<anonymous>")
            frames.append(SentryFrame(filename=path, lineno=int(m.group("line")),
                                      function=name.split(" ")[-1].rsplit(".", 1)[-1],
                                      in_app=_in_app(path)))
        elif not frames:
            exc = _NODE_EXC.match(ln.strip())
            if exc:
                etype, value = exc.group("type"), (exc.group("value") or "").strip()
    if not frames or not etype:
        return None
    return StackTrace(type=etype, value=value, frames=tuple(reversed(frames[:MAX_FRAMES])))


def _in_app(where: str) -> bool:
    return not _NOT_APP.search(where)
