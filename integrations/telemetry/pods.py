"""Kubernetes pods read as their workloads.

Kubernetes names a Deployment's pod `<deployment>-<pod template hash>-<5 characters>` and a
DaemonSet's `<daemonset>-<5 characters>`, drawn from an alphabet with no vowels and no 0, 1 or
3, so that generated names never spell words (older releases hashed templates to decimal). A
pod is ephemeral and replicated: the service a responder knows, and an answer names, is its
workload. A StatefulSet's `db-0` keeps its name (there the ordinal is an identity), except
where the telemetry also knows the StatefulSet itself by name: `budgets-pg` exporting its
database's series beside pods `budgets-pg-0` and `budgets-pg-1` is one service, as a
responder names it. A set of `<name>-<n>` with no `-0` among them is not a StatefulSet's
pods (`ads` and `ads-2` may well be two services).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import pairwise

import numpy as np

from integrations.telemetry.base import Series

_SAFE = "bcdfghjklmnpqrstvwxz2456789"
_POD = re.compile(rf"(?P<workload>[a-z0-9](?:[a-z0-9.-]*?[a-z0-9])?)"
                  rf"(?:-(?:[{_SAFE}]{{6,10}}|\d{{6,10}}))?-(?=[{_SAFE}]*[a-z])[{_SAFE}]{{5}}")


def workload(name: str) -> str | None:
    """The workload a pod name belongs to (`carts` for `carts-7d9f8b6c5-x2kqp`), or None when
    `name` does not read as a generated pod name."""
    match = _POD.fullmatch(name)
    return match["workload"] if match else None


_ORDINAL = re.compile(r"(?P<workload>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)-(?:0|[1-9]\d{0,2})")


def workloads(names: Iterable[str]) -> dict[str, str]:
    """pod name -> workload, for the names that read as pods: generated ones, and a
    StatefulSet's ordinals where the set (its pod `-0` among them) is named too."""
    names = set(names)
    out = {name: w for name in names if (w := workload(name))}
    for name in names:
        match = _ORDINAL.fullmatch(name)
        if match and match["workload"] in names and f"{match['workload']}-0" in names:
            out[name] = match["workload"]
    return out


def fold_series(by_service: dict[str, list[Series]], fold: Callable[[str], str],
                merge: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]
                ) -> dict[str, list[Series]]:
    """Each workload's series, one per metric: a pod's alone under the workload's name, and
    replicas' merged by `merge` (which averages values sharing a timestamp). Replicas that run
    side by side are first put on one step, so that their samples meet instead of alternating
    between two pods' levels; pods that succeed one another (a rollout) simply join up."""
    grouped: dict[str, dict[str, list[Series]]] = defaultdict(lambda: defaultdict(list))
    for service, series in by_service.items():
        for s in series:
            grouped[fold(service)][s.metric].append(s)
    out: dict[str, list[Series]] = {}
    for service, by_metric in grouped.items():
        out[service] = []
        for metric, parts in by_metric.items():
            t = np.concatenate([p.t for p in parts])
            v = np.concatenate([p.v for p in parts])
            if len(parts) > 1:
                if _side_by_side(parts):
                    steps = [float(np.median(np.diff(p.t))) for p in parts if p.t.size > 1]
                    step = float(np.median(steps)) if steps else 0.0
                    if step > 0:
                        t = np.round(t / step) * step
                order = np.argsort(t, kind="stable")
                t, v = merge(t[order], v[order])
            out[service].append(Series(service, metric, t, v))
    return out


def _side_by_side(parts: list[Series]) -> bool:
    spans = sorted((float(p.t[0]), float(p.t[-1])) for p in parts if p.t.size)
    return any(later[0] < earlier[1] for earlier, later in pairwise(spans))
