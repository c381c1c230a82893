"""Deterministic generator of fix cases: git repositories with a history, a deploy, an error.

Each case is one repository (built in one `git fast-import` stream, so a case costs tens of
milliseconds) holding the three services of services.py and a history that looks like a
team's: six authors, dates spread over months, churn in unrelated modules and docs, comments
added to functions, a module renamed (imports updated), feature branches merged with merge
commits, and debug tracing added to functions. Then a deploy range (`deploy-from..HEAD`)
with a few commits, one of which (for regression cases) is the fault; a confounding commit
in the range may touch the same function. For latent cases the range holds only churn.

The error event is produced by running the fault's production entry against the deployed
checkout in a subprocess and reading the real traceback (frames outermost first, as Sentry
orders them). `truth.json` names the fault's commit (for latent cases: the commit that wrote
the line that raises) and the file to fix.

Seeds: the development suite uses seed 1; the held-out suite seed 2, which is never used
to choose weights.
"""

from __future__ import annotations

import ast
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from evals.fix.services import LATENT, REGRESSIONS, SOURCES, Fault

AUTHORS = (("Ada Lovelace", "ada@shop.test"), ("Grace Hopper", "grace@shop.test"),
           ("Alan Turing", "alan@shop.test"), ("Barbara Liskov", "barbara@shop.test"),
           ("Ken Thompson", "ken@shop.test"), ("Margaret Hamilton", "margaret@shop.test"))
TEST_COMMAND = "python -m pytest -x -q -p no:cacheprovider tests"
RENAMES = {"billing/usage.py": "billing/metering.py", "orders/money.py": "orders/currency.py",
           "inventory/locations.py": "inventory/sites.py"}
DEV_SEED = 1
HELDOUT_SEED = 2


@dataclass
class Commit:
    mark: int
    author: tuple[str, str]
    when: datetime
    message: str
    tree: dict[str, str]
    parent: int | None
    merge: int | None = None
    branch: str = "refs/heads/main"


@dataclass
class History:
    rng: random.Random
    now: datetime
    tree: dict[str, str] = field(default_factory=lambda: dict(SOURCES))
    commits: list[Commit] = field(default_factory=list)
    head: int | None = None

    def commit(self, message: str, *, author: tuple[str, str] | None = None,
               hours: float | None = None) -> int:
        self.now += timedelta(hours=hours if hours is not None else self.rng.uniform(2, 40))
        mark = len(self.commits) + 1
        self.commits.append(Commit(mark, author or self.rng.choice(AUTHORS), self.now,
                                   message, dict(self.tree), self.head))
        self.head = mark
        return mark

    def branch_merge(self, messages: list[str], edits: list[dict[str, str]],
                     pr: int) -> int:
        """A feature branch of a few commits merged with a merge commit (GitHub style)."""
        base = self.head
        author = self.rng.choice(AUTHORS)
        tip = base
        for message, edit in zip(messages, edits, strict=True):
            self.tree.update(edit)
            self.now += timedelta(hours=self.rng.uniform(1, 8))
            mark = len(self.commits) + 1
            self.commits.append(Commit(mark, author, self.now, message, dict(self.tree), tip,
                                       branch=f"refs/heads/feature-{pr}"))
            tip = mark
        self.now += timedelta(hours=self.rng.uniform(1, 6))
        mark = len(self.commits) + 1
        self.commits.append(Commit(mark, self.rng.choice(AUTHORS), self.now,
                                   f"Merge pull request #{pr} from shop/feature-{pr}",
                                   dict(self.tree), base, merge=tip))
        self.head = mark
        return mark


def path_of(tree: dict[str, str], original: str) -> str:
    """Where a service file lives now (after a rename refactor)."""
    renamed = RENAMES.get(original)
    return renamed if renamed and renamed in tree else original


def _functions(text: str) -> list[ast.FunctionDef]:
    return [n for n in ast.walk(ast.parse(text)) if isinstance(n, ast.FunctionDef)]


def _insert_comment(rng: random.Random, text: str, function: str | None, words: str,
                    protect: str = "") -> str:
    """A comment line inside a function (never splitting `protect`)."""
    lines = text.split("\n")
    funcs = [f for f in _functions(text) if function is None or f.name == function]
    if not funcs:
        return text
    fn = rng.choice(funcs)
    body = [n.lineno for n in fn.body]
    for _ in range(8):
        at = rng.choice(body) - 1
        indent = re.match(r"\s*", lines[at]).group(0)  # type: ignore[union-attr]
        candidate = "\n".join([*lines[:at], f"{indent}# {words}", *lines[at:]])
        if not protect or protect not in text or protect in candidate:
            return candidate
    return text


def _add_tracing(text: str, function: str) -> str:
    """Debug tracing at the top of a function: real code, harmless, on the stack."""
    fn = next((f for f in _functions(text) if f.name == function), None)
    if fn is None or "TRACE = " in text:
        return text
    lines = text.split("\n")
    at = fn.body[0].lineno - 1
    indent = re.match(r"\s*", lines[at]).group(0)  # type: ignore[union-attr]
    lines[at:at] = [f"{indent}if TRACE:", f'{indent}    print("enter {function}")']
    first_def = min(f.lineno for f in _functions(text)) - 1
    lines[first_def:first_def] = ["TRACE = False", "", ""]
    return "\n".join(lines)


CHURN_WORDS = ("keep in sync with the API docs", "see the runbook for limits",
               "values come from the storage layer", "callers validate input first",
               "units documented in README", "this is hot: avoid extra allocations")


def _churn(h: History, service_files: list[str], pr_counter: list[int],
           protect: dict[str, str]) -> None:
    """One unrelated change: docs, a comment, a helper, a test, or a merged feature."""
    rng = h.rng
    roll = rng.random()
    if roll < 0.2:
        h.tree["README.md"] += f"\n- {rng.choice(CHURN_WORDS)}\n"
        h.commit("Docs: " + rng.choice(("usage notes", "limits", "contributing")))
    elif roll < 0.5:
        path = rng.choice(service_files)
        h.tree[path] = _insert_comment(rng, h.tree[path], None, rng.choice(CHURN_WORDS),
                                       protect.get(path, ""))
        h.commit(f"Comment {path.split('/')[-1]}")
    elif roll < 0.7:
        path = rng.choice(service_files)
        n = len(h.commits)
        h.tree[path] += f"\n\ndef _helper_{n}(value):\n    return value\n"
        h.commit(f"Add helper to {path.split('/')[0]}")
    elif roll < 0.85:
        n = len(h.commits)
        h.tree[f"tests/test_extra_{n}.py"] = f"def test_extra_{n}():\n    assert {n} == {n}\n"
        h.commit("Tests: cover an edge case")
    else:
        pr_counter[0] += 1
        path = rng.choice(service_files)
        n = len(h.commits)
        edit1 = {path: h.tree[path] + f"\n\ndef _feature_{n}(value):\n    return [value]\n"}
        edit2 = {"README.md": h.tree["README.md"] + f"\n- feature {n}\n"}
        h.branch_merge([f"Feature {n}", f"Document feature {n}"], [edit1, edit2],
                       pr_counter[0])


def build_history(fault: Fault, rng: random.Random) -> tuple[History, int, int, int]:
    """The history of one case: (history, fault/latent-line commit mark, from mark, to mark)."""
    age_days = rng.choice((60, 200, 500))  # some latent lines older than Sentry's 365 days
    h = History(rng=rng, now=datetime(2025, 9, 1, 9, tzinfo=UTC) - timedelta(days=age_days))
    h.commit("Initial import of the shop services", author=AUTHORS[0], hours=0)
    culprit = 1
    service_files = sorted(p for p in SOURCES if p.count("/") == 1 and
                           not p.startswith("tests") and not p.endswith("__init__.py"))
    protect = {fault.path: fault.old}
    pr_counter = [100 + rng.randrange(300)]
    for _ in range(rng.randint(6, 12)):
        _churn(h, [path_of(h.tree, p) for p in service_files], pr_counter,
               {path_of(h.tree, k): v for k, v in protect.items()})
    if rng.random() < 0.5:  # a refactor: one module renamed, its importers updated
        old = rng.choice(sorted(RENAMES))
        new = RENAMES[old]
        h.tree[new] = h.tree.pop(old)
        mod_old, mod_new = old[:-3].replace("/", "."), new[:-3].replace("/", ".")
        for p, text in list(h.tree.items()):
            if p.endswith(".py"):
                h.tree[p] = text.replace(f"from {mod_old} import", f"from {mod_new} import")
        h.commit(f"Rename {old} to {new}")
    for _ in range(rng.randint(2, 6)):
        _churn(h, [path_of(h.tree, p) for p in service_files], pr_counter,
               {path_of(h.tree, k): v for k, v in protect.items()})
    from_mark = h.head or 1
    fault_path = path_of(h.tree, fault.path)
    in_range = rng.randint(2, 5)
    fault_at = rng.randrange(in_range) if not fault.latent else -1
    confound_at = rng.randrange(in_range)
    for i in range(in_range):
        if i == fault_at:
            text = h.tree[fault_path]
            assert text.count(fault.old) == 1, (fault.name, fault_path)
            h.tree[fault_path] = text.replace(fault.old, fault.new)
            pr_counter[0] += 1
            culprit = h.commit(f"{fault.title} (#{pr_counter[0]})")
        elif i == confound_at and rng.random() < 0.7:
            # A change to the same function (or the same file) that is not the cause.
            fn = fault.function if rng.random() < 0.6 else None
            if rng.random() < 0.5:
                h.tree[fault_path] = _add_tracing(h.tree[fault_path], fault.function)
                h.commit(f"Debug tracing in {fault.function}")
            else:
                h.tree[fault_path] = _insert_comment(
                    rng, h.tree[fault_path], fn, rng.choice(CHURN_WORDS), fault.old)
                h.commit(f"Clarify {fault_path.split('/')[-1]}")
        else:
            _churn(h, [path_of(h.tree, p) for p in service_files], pr_counter,
                   {path_of(h.tree, k): v for k, v in protect.items()})
    return h, culprit, from_mark, h.head or 1


def fast_import(h: History, repo: Path, tags: dict[str, int]) -> dict[int, str]:
    """Write the history into a new repository at `repo`; mark → sha."""
    repo = repo.resolve()  # git runs inside it: relative paths would point elsewhere
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    chunks: list[bytes] = []
    for c in h.commits:
        msg = c.message.encode() + b"\n"
        who = f"{c.author[0]} <{c.author[1]}> {int(c.when.timestamp())} +0000".encode()
        chunks += [b"commit ", c.branch.encode(), b"\nmark :", str(c.mark).encode(),
                   b"\nauthor ", who, b"\ncommitter ", who, b"\ndata ",
                   str(len(msg)).encode(), b"\n", msg]
        if c.parent is not None:
            chunks += [b"from :", str(c.parent).encode(), b"\n"]
        if c.merge is not None:
            chunks += [b"merge :", str(c.merge).encode(), b"\n"]
        chunks.append(b"deleteall\n")
        for path, text in sorted(c.tree.items()):
            data = text.encode()
            chunks += [b"M 100644 inline ", path.encode(), b"\ndata ", str(len(data)).encode(),
                       b"\n", data, b"\n"]
        chunks.append(b"\n")
    for name, mark in tags.items():
        chunks += [b"reset refs/tags/", name.encode(), b"\nfrom :", str(mark).encode(), b"\n\n"]
    marks = repo / ".git" / "nightowl-marks"
    subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"],
                   cwd=repo, input=b"".join(chunks), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, check=True)
    out: dict[int, str] = {}
    for line in marks.read_text().splitlines():
        label, sha = line.split()
        out[int(label[1:])] = sha
    marks.unlink()
    return out


RUNNER = """
import json, sys, traceback
sys.path.insert(0, {repo!r})
try:
    exec(compile({entry!r}, "worker.py", "exec"), {{"__name__": "worker"}})
except Exception as exc:
    frames = []
    for fs in traceback.extract_tb(exc.__traceback__)[1:]:
        frames.append({{"filename": fs.filename, "lineno": fs.lineno, "function": fs.name,
                        "context_line": (fs.line or "")}})
    print(json.dumps({{"type": type(exc).__name__, "value": str(exc), "frames": frames}}))
else:
    print(json.dumps(None))
"""


def capture_error(repo: Path, entry: str) -> dict[str, object] | None:
    """Run the production entry against the checkout; the traceback as Sentry would send it."""
    done = subprocess.run(
        [sys.executable, "-c", RUNNER.format(repo=str(repo.resolve()), entry=entry)],
        capture_output=True, text=True, timeout=60, check=False, cwd=tempfile.gettempdir(),
        env={"PATH": "/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"})
    data = json.loads(done.stdout.strip().splitlines()[-1])
    if data is None:
        return None
    prefix = str(repo.resolve()) + "/"
    frames = []
    for fr in data["frames"]:
        name = str(Path(fr["filename"]).resolve()) if fr["filename"] != "worker.py" else ""
        inside = name.startswith(prefix)
        frames.append({"filename": name[len(prefix):] if inside else fr["filename"],
                       "lineno": fr["lineno"], "function": fr["function"],
                       "in_app": inside, "context_line": fr["context_line"]})
    return {"type": data["type"], "value": data["value"], "frames": frames}


def generate(out: Path, *, seed: int, variants: int = 2) -> list[Path]:
    """Write the suite's case directories under `out` (reused when already there)."""
    faults = [*REGRESSIONS, *LATENT]
    stamp = out / "suite.json"
    expected = {"seed": seed, "variants": variants, "faults": [f.name for f in faults],
                "version": 3}
    if stamp.exists() and json.loads(stamp.read_text()) == expected:
        return sorted(p for p in out.iterdir() if p.is_dir())
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cases = []
    for fault in faults:
        for v in range(variants):
            cases.append(build_case(out, fault, seed=seed, variant=v))
    stamp.write_text(json.dumps(expected))
    return cases


def build_case(out: Path, fault: Fault, *, seed: int, variant: int) -> Path:
    """One case directory under `out`, the same for the same fault, seed and variant."""
    rng = random.Random(f"{seed}:{fault.name}:{variant}")
    h, culprit, from_mark, to_mark = build_history(fault, rng)
    case_id = f"fix-{seed}-{rng.getrandbits(40):010x}"
    directory = out / case_id
    repo = directory / "repo"
    directory.mkdir(parents=True)
    shas = fast_import(h, repo, {"deploy-from": from_mark})
    entry = fault.entry
    for old, new in RENAMES.items():
        if new in h.tree:
            entry = entry.replace(old[:-3].replace("/", "."), new[:-3].replace("/", "."))
    error = capture_error(repo, entry)
    if error is None:
        raise RuntimeError(f"{fault.name} variant {variant}: the entry did not raise")
    if fault.latent:  # the culprit is whoever last wrote the raising line (not whitespace)
        culprit = _author_of(h, path_of(h.tree, fault.path), fault.old)
    first = h.now + timedelta(minutes=rng.randint(5, 90))
    case = {"id": case_id,
            "error": {"title": f"{error['type']}: {error['value']}", "type": error["type"],
                      "value": error["value"], "service": fault.path.split("/")[0],
                      "count": rng.randint(3, 900), "first_seen": first.isoformat(),
                      "last_seen": (first + timedelta(hours=2)).isoformat(),
                      "frames": error["frames"]},
            "deploy": {"service": fault.path.split("/")[0], "from": shas[from_mark],
                       "to": shas[to_mark], "at": h.now.isoformat()},
            "test_command": TEST_COMMAND}
    truth = {"suspect_commits": [shas[culprit]], "files": [path_of(h.tree, fault.path)],
             "kind": "code" if fault.latent else "revert", "fault": fault.name,
             "fault_kind": fault.kind,
             "revert_should_apply": not fault.latent and _reverts_cleanly(repo, shas[culprit])}
    (directory / "case.json").write_text(json.dumps(case, indent=2))
    (directory / "truth.json").write_text(json.dumps(truth, indent=2))
    return directory


def _reverts_cleanly(repo: Path, sha: str) -> bool:
    """Ground truth for the revert score: does undoing the fault alone apply on HEAD?
    (A later change in the range next to the same lines makes it conflict.)"""
    done = subprocess.run(["git", "-c", "user.name=eval", "-c", "user.email=eval@x",
                           "revert", "--no-commit", sha], cwd=repo, capture_output=True,
                          check=False)
    subprocess.run(["git", "revert", "--abort"], cwd=repo, capture_output=True, check=False)
    subprocess.run(["git", "reset", "-q", "--hard", "HEAD"], cwd=repo, check=True)
    return done.returncode == 0


def _author_of(h: History, path: str, line: str) -> int:
    """The first commit whose tree holds `line` in the file's current lineage."""
    originals = {path} | {k for k, v in RENAMES.items() if v == path}
    for c in h.commits:
        if any(line in c.tree.get(p, "") for p in originals) and c.branch.endswith("main"):
            return c.mark
    return 1
