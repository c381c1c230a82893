"""CODEOWNERS: who reviews a change. GitHub's rules: gitignore-style patterns, and for each
file the LAST matching line wins (a later line with no owners un-assigns the file)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

LOCATIONS = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")  # GitHub's search order


@dataclass(frozen=True, slots=True)
class Owners:
    users: tuple[str, ...] = ()  # logins, without "@"
    teams: tuple[str, ...] = ()  # team slugs of the repository's organisation


def _regex(pattern: str) -> re.Pattern[str]:
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = ""
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif body.startswith("**", i):
            out += ".*"
            i += 2
        elif body[i] == "*":
            out += "[^/]*"
            i += 1
        elif body[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(body[i])
            i += 1
    prefix = "^" if anchored else "^(?:.*/)?"
    # A pattern names a file or a directory: everything below a directory matches too.
    return re.compile(prefix + out + "(?:/.*)?$")


def parse(text: str) -> list[tuple[re.Pattern[str], tuple[str, ...]]]:
    rules = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.lstrip().startswith("\\#") else raw
        if not line:
            continue
        pattern, *owners = line.split()
        rules.append((_regex(pattern), tuple(owners)))
    return rules


def owners_for(text: str, paths: Iterable[str], *, exclude: Iterable[str] = ()) -> Owners:
    rules = parse(text)
    skip = {e.lower().lstrip("@") for e in exclude}
    users: list[str] = []
    teams: list[str] = []
    for path in paths:
        matched: tuple[str, ...] = ()
        for regex, owners in rules:
            if regex.match(path.lstrip("/")):
                matched = owners  # the last match wins
        for owner in matched:
            if not owner.startswith("@"):
                continue  # an email: GitHub cannot request a review from it
            name = owner[1:]
            if "/" in name:
                slug = name.split("/", 1)[1]
                if slug not in teams:
                    teams.append(slug)
            elif name.lower() not in skip and name not in users:
                users.append(name)
    return Owners(tuple(users), tuple(teams))
