"""What a service's log lines say, read the same way everywhere: each line's template (the
one miner the error scan shares), and which services the lines name (a writer reporting a
dependency's failure, in so many words or in an SQL client's)."""

from __future__ import annotations

import re
from collections import Counter

from integrations.error_sources.templates import TemplateMiner
from integrations.telemetry.base import LogLine

_MASK = [
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
     "<uuid>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<hex>"),
    (re.compile(r"\b\d+(\.\d+)?(ms|s|b|kb|mb|gb|%)?\b", re.I), "<n>"),
    (re.compile(r"(['\"]).*?\1"), "<str>"),
]


def mine_templates(lines: list[LogLine], miner: TemplateMiner | None = None) -> list[str]:
    """Each line's template, from the one miner the error scan uses (Drain over masked
    values): a line maps to the template its cluster ended with, so templates that merged
    as the miner learned count as one. A persisted miner (shared with the error scan) sends
    a line it saw in an earlier run to the same cluster again."""
    miner = miner if miner is not None else TemplateMiner()
    clusters = [miner.add(line.message) for line in lines]
    return [miner.cluster(c).template[:160] for c in clusters]


def log_template(message: str) -> str:
    text = message
    for pattern, replacement in _MASK:
        text = pattern.sub(replacement, text)
    return text[:160]


_TOKENS = re.compile(r"[a-z0-9](?:[a-z0-9_.\-]*[a-z0-9])?")
# What an SQL client library says when its database is slow or saturated, without naming it:
# a connection pool exhausted (HikariCP, SQLAlchemy, database/sql, pgx), a statement cancelled
# by its timeout, locks. Such a line blames the writer's SQL database.
_SQL_CLIENT = re.compile(
    r"hikaripool|connection is not available|queuepool limit|connection pool (?:is )?"
    r"(?:exhausted|timed? ?out)|could not (?:obtain|acquire) (?:a )?(?:jdbc |database )?"
    r"connection|too many (?:clients|connections)|statement timeout|lock wait timeout|"
    r"deadlock detected|mysql server has gone away|lost connection to mysql", re.IGNORECASE)
# A name lookup that failed: the host it names was never reached, so the line reports the
# writer's own resolver or network (CoreDNS, /etc/resolv.conf, a VPC's DNS), not that host
# failing. Go's resolver, glibc's getaddrinfo, Java, Node, curl and Python say it so.
_NAME_LOOKUP = re.compile(
    r"lookup \S+ on \S+|no such host|eai_again|enotfound|unknownhostexception|"
    r"temporary failure in name resolution|name or service not known|"
    r"could not resolve host|nodename nor servname|nxdomain|servfail|"
    r"name resolution failed|dns (?:lookup|resolution) (?:failed|timed? ?out)",
    re.IGNORECASE)
# A service named as an SQL database (or the pooler in front of one).
_SQL_STORE = re.compile(r"(?:^|[-_.])(?:pg|postgres(?:ql)?|mysql|mariadb|sql|db|rds|aurora|"
                        r"pgbouncer|proxysql|cockroach(?:db)?|mssql|oracle)(?:$|[-_.\d])",
                        re.IGNORECASE)


def name_lookup_failure(text: str) -> bool:
    """Whether a line (or a template) says a name lookup failed."""
    return bool(_NAME_LOOKUP.search(text))


def blame(lines: list[LogLine], others: set[str], *, store: str | None = None
          ) -> tuple[tuple[tuple[str, int], ...], float]:
    """Which of `others` (service names) these error lines name and how many lines name
    each, most named first, and the share of lines naming at least one. Names are matched
    as whole tokens (a host name's first label too: orders.default.svc), so "user" names a
    service only where it stands alone, not inside "username". A line in an SQL client's
    words that names none ("HikariPool-1 - Connection is not available") names `store`, the
    writer's one SQL database, when it has one. A failed name lookup names no one: the host
    in it was never reached."""
    if not lines or not others:
        return (), 0.0
    lowered = {name.lower(): name for name in others}
    counts: Counter[str] = Counter()
    naming = 0
    for line in lines:
        if name_lookup_failure(line.message):
            continue  # names a host it could not look up: no one's failure but its own
        tokens = set(_TOKENS.findall(line.message.lower()))
        tokens |= {t.split(".", 1)[0] for t in tokens if "." in t}
        hits = {lowered[h] for h in tokens & lowered.keys()}
        if not hits and store is not None and _SQL_CLIENT.search(line.message):
            hits = {store}
        if hits:
            naming += 1
            counts.update(hits)
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), naming / len(lines)


# A name a line addresses as the target of a call: after a call's verb ("call to", "calling",
# "request to", "upstream", "connecting to", "timeout calling"), in a URL, or with a port.
_CALL_BEFORE = (r"(?:\b(?:call(?:ing|s)?|request(?:s|ing)?|connect(?:ing|ion)?|upstream|"
                r"dial(?:ing)?|query(?:ing)?|publish(?:ing)?)\s+(?:(?:to|on|for)\s+)?|"
                r"\b[a-z][a-z0-9+]*://)")


def called(lines: list[LogLine], others: set[str]) -> tuple[tuple[str, int], ...]:
    """Which of `others` these lines address as the target of a call ("call to ledger
    failed", "upstream pgbouncer responded 503", "GET http://users:8080/..."), with how many
    lines do, most first: a service named otherwise ("failed to convert currency") is not
    one the writer calls."""
    if not lines or not others:
        return ()
    patterns = {name: re.compile(rf"(?:{_CALL_BEFORE}{re.escape(name.lower())}(?![a-z0-9_\-])"
                                 rf"|(?<![a-z0-9_\-.]){re.escape(name.lower())}:\d{{2,5}}\b)")
                for name in others}
    counts: Counter[str] = Counter()
    for line in lines:
        text = line.message.lower()
        if name_lookup_failure(text):
            continue
        counts.update(name for name, pattern in patterns.items() if pattern.search(text))
    return tuple(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def names_in(lines: list[LogLine], service: str, graph: dict[str, set[str]],
             services: set[str]) -> tuple[tuple[tuple[str, int], ...], float,
                                          tuple[tuple[str, int], ...]]:
    """Which of its callees `service`'s error lines name (every other service when there is
    no call graph), the share naming one, and the calls the graph missed that they reveal:
    services it does not know at all (a database no trace reached) named anyhow, and others
    it knows (a pooler listed under another client only) addressed as a call's target,
    unless they call this service."""
    if not any(graph.values()):
        return (*blame(lines, services - {service}), ())
    callees = graph.get(service, set())
    named, share = blame(lines, callees, store=sql_store(callees))
    charted = set(graph) | {c for listed in graph.values() for c in listed}
    unknown, _ = blame(lines, services - charted)
    callers = {caller for caller, listed in graph.items() if service in listed}
    elsewhere = called(lines, charted - callees - callers - {service})
    return named, share, unknown + elsewhere


def sql_store(callees: set[str]) -> str | None:
    """The one SQL database (or pooler) among a service's callees, by its name; None when
    there is none or several."""
    stores = [c for c in callees if _SQL_STORE.search(c)]
    return stores[0] if len(stores) == 1 else None


def new_patterns(lines: list[LogLine], templates: list[str], *, after: float, until: float,
                 min_lines: int) -> dict[str, list[LogLine]]:
    """Each template first written after `after` with at least `min_lines` lines from then
    to `until`, still written in the last quarter of that span (a fault failing a share of
    requests since, not a burst that came and went), with those lines."""
    seen: dict[str, list[LogLine]] = {}
    for line, template in sorted(zip(lines, templates, strict=True), key=lambda p: p[0].ts):
        seen.setdefault(template, []).append(line)
    found = {}
    for template, written in seen.items():
        first = written[0].ts
        since = [line for line in written if first <= line.ts <= until]
        if first < after or first >= until or len(since) < min_lines:
            continue
        if since[-1].ts >= until - 0.25 * (until - first):
            found[template] = since
    return found
