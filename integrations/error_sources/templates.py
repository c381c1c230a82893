"""Log-template mining (Drain-style): group log messages into signatures.

Two stages keep it fast on millions of lines:

1. **Masking**: numbers, ids, hex, UUIDs, IPs, emails, quoted values and URLs' query strings
   become `<*>` with one compiled regex. Most lines of the same template are then identical
   strings, so a dictionary answers them without touching the tree.
2. **Drain** (He et al., 2017) for what is left: messages with the same token count and the
   same first token land in one leaf; in the leaf, the cluster whose template shares the
   largest fraction of tokens (≥ `similarity`) absorbs the message, and the tokens that differ
   become `<*>`. A message like that no cluster accepts starts a new one.

A signature is a short stable hash of the service and the final template.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

WILDCARD = "<*>"

_MASK = re.compile(
    r"""
      [0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}  # uuid
    | \b[\w.+-]+@[\w-]+\.[\w.-]+\b                                             # email
    | \b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b                                     # ipv4[:port]
    | \b0x[0-9a-fA-F]+\b                                                       # 0x hex
    | \b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b            # hex ids
    | "[^"\s]{0,80}"|'[^'\s]{0,80}'                                            # quoted values
    | (?<==)[^\s,;&)\]}]+                                                      # key=value
    | [-+]?\b\d+(?:[.,:]\d+)*(?:ms|s|m|h|kb|mb|gb|b|%)?\b                       # numbers
    """,
    re.VERBOSE,
)


def mask(message: str) -> str:
    return _MASK.sub(WILDCARD, message)


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
        masked = _MASK.sub(WILDCARD, message)
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
