"""MITRE ATT&CK lookups from the offline table shipped with the package (data/attack.json).

ATT&CK v19 split the Defense Evasion tactic into Stealth (TA0005) and Defense Impairment
(TA0112) and revoked some Impair Defenses ids in favour of new ones (T1562.008 became
T1685.002). Rules in the wild use both vocabularies, so both are accepted: `canonical()` maps
a v19 id back to the pre-v19 id the rest of the product (and most rule sets) still speak, and
`same_technique()` treats the two as one. See data/README.md for the table's source and terms.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")
# Tactic words as rule sets write them ("attack.defense-evasion", "Defense Evasion", TA0005).
_TACTIC_ALIASES = {"defense evasion": "defense-evasion", "defence evasion": "defense-evasion",
                   "defense-evasion": "defense-evasion", "defence-evasion": "defense-evasion",
                   "stealth": "stealth", "defense impairment": "defense-impairment",
                   "defense-impairment": "defense-impairment",
                   "defence impairment": "defense-impairment"}
EVASION_TACTICS = frozenset({"defense-evasion", "stealth", "defense-impairment"})


@dataclass(frozen=True, slots=True)
class Technique:
    id: str
    name: str
    tactics: tuple[str, ...]
    status: str = ""  # "", deprecated, revoked, v19, mobile, unknown

    @property
    def tactic(self) -> str:
        return self.tactics[0] if self.tactics else "unknown"

    def contract(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "tactic": self.tactic}


@cache
def _table() -> dict[str, Any]:
    text = resources.files("agents.security").joinpath("data/attack.json").read_text("utf-8")
    table: dict[str, Any] = json.loads(text)
    return table


def normalise_id(value: str) -> str | None:
    """`attack.t1562.008`, `t1562.008`, `TA0005:T1562` -> `T1562.008` / `T1562`; else None."""
    text = value.strip().upper().removeprefix("ATTACK.")
    if ":" in text:
        text = text.rsplit(":", 1)[1]
    return text if _ID.match(text) else None


def canonical(technique_id: str) -> str:
    """The pre-v19 id for a v19 replacement (T1685.002 -> T1562.008), else the id itself."""
    for old, new in _table()["v19_revoked"].items():
        if new == technique_id:
            return str(old)
    return technique_id


def same_technique(a: str, b: str) -> bool:
    return canonical(a) == canonical(b)


def lookup(technique_id: str) -> Technique:
    """A technique by id. An id the table lacks falls back to its parent's name (Panther's
    `T1201.007`), and an id nobody knows is returned as unknown rather than dropped."""
    ident = normalise_id(technique_id) or technique_id.strip()
    rows: dict[str, list[Any]] = _table()["techniques"]
    row = rows.get(ident)
    if row is not None:
        return Technique(ident, str(row[0]), tuple(row[1]), str(row[2]) if len(row) > 2 else "")
    parent = rows.get(ident.split(".")[0])
    if parent is not None:
        return Technique(ident, str(parent[0]), tuple(parent[1]), "unknown sub-technique")
    return Technique(ident, "unknown technique", (), "unknown")


def tactic_name(value: str) -> str:
    """A tactic id or word in either vocabulary, as the lower-case hyphenated name."""
    text = value.strip().lower().removeprefix("attack.")
    tactics: dict[str, str] = _table()["tactics"]
    if text.upper() in tactics:
        return tactics[text.upper()]
    text = text.replace("_", " ")
    return _TACTIC_ALIASES.get(text, text.replace(" ", "-"))


def is_evasion(tactic: str) -> bool:
    """Defense evasion in the pre-v19 word, or either of v19's two halves."""
    return tactic_name(tactic) in EVASION_TACTICS


def all_ids() -> list[str]:
    return list(_table()["techniques"])
