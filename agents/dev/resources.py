"""Resource bump remediation: raise one container's memory limit / CPU request, nothing else.

When pods were OOM-killed or CPU-throttled and the repository holds their Kubernetes manifest
or Helm values, the new figures are

    memory limit = max(peak × 1.15, OOM-kill limit × 1.25)     (rounded up to a MiB)
    CPU request  = p95 of CPU use                               (rounded up to a millicore)

and only the `resources:` of the affected container change. The file is edited round-trip
(ruamel.yaml) so comments, key order, quoting and the other documents of a multi-document
manifest stay as they were; the diff shows exactly the lines that moved.
"""

from __future__ import annotations

import difflib
import io
import itertools
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from agents.dev.types import Remediation

MEMORY_HEADROOM = 1.15
LIMIT_STEP = 1.25
_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1024 ** 2,
          "Gi": 1024 ** 3, "Ti": 1024 ** 4}
_QTY = re.compile(r"^\s*([0-9.]+)\s*(Ki|Mi|Gi|Ti|k|M|G|T|m)?\s*$")


class ResourceEditError(ValueError):
    """The file cannot be edited as asked; the message says why (no such container, ...)."""


@dataclass(frozen=True, slots=True)
class ResourceNeed:
    container: str
    peak_memory_bytes: float | None = None
    oom_limit_bytes: float | None = None      # the limit it was OOM-killed at
    cpu_p95_cores: float | None = None
    # The peak as a share of the memory limit (what a `usage / limit` series gives): turned
    # into bytes with the limit the manifest holds.
    peak_memory_share: float | None = None
    # OOM-killed at the limit the manifest holds (when `oom_limit_bytes` is not known).
    oom_killed: bool = False
    # The CPU p95 as a share of the CPU limit (`usage / limit`): cores with the manifest's.
    cpu_p95_share: float | None = None


def memory_target(need: ResourceNeed, current_limit: float | None) -> float | None:
    """max(peak × 1.15, OOM-kill limit × 1.25); the floor only when it was OOM-killed, so a
    CPU bump or a peak that fits leaves the memory limit alone."""
    killed_at = need.oom_limit_bytes or (current_limit if need.oom_killed else None)
    peak = need.peak_memory_bytes
    limit = need.oom_limit_bytes or current_limit
    if peak is None and need.peak_memory_share is not None and limit:
        peak = need.peak_memory_share * limit
    candidates = [v for v in (peak and peak * MEMORY_HEADROOM,
                              killed_at and killed_at * LIMIT_STEP) if v]
    return max(candidates) if candidates else None


def parse_quantity(value: Any) -> float | None:
    """A Kubernetes quantity (`512Mi`, `1.5Gi`, `500m`, `2`) as bytes or cores."""
    if isinstance(value, int | float):
        return float(value)
    m = _QTY.match(str(value))
    if not m:
        return None
    number, unit = float(m.group(1)), m.group(2) or ""
    return number / 1000 if unit == "m" else number * _UNITS[unit]


def bump(text: str, need: ResourceNeed) -> tuple[str, list[str]]:
    """The edited file and what changed; ResourceEditError when it cannot be done."""
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    mapping, offset = _guess_indent(text)
    yaml.indent(mapping=mapping, sequence=offset + 2, offset=offset)
    try:
        docs = list(yaml.load_all(text))
    except YAMLError as exc:
        raise ResourceEditError(f"not valid YAML: {exc}") from exc
    targets = [m for doc in docs for m in _containers(doc, need.container)]
    if not targets:
        raise ResourceEditError(f"no container or values block named {need.container!r}")
    if len(targets) > 1:
        raise ResourceEditError(f"{len(targets)} blocks named {need.container!r}: ambiguous")
    block = targets[0]
    resources = block.get("resources")
    if not isinstance(resources, CommentedMap):
        resources = CommentedMap()
        block["resources"] = resources
    changes: list[str] = []
    limits = _section(resources, "limits")
    requests = _section(resources, "requests")
    memory = memory_target(need, parse_quantity(limits.get("memory")) if "memory" in limits
                           else None)
    if memory is not None:
        new = f"{math.ceil(memory / 1024 ** 2)}Mi"
        old = limits.get("memory")
        if old is None or (parse_quantity(old) or 0) < memory:
            limits["memory"] = new
            changes.append(f"memory limit {old or 'unset'} → {new}")
    cores = need.cpu_p95_cores
    if cores is None and need.cpu_p95_share is not None and "cpu" in limits:
        cpu_limit = parse_quantity(limits.get("cpu"))
        cores = need.cpu_p95_share * cpu_limit if cpu_limit else None
    if cores is not None:
        new = f"{max(1, math.ceil(cores * 1000))}m"
        old = requests.get("cpu")
        if old is None or (parse_quantity(old) or 0) < cores:
            requests["cpu"] = new
            changes.append(f"CPU request {old or 'unset'} → {new}")
            cpu_limit = parse_quantity(limits.get("cpu")) if "cpu" in limits else None
            if cpu_limit is not None and cpu_limit < cores:
                changes.append(f"CPU limit {limits['cpu']} → {new} (a request above the "
                               "limit is rejected)")
                limits["cpu"] = new
    for key, section in (("limits", limits), ("requests", requests)):
        if not section and key in resources:
            del resources[key]
    if not changes:
        return text, []
    out = io.StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue(), changes


def propose_resource_bump(path: str, text: str, need: ResourceNeed, *,
                          branch_suffix: str = "") -> Remediation:
    try:
        edited, changes = bump(text, need)
    except ResourceEditError as exc:
        return Remediation(message=f"{path}: {exc}")
    if not changes:
        why = ("already has these resources" if need.cpu_p95_share is None else
               "needs no change: its CPU request covers the p95 already, or the manifest "
               "sets no CPU limit to turn the p95 share of it into cores")
        return Remediation(message=f"{path}: {need.container} {why}")
    diff = "".join(difflib.unified_diff(text.splitlines(keepends=True),
                                        edited.splitlines(keepends=True),
                                        fromfile=f"a/{path}", tofile=f"b/{path}"))
    branch = f"nightowl/resources-{_slug(need.container)}{branch_suffix}"
    return Remediation(kind="resource", branch=branch, diff=diff, files=(path,),
                       message=f"{need.container}: " + "; ".join(changes))


def _guess_indent(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset under its key) as the file writes them."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    mapping = min((len(ln) - len(ln.lstrip()) for ln in lines
                   if ln.startswith(" ") and not ln.lstrip().startswith("-")), default=2)
    offset = 0
    for prev, line in itertools.pairwise(lines):
        if line.lstrip().startswith("- ") and prev.rstrip().endswith(":"):
            offset = max(0, (len(line) - len(line.lstrip())) - (len(prev) - len(prev.lstrip())))
            break
    return max(mapping, 1), offset


def _section(resources: CommentedMap, key: str) -> CommentedMap:
    value = resources.get(key)
    if not isinstance(value, CommentedMap):
        value = CommentedMap()
        resources[key] = value
    return value


def _containers(node: Any, name: str, parent_key: str | None = None
                ) -> Iterator[CommentedMap]:
    """Kubernetes containers named `name`, or a Helm values block under the key `name`."""
    if isinstance(node, CommentedMap):
        for key, value in node.items():
            if key in ("containers", "initContainers") and isinstance(value, CommentedSeq):
                yield from (c for c in value
                            if isinstance(c, CommentedMap) and c.get("name") == name)
            elif key == name and isinstance(value, CommentedMap) and "resources" in value:
                yield value  # Helm values: `<component>: {resources: ...}`
            else:
                yield from _containers(value, name, str(key))
    elif isinstance(node, CommentedSeq):
        for item in node:
            yield from _containers(item, name, parent_key)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "container"
