"""Generator of the `fix-novel` suite: novel_services.py's bug shapes in team-like histories.

The history is built like generate.py's (the same authors, churn, merged features and
pre-range refactor renames, one `git fast-import` stream, the error captured by running the
code), with what these shapes need on top: a long-lived feature branch forked before the
deploy's start and merged inside the range, a regression spread over several commits, a
rename inside the range, and a vendored library's update shipped in the same release.

`truth.json` adds to generate.py's fields: `revert_commits` (every commit a revert must
undo), `old_code_new_input` (the result must say the raising line is old code fed new input)
and `shape`. Seed 3; never used to choose weights.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evals.fix.generate import (
    AUTHORS,
    CHURN_WORDS,
    RENAMES,
    TEST_COMMAND,
    Commit,
    History,
    _churn,
    _insert_comment,
    capture_error,
    fast_import,
)
from evals.fix.novel_services import NOVEL, NOVEL_SOURCES, Edit, NovelFault

NOVEL_SEED = 3
VERSION = 2


def _where(tree: dict[str, str], moved: dict[str, str], original: str) -> str:
    """Where a first-imported file lives now, after the renames so far."""
    path = original
    while path in moved and moved[path] in tree:
        path = moved[path]
    return path


def _apply(h: History, moved: dict[str, str], edit: Edit) -> None:
    path = _where(h.tree, moved, edit.path)
    text = h.tree[path]
    assert text.count(edit.old) == 1, (edit.title, path)
    h.tree[path] = text.replace(edit.old, edit.new)


def _rename(h: History, moved: dict[str, str], old: str, new: str) -> None:
    """Move a module and update its importers, as a refactor commit does."""
    h.tree[new] = h.tree.pop(old)
    moved[old] = new
    mod_old, mod_new = old[:-3].replace("/", "."), new[:-3].replace("/", ".")
    for p, text in list(h.tree.items()):
        if p.endswith(".py"):
            h.tree[p] = text.replace(f"from {mod_old} import", f"from {mod_new} import")


def build_novel_history(fault: NovelFault, rng: random.Random
                        ) -> tuple[History, list[int], int, int, dict[str, str]]:
    """(history, the regression's commit marks, from mark, to mark, renames done)."""
    h = History(rng=rng, now=datetime(2025, 9, 1, 9, tzinfo=UTC) -
                timedelta(days=rng.choice((60, 200, 500))), tree=dict(NOVEL_SOURCES))
    h.commit("Initial import of the shop services", author=AUTHORS[0], hours=0)
    moved: dict[str, str] = {}
    service_files = sorted(p for p in NOVEL_SOURCES if p.count("/") == 1 and
                           not p.startswith(("tests", "vendor")) and
                           not p.endswith("__init__.py"))
    counter = [100 + rng.randrange(300)]

    def churn() -> None:
        _churn(h, [_where(h.tree, moved, p) for p in service_files], counter, {})

    for _ in range(rng.randint(5, 10)):
        churn()
    branch_base: tuple[int, dict[str, str]] | None = None
    if fault.via_merge:  # the feature branch forks here, well before the deploy's start
        branch_base = (h.head or 1, dict(h.tree))
    # A refactor rename before the range, of a module the fault does not involve.
    free = sorted(p for p in RENAMES if p not in fault.paths)
    if free and rng.random() < 0.5:
        old = rng.choice(free)
        _rename(h, moved, old, RENAMES[old])
        h.commit(f"Rename {old} to {RENAMES[old]}")
    for _ in range(rng.randint(2, 5)):
        churn()
    from_mark = h.head or 1
    culprits: list[int] = []
    slots = ["edit"] * (0 if fault.via_merge else len(fault.edits))
    slots += ["merge"] if fault.via_merge else []
    slots += ["vendor"] if fault.vendor_update else []
    slots += ["churn"] * rng.randint(1, 3)
    slots += ["confound"] if rng.random() < 0.7 else []
    rng.shuffle(slots)
    if fault.rename:  # the rename comes after the fault's edits
        slots.append("rename")
        rng.shuffle(slots)
        last_edit = max(i for i, s in enumerate(slots) if s in ("edit", "merge"))
        at = slots.index("rename")
        if at < last_edit:
            slots.insert(last_edit, slots.pop(at))
    edits = iter(fault.edits)
    for slot in slots:
        if slot == "edit":
            edit = next(edits)
            _apply(h, moved, edit)
            counter[0] += 1
            culprits.append(h.commit(f"{edit.title} (#{counter[0]})"))
        elif slot == "merge" and branch_base is not None:
            culprits += _merge_branch(h, moved, fault, branch_base, counter)
        elif slot == "vendor" and fault.vendor_update:
            _apply(h, moved, fault.vendor_update)
            h.commit(fault.vendor_update.title)
        elif slot == "rename" and fault.rename:
            old, new = fault.rename
            _rename(h, moved, _where(h.tree, moved, old), new)
            h.commit(f"Move {old} to {new}")
        elif slot == "confound":
            # A change in the file to fix that is not the cause (comment in the function).
            path = _where(h.tree, moved, fault.files[0])
            h.tree[path] = _insert_comment(rng, h.tree[path], None, rng.choice(CHURN_WORDS))
            h.commit(f"Clarify {path.split('/')[-1]}")
        else:
            churn()
    return h, culprits, from_mark, h.head or 1, moved


def _merge_branch(h: History, moved: dict[str, str], fault: NovelFault,
                  base: tuple[int, dict[str, str]], counter: list[int]) -> list[int]:
    """The long-lived branch: the fault's edits authored at the fork (before the range),
    then a merge commit on main inside the range."""
    base_mark, base_tree = base
    author = h.rng.choice(AUTHORS)
    when = h.commits[base_mark - 1].when
    tip, tree, marks = base_mark, dict(base_tree), []
    counter[0] += 1
    pr = counter[0]
    for edit in fault.edits:
        text = tree[edit.path]
        tree[edit.path] = text.replace(edit.old, edit.new)
        _apply(h, moved, edit)  # the merge result carries the same change
        when += timedelta(hours=h.rng.uniform(1, 8))
        mark = len(h.commits) + 1
        h.commits.append(Commit(mark, author, when, edit.title, dict(tree), tip,
                                branch=f"refs/heads/feature-{pr}"))
        tip = mark
        marks.append(mark)
    h.now += timedelta(hours=h.rng.uniform(1, 6))
    mark = len(h.commits) + 1
    h.commits.append(Commit(mark, h.rng.choice(AUTHORS), h.now,
                            f"Merge pull request #{pr} from shop/feature-{pr}",
                            dict(h.tree), h.head, merge=tip))
    h.head = mark
    return marks


def build_novel_case(out: Path, fault: NovelFault, *, seed: int, variant: int) -> Path:
    rng = random.Random(f"novel:{seed}:{fault.name}:{variant}")
    h, culprits, from_mark, to_mark, moved = build_novel_history(fault, rng)
    case_id = f"fix-novel-{seed}-{rng.getrandbits(40):010x}"
    directory = out / case_id
    repo = directory / "repo"
    directory.mkdir(parents=True)
    shas = fast_import(h, repo, {"deploy-from": from_mark})
    entry = fault.entry
    for old, new in moved.items():
        if new in h.tree:
            entry = entry.replace(old[:-3].replace("/", "."), new[:-3].replace("/", "."))
    error = capture_error(repo, entry)
    if error is None:
        raise RuntimeError(f"{fault.name} variant {variant}: the entry did not raise")
    service = fault.files[0].split("/")[0]
    first = h.now + timedelta(minutes=rng.randint(5, 90))
    case = {"id": case_id,
            "error": {"title": f"{error['type']}: {error['value']}", "type": error["type"],
                      "value": error["value"], "service": service,
                      "count": rng.randint(3, 900), "first_seen": first.isoformat(),
                      "last_seen": (first + timedelta(hours=2)).isoformat(),
                      "frames": error["frames"]},
            "deploy": {"service": service, "from": shas[from_mark], "to": shas[to_mark],
                       "at": h.now.isoformat()},
            "test_command": TEST_COMMAND}
    reverts = [shas[m] for m in culprits]
    truth = {"suspect_commits": reverts, "revert_commits": reverts,
             "files": [_where(h.tree, moved, f) for f in fault.files],
             "kind": "revert", "fault": fault.name, "fault_kind": fault.shape,
             "shape": fault.shape, "old_code_new_input": fault.old_code,
             "revert_should_apply": _reverts_green(repo, reverts)}
    (directory / "case.json").write_text(json.dumps(case, indent=2))
    (directory / "truth.json").write_text(json.dumps(truth, indent=2))
    return directory


def _reverts_green(repo: Path, shas: list[str]) -> bool:
    """Ground truth for the revert score: undoing all the regression's commits (newest
    first) applies on HEAD and turns the test command green."""
    ident = ["-c", "user.name=eval", "-c", "user.email=eval@x"]
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    ok = True
    for sha in reversed(shas):
        done = subprocess.run(["git", *ident, "revert", "--no-edit", sha], cwd=repo,
                              capture_output=True, check=False)
        if done.returncode != 0:
            subprocess.run(["git", "revert", "--abort"], cwd=repo, capture_output=True,
                           check=False)
            ok = False
            break
    if ok:
        path = f"{Path(sys.executable).parent}:/usr/bin:/bin"
        ok = subprocess.run(TEST_COMMAND.split(), cwd=repo, capture_output=True,
                            check=False, timeout=120,
                            env={"PATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
                            ).returncode == 0
    subprocess.run(["git", "reset", "-q", "--hard", head], cwd=repo, check=True)
    subprocess.run(["git", "clean", "-q", "-fdx"], cwd=repo, check=False)
    return ok


def generate_novel(out: Path, *, seed: int = NOVEL_SEED, variants: int = 2) -> list[Path]:
    """Write the novel suite's case directories under `out` (reused when already there)."""
    stamp = out / "suite.json"
    expected = {"seed": seed, "variants": variants, "faults": [f.name for f in NOVEL],
                "version": VERSION, "family": "novel"}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return sorted(p for p in out.iterdir() if p.is_dir())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cases = [build_novel_case(out, fault, seed=seed, variant=v)
             for fault in NOVEL for v in range(variants)]
    stamp.write_text(json.dumps(expected))
    return cases
