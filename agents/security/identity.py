"""Matching an actor against the names an organisation trusts, and catching look-alikes.

A name in the context (a known admin, a CI principal, a ticket's principal) matches only when
it is the same string, ignoring letter case for plain ASCII names (IAM and most identity
providers treat `Alice` and `alice` as one user). Nothing else is folded: a trailing space, a
Cyrillic `а` or a digit for a letter makes a different principal, and one that would match
after folding those is a *look-alike* of a trusted name, which is itself a finding.

The skeleton below is deliberately small: Unicode's confusables data (as the
`confusable-homoglyphs` package ships it) covers cross-script letters but not the digit-for-
letter swaps (`adm1n`, `r00t`) that account names use most, so both are folded here.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

# Letters from other scripts that render like Latin ones, and digits/symbols used for letters.
_LOOKALIKE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i", "ј": "j",
    "ѕ": "s", "һ": "h", "ԁ": "d", "ɡ": "g", "ո": "n", "ս": "u", "ν": "v", "ο": "o", "α": "a",
    "ι": "i", "κ": "k", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ӏ": "l", "ɩ": "i",
    "0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "|": "l",
    "!": "i", "ı": "i",
})
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"}


def same_name(a: str, b: str) -> bool:
    if a == b:
        return True
    return a.isascii() and b.isascii() and a.lower() == b.lower()


def skeleton(name: str) -> str:
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c) and c not in _INVISIBLE)
    text = "".join(text.split()).casefold().translate(_LOOKALIKE)
    # `i` and `l` are the same glyph in many fonts (and `1` maps to `l` above).
    return text.replace("i", "l").replace("rn", "m")


def matches(aliases: Iterable[str], trusted: Iterable[str]) -> list[str]:
    """The trusted names one of the actor's aliases is exactly."""
    names = list(aliases)
    return [t for t in trusted if any(same_name(a, t) for a in names)]


def lookalikes(aliases: Iterable[str], trusted: Iterable[str]) -> list[tuple[str, str]]:
    """(alias, trusted name) pairs that look the same but are not the same name."""
    found: list[tuple[str, str]] = []
    names = list(aliases)
    for t in trusted:
        if any(same_name(a, t) for a in names):
            continue
        for a in names:
            if skeleton(a) and skeleton(a) == skeleton(t):
                found.append((a, t))
                break
    return found
