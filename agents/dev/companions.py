"""Two readings of a ranking that looks past one commit and one frame.

- Companions: one change spread over several shipped commits (a rename done in two steps,
  one commit per file or per function). The other commits that make the top suspect's
  substitution are suspects too, scored close enough to be reverted with it; reverting
  half a change leaves the tests red.
- Old code meeting new input: the top suspect shipped, but the raising line is older and
  the suspect did not touch the raising frame's path (it changed a caller, or something off
  the stack that feeds it); the result says so, since the fix may belong in either place.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from agents.dev import offstack
from agents.dev.types import SuspectCommit

if TYPE_CHECKING:
    from agents.dev.suspects import Evidence


COMPANION_SHARE = 0.9  # a companion's score against the top suspect's: reverted with it


def with_companions(ev: Evidence, out: list[SuspectCommit]) -> list[SuspectCommit]:
    """One change spread over several shipped commits (a rename done in two steps): the
    other commits that make the top suspect's substitution (`reserved` → `held`) come
    right after it, so a revert undoes the whole change and not half of it."""
    top = out[0]
    if not top.in_range or ev.range_shas is None:
        return out
    signature = offstack.substitutions(ev.hunks.get(top.commit, ()))
    if not signature:
        return out
    by_sha = {s.commit: s for s in out}
    for sha, items in ev.hunks.items():
        commit = ev.commits.get(sha)
        if sha == top.commit or sha not in ev.range_shas or commit is None or commit.is_merge:
            continue
        shared = signature & offstack.substitutions(items)
        if not shared:
            continue
        old, new = sorted(shared)[0]
        score = COMPANION_SHARE * top.score
        why = (f"makes the same change as {top.commit[:12]} ({old} → {new}): one change "
               f"spread over commits; shipped in the deployed range")
        paths = tuple(sorted({h.path for h in items
                              if offstack.substitutions([h]) & shared}))
        known = by_sha.get(sha)
        if known is not None and known.score >= score:
            continue
        by_sha[sha] = SuspectCommit(commit=sha, author=commit.author, title=commit.title,
                                    score=score, why=why, when=commit.when, pr=commit.pr,
                                    in_range=True, email=commit.email, files=paths)
    return list(by_sha.values())


def say_old_code(ev: Evidence, top: SuspectCommit, on_raising_path: bool) -> SuspectCommit:
    """A shipped suspect that did not change the raising frame's own path
    (`on_raising_path`: the raising line, a line above it that feeds it, deleted lines in
    its function) fed it new input: the raise is in older code, and the result says so
    (the fix may belong in either)."""
    if not top.in_range or not ev.frames or ev.range_shas is None:
        return top
    inner = ev.frames[0]
    blamed = inner.line_blame
    if blamed is None or blamed.commit in ev.range_shas or on_raising_path:
        return top
    return replace(top, why=top.why + (
        f"; the raise itself is in older code ({inner.path}:{inner.frame.lineno}, "
        f"{blamed.commit[:12]}): old code meeting new input from this change"))
