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
(`requestParameters|contains`) is stored as its JSON text; see `Row.value`.

Some log types need fields the raw record does not carry under the name SigmaHQ rules use:
`derived_fields` adds them (Google Workspace's `eventName`, `eventService` and event parameters
from the Reports API shape).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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


class Row:
    """One flattened event: leaves by lowercase dotted path, plus the containers on the way."""

    __slots__ = ("containers", "leaves")

    def __init__(self) -> None:
        self.leaves: dict[str, Scalar] = {}
        self.containers: dict[str, Any] = {}

    def value(self, column: str) -> Scalar | None:
        """The value for a lowercase column: a leaf, else an object/list as JSON text."""
        leaf = self.leaves.get(column)
        if leaf is not None:
            return leaf
        node = self.containers.get(column)
        if node is None:
            return None
        return json.dumps(node, sort_keys=True, default=str)


@dataclass(frozen=True, slots=True)
class Wanted:
    """The columns the loaded rules read, so the walk skips subtrees no rule names.

    CloudTrail's `requestParameters` / `responseElements` are most of a record and few rules
    look inside them: pruning them is what keeps a scan well above 50,000 events/s.
    """

    columns: frozenset[str]
    prefixes: frozenset[str]

    @classmethod
    def of(cls, columns: Iterable[str]) -> Wanted:
        cols = frozenset(c.lower() for c in columns)
        prefixes = set()
        for col in cols:
            parts = col.split(".")
            for i in range(1, len(parts)):
                prefixes.add(".".join(parts[:i]))
        return cls(cols, frozenset(prefixes))


def flatten(event: Mapping[str, Any], wanted: Wanted | None = None) -> Row:
    row = Row()
    if wanted is None:
        _walk(event, "", row)
    else:
        _walk_wanted(event, "", row, wanted.columns, wanted.prefixes)
    return row


def _walk(node: Mapping[str, Any], prefix: str, row: Row) -> None:
    leaves = row.leaves
    for key, value in node.items():
        path = prefix + str(key).lower()
        if isinstance(value, Mapping):
            if path not in row.containers:
                row.containers[path] = value
            _walk(value, path + ".", row)
        elif isinstance(value, list):
            if path not in row.containers:
                row.containers[path] = value
            _list(path, value, row, None)
        else:
            scalar = _scalar(value)
            if scalar is not None and leaves.get(path) in (None, ""):
                leaves[path] = scalar


def _walk_wanted(
    node: Mapping[str, Any], prefix: str, row: Row, cols: frozenset[str], prefixes: frozenset[str]
) -> None:
    leaves = row.leaves
    for key, value in node.items():
        path = prefix + (key.lower() if isinstance(key, str) else str(key).lower())
        if isinstance(value, Mapping):
            if path in cols and path not in row.containers:
                row.containers[path] = value
            if path in prefixes:
                _walk_wanted(value, path + ".", row, cols, prefixes)
        elif isinstance(value, list):
            if path in cols or path in prefixes:
                if path not in row.containers:
                    row.containers[path] = value
                _list(path, value, row, (cols, prefixes))
        elif path in cols:
            scalar = _scalar(value)
            if scalar is not None and leaves.get(path) in (None, ""):
                leaves[path] = scalar


def _list(
    path: str, value: list[Any], row: Row, wanted: tuple[frozenset[str], frozenset[str]] | None
) -> None:
    leaves = row.leaves
    if len(value) == 1:
        only = value[0]
        if isinstance(only, Mapping):
            if wanted is None:
                _walk(only, path + ".", row)
            else:
                _walk_wanted(only, path + ".", row, *wanted)
            return
        scalar = _scalar(only)
        if scalar is not None and leaves.get(path) in (None, ""):
            leaves[path] = scalar
    elif value and leaves.get(path) in (None, ""):
        leaves[path] = json.dumps(value, sort_keys=True, default=str)


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
                row.leaves.setdefault(str(name).lower(), scalar)
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
                    row.leaves.setdefault(str(item["name"]).lower(), scalar)
                break


def _gsuite(event: Mapping[str, Any], row: Row) -> None:
    raw_id = event.get("id")
    ident: Mapping[str, Any] = raw_id if isinstance(raw_id, Mapping) else {}
    app = str(ident.get("applicationName") or "").lower()
    if app:
        row.leaves.setdefault("eventservice", _GWS_SERVICES.get(app, f"{app}.googleapis.com"))
    inner = event.get("events")
    first = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Mapping) else {}
    name = event.get("name") or first.get("name")
    if isinstance(name, str):
        row.leaves.setdefault("eventname", name)
    kind = event.get("type") or first.get("type")
    if isinstance(kind, str):
        row.leaves.setdefault("eventtype", kind)
    _gws_parameters(event.get("parameters", first.get("parameters")), row)


_DERIVED = {GSUITE_ACTIVITY: _gsuite}


def flatten_for(log_type: str, event: Mapping[str, Any], wanted: Wanted | None = None) -> Row:
    row = flatten(event, wanted)
    derive = _DERIVED.get(log_type)
    if derive is not None:
        derive(event, row)
    return row
