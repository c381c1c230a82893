"""Log-template mining (Drain-style): group log messages into signatures.

Two stages keep it fast on millions of lines:

1. **Masking**: tokens that hold values (numbers, ids, hex, UUIDs, IPs, durations, emails)
   become `<*>`. Most lines of the same template are then identical strings, so a dictionary
   answers them without touching the tree; values the mask misses (a word-only id, a host
   name) are generalised by Drain below.
2. **Drain** (He et al., 2017) for what is left: messages with the same token count and the
   same first token land in one leaf; in the leaf, the cluster whose template shares the
   largest fraction of tokens (≥ `similarity`) absorbs the message, and the tokens that differ
   become `<*>`. A message like that no cluster accepts starts a new one.

A signature is a short stable hash of the service and the final template.

A miner's state can be kept between runs (`TemplateStore`, one JSON file): restored, it sends
a line it has seen to the cluster it went to before, so the same line keeps its template
(and signature) across runs instead of depending on what else that run happened to read.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WILDCARD = "<*>"

# A token holding a digit or an "@" is a value (a number, id, hex, UUID, IP, duration, email);
# `key=value` keeps its key. Token-wise masking with C-level string methods is several times
# faster than one big regex over the line, and the scan's throughput rests on it.
_VALUE = re.compile(r"[\d@]")


def _mask_token(token: str) -> str:
    if token.isalpha() or _VALUE.search(token) is None:
        return token
    key, eq, _ = token.partition("=")
    if eq and key and _VALUE.search(key) is None:
        return f"{key}={WILDCARD}"
    return WILDCARD


def mask(message: str) -> str:
    return " ".join([_mask_token(token) for token in message.split()])


def signature_of(service: str, template: str) -> str:
    return hashlib.blake2b(f"{service}\x00{template}".encode(), digest_size=8).hexdigest()


@dataclass(slots=True)
class Cluster:
    id: int
    tokens: list[str]
    size: int = 0

    @property
    def template(self) -> str:
        return " ".join(self.tokens)


@dataclass
class TemplateMiner:
    """Assigns each message a cluster id; `cluster(id).template` is its current template."""

    similarity: float = 0.5
    max_clusters_per_leaf: int = 200
    clusters: list[Cluster] = field(default_factory=list)
    _cache: dict[str, int] = field(default_factory=dict)
    _leaves: dict[tuple[int, str], list[int]] = field(default_factory=dict)

    def add(self, message: str) -> int:
        masked = mask(message)
        hit = self._cache.get(masked)
        if hit is not None:
            self.clusters[hit].size += 1
            return hit
        cluster_id = self._place(masked)
        if len(self._cache) < 200_000:  # bound memory on pathological input
            self._cache[masked] = cluster_id
        self.clusters[cluster_id].size += 1
        return cluster_id

    def cluster(self, cluster_id: int) -> Cluster:
        return self.clusters[cluster_id]

    # Persisted: the clusters, the tree's leaves and the line cache (bounded on save).
    MAX_SAVED_LINES = 20_000

    def state(self) -> dict[str, Any]:
        cache = dict(list(self._cache.items())[-self.MAX_SAVED_LINES:])
        return {"version": 1, "similarity": self.similarity,
                "clusters": [[c.tokens, c.size] for c in self.clusters],
                "leaves": [[n, first, ids] for (n, first), ids in self._leaves.items()],
                "cache": cache}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TemplateMiner:
        if not isinstance(state, dict) or state.get("version") != 1:
            raise ValueError("not a template miner state (version 1)")
        miner = cls(similarity=float(state.get("similarity", 0.5)))
        miner.clusters = [Cluster(i, [str(t) for t in tokens], int(size))
                          for i, (tokens, size) in enumerate(state["clusters"])]
        miner._leaves = {(int(n), str(first)): [int(i) for i in ids]
                         for n, first, ids in state["leaves"]}
        count = len(miner.clusters)
        miner._cache = {str(k): int(v) for k, v in state["cache"].items() if 0 <= int(v) < count}
        return miner

    def _place(self, masked: str) -> int:
        tokens = masked.split()
        first = tokens[0] if tokens else ""
        # Tokens holding digits are variables the mask missed: do not branch on them.
        if any(c.isdigit() for c in first):
            first = WILDCARD
        leaf = self._leaves.setdefault((len(tokens), first), [])
        best, best_score = -1, -1.0
        for cluster_id in leaf:
            score = _similarity(self.clusters[cluster_id].tokens, tokens)
            if score > best_score:
                best, best_score = cluster_id, score
        if best >= 0 and best_score >= self.similarity:
            cluster = self.clusters[best]
            cluster.tokens = [a if a == b else WILDCARD for a, b in zip(cluster.tokens, tokens,
                                                                       strict=True)]
            return best
        cluster = Cluster(len(self.clusters), tokens)
        self.clusters.append(cluster)
        if len(leaf) < self.max_clusters_per_leaf:
            leaf.append(cluster.id)
        return cluster.id


def _similarity(template: list[str], tokens: list[str]) -> float:
    if not tokens:
        return 1.0
    same = sum(1 for a, b in zip(template, tokens, strict=True) if a == b and a != WILDCARD)
    params = sum(1 for a in template if a == WILDCARD)
    # Wildcards neither help nor hurt: compare on the constant tokens only.
    constant = len(tokens) - params
    return same / constant if constant else 1.0


# Where the deployment keeps the miners' state: beside the Dev agent's work directory
# (`./.nightowl/dev`), under the directory nightowl runs from.
DEFAULT_STATE = Path(".nightowl") / "templates.json"


class TemplateStore:
    """Per-service miners kept in one JSON file (under the deployment's data directory), so
    that the error scan and the investigator give the same line the same template in every
    run. Writers hold an exclusive lock and replace the file atomically; a corrupt or
    unreadable file is set aside (renamed `.corrupt`), never silently overwritten, and mining
    starts afresh."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problem: str | None = None
        self._miners: dict[str, TemplateMiner] = {}
        self._loaded: dict[str, Any] = {}
        if path.is_file():
            try:
                raw = json.loads(path.read_text())
                if not isinstance(raw, dict):
                    raise ValueError("expected an object of services")
                self._loaded = raw
            except (OSError, ValueError) as exc:
                self.problem = f"template state {path} unreadable ({exc}); started afresh"
                with contextlib.suppress(OSError):
                    path.replace(path.with_name(path.name + ".corrupt"))

    def miner(self, service: str) -> TemplateMiner:
        miner = self._miners.get(service)
        if miner is None:
            state = self._loaded.get(service)
            try:
                miner = TemplateMiner.from_state(state) if state is not None else TemplateMiner()
            except (ValueError, KeyError, TypeError) as exc:
                self.problem = f"template state of {service} unreadable ({exc}); started afresh"
                miner = TemplateMiner()
            self._miners[service] = miner
        return miner

    def save(self) -> None:
        """Write every miner used in this run back, keeping services this run did not read
        (and, under the lock, what another writer saved meanwhile for them)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged: dict[str, Any] = {}
            if self.path.is_file():
                try:
                    current = json.loads(self.path.read_text())
                    merged = current if isinstance(current, dict) else {}
                except (OSError, ValueError):
                    merged = {}
            merged.update({s: m.state() for s, m in self._miners.items()})
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=self.path.name + ".")
            try:
                with os.fdopen(fd, "w") as handle:
                    json.dump(merged, handle)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
