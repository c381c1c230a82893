"""Raw events as flat rows: the shape the Sigma SQLite backend queries.

Sigma rules name nested fields with dots (`userIdentity.arn`) and compare case-insensitively,
both in field names and in values. So a row's keys are the dotted paths of the event's leaves,
lowercased; keys that differ only in case (`sourceIPAddress` / `sourceIpAddress`, which
CloudTrail does emit across API versions) merge into one column, the first non-empty value
winning. Values are stored as SQLite text (the table's columns are `TEXT COLLATE NOCASE`):
booleans as `'true'`/`'false'`, which is what Sigma rules compare against and what the backend's
boolean expression accepts.

Lists: Sigma reads a field that holds a list as "any element matches". A flat row cannot say
that for equality, so a one-element list is stored as its element (the common case: Okta's
`target`, CloudTrail's `resources` of one), a longer list as JSON text (which `contains`,
`startswith`-style and regex rules still see). An object or list a rule names directly
(`requestParameters|contains`) is stored as its JSON text.

Some log types need fields the raw record does not carry under the name SigmaHQ rules use:
`flatten_for` adds them (Google Workspace's `eventName`, `eventService` and event parameters
from the Reports API shape).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.security.types import GSUITE_ACTIVITY

Scalar = str | int | float


def _scalar(value: Any) -> Scalar | None:
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str | int | float):
        return value
    return None


def _json(node: Any) -> str:
    return json.dumps(node, sort_keys=True, default=str)


Step = tuple[str, str, bool, bool]  # raw key, lowercase path, is a column, leads to one


@dataclass(frozen=True, slots=True)
class Wanted:
    """The columns the loaded rules read, so the walk skips subtrees no rule names.

    CloudTrail's `requestParameters` / `responseElements` are most of a record and few rules
    look inside them: pruning them is what keeps a scan above 50,000 events/s. Records of one
    log type mostly share their key sets, so which keys of an object matter is worked out once
    per (path, key set) and cached.
    """

    columns: frozenset[str]
    prefixes: frozenset[str]
    steps: dict[str, dict[tuple[Any, ...], tuple[Step, ...]]] = field(
        default_factory=dict, compare=False, hash=False
    )

    @classmethod
    def of(cls, columns: Iterable[str]) -> Wanted:
        cols = frozenset(c.lower() for c in columns)
        prefixes = set()
        for col in cols:
            parts = col.split(".")
            for i in range(1, len(parts)):
                prefixes.add(".".join(parts[:i]))
        return cls(cols, frozenset(prefixes))

    def plan(self, prefix: str, keys: tuple[Any, ...]) -> tuple[Step, ...]:
        per_prefix = self.steps.get(prefix)
        if per_prefix is None:
            per_prefix = self.steps[prefix] = {}
        steps = per_prefix.get(keys)
        if steps is None:
            found: list[Step] = []
            for key in keys:
                path = prefix + str(key).lower()
                is_col, is_prefix = path in self.columns, path in self.prefixes
                if is_col or is_prefix:
                    found.append((key, path, is_col, is_prefix))
            steps = tuple(found)
            if len(per_prefix) > 5_000:  # objects with free-form keys: keep memory bounded
                per_prefix.clear()
            per_prefix[keys] = steps
        return steps


Row = dict[str, Any]  # path -> Scalar, or a dict/list a column names whole (see `cell`)


def cell(value: Any) -> Scalar | None:
    """A row value as SQLite stores it: objects and lists as JSON text, one-element lists as
    their element. Deferred to here because encoding CloudTrail's `requestParameters` for
    every event would cost more than the rest of the scan."""
    kind = type(value)
    if kind is dict:
        return _json(value)
    if kind is list:
        return _list_value(value)
    return value  # type: ignore[no-any-return]


def flatten(event: Mapping[str, Any], wanted: Wanted | None = None) -> Row:
    """Lowercase dotted path -> value. With `wanted`, only those columns (an object or list a
    column names is its JSON text); without, every leaf."""
    row: Row = {}
    if wanted is None:
        _walk(event, "", row)
    else:
        _walk_wanted(event, "", row, wanted)
    return row


def _walk(node: Mapping[str, Any], prefix: str, row: Row) -> None:
    for key, value in node.items():
        path = prefix + str(key).lower()
        if isinstance(value, dict):
            _walk(value, path + ".", row)
        elif isinstance(value, list):
            if len(value) == 1 and isinstance(value[0], dict):
                _walk(value[0], path + ".", row)
            elif value and not row.get(path):
                row[path] = _list_value(value)
        elif value is not None and not row.get(path):
            scalar = _scalar(value)
            if scalar is not None:
                row[path] = scalar


def _list_value(value: list[Any]) -> Scalar:
    if len(value) == 1:
        scalar = _scalar(value[0])
        if scalar is not None:
            return scalar
    return _json(value)


def _walk_wanted(node: Mapping[str, Any], prefix: str, row: Row, wanted: Wanted) -> None:
    # Hot path of every scan: only the keys that are, or lead to, a wanted column are visited.
    keys = tuple(node)
    cached = wanted.steps.get(prefix)
    steps = cached.get(keys) if cached is not None else None
    if steps is None:
        steps = wanted.plan(prefix, keys)
    for key, path, is_col, is_prefix in steps:
        value = node[key]
        kind = type(value)
        if kind is str:
            if is_col and value and not row.get(path):
                row[path] = value
        elif kind is dict:
            if is_prefix:
                _walk_wanted(value, path + ".", row, wanted)
            if is_col and not row.get(path):
                row[path] = value  # encoded by `cell` only if a table takes this column
        elif kind is list:
            if is_prefix and len(value) == 1 and type(value[0]) is dict:
                _walk_wanted(value[0], path + ".", row, wanted)
            if is_col and value and not row.get(path):
                row[path] = value
        elif is_col and value is not None and not row.get(path):
            scalar = _scalar(value)
            if scalar is not None:
                row[path] = scalar


# ---- per-log-type derived fields ----------------------------------------------------------------

# Reports API applicationName -> the service name SigmaHQ's Workspace rules compare against.
_GWS_SERVICES = {
    "admin": "admin.googleapis.com",
    "login": "login.googleapis.com",
    "drive": "drive.googleapis.com",
    "token": "oauth2.googleapis.com",
    "user_accounts": "accounts.googleapis.com",
    "saml": "saml.googleapis.com",
}


def _gws_parameters(params: Any, row: Row) -> None:
    # Reports API: [{"name": "SETTING_NAME", "value": "..."}, {"name": ..., "multiValue": [..]}]
    # Panther:     {"setting_name": "...", ...}
    if isinstance(params, Mapping):
        for name, value in params.items():
            scalar = _scalar(value) if not isinstance(value, list) else json.dumps(value)
            if scalar is not None:
                row.setdefault(str(name).lower(), scalar)
        return
    if not isinstance(params, list):
        return
    for item in params:
        if not isinstance(item, Mapping) or "name" not in item:
            continue
        for kind in ("value", "intValue", "boolValue", "multiValue", "multiIntValue"):
            if kind in item:
                raw = item[kind]
                scalar = _scalar(raw) if not isinstance(raw, list) else json.dumps(raw)
                if scalar is not None:
                    row.setdefault(str(item["name"]).lower(), scalar)
                break


def _gsuite(event: Mapping[str, Any], row: Row) -> None:
    raw_id = event.get("id")
    ident: Mapping[str, Any] = raw_id if isinstance(raw_id, Mapping) else {}
    app = str(ident.get("applicationName") or "").lower()
    if app:
        row.setdefault("eventservice", _GWS_SERVICES.get(app, f"{app}.googleapis.com"))
    inner = event.get("events")
    first = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Mapping) else {}
    name = event.get("name") or first.get("name")
    if isinstance(name, str):
        row.setdefault("eventname", name)
    kind = event.get("type") or first.get("type")
    if isinstance(kind, str):
        row.setdefault("eventtype", kind)
    _gws_parameters(event.get("parameters", first.get("parameters")), row)


_DERIVED = {GSUITE_ACTIVITY: _gsuite}


def flatten_for(log_type: str, event: Mapping[str, Any], wanted: Wanted | None = None) -> Row:
    row = flatten(event, wanted)
    derive = _DERIVED.get(log_type)
    if derive is not None:
        derive(event, row)
    return row
