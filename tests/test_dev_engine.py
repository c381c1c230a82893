"""The Dev agent's engine on real git repositories made in tmp dirs: git adapter, suspect
ranking, reverts, the sandbox and `nightowl fix`."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from agents.dev.engine import FixOptions, run_fix
from agents.dev.revert import propose_revert
from agents.dev.sandbox import Limits, Sandbox, network_isolation_available
from agents.dev.suspects import _binds, _function_span, _locate, collect, rank
from agents.dev.types import CaseError, DeployRange, ErrorEvent, FixCase, Frame, SuspectCommit
from bot.cli import main as cli_main
from evals.fix.generate import build_case
from evals.fix.services import LATENT, REGRESSIONS
from integrations.github.errors import (
    MissingFile,
    NotARepository,
    RevertConflict,
    ShallowClone,
    UnknownRevision,
)
from integrations.github.git import CloneCache, Git

FAULTS = {f.name: f for f in (*REGRESSIONS, *LATENT)}


def sh(repo: Path, *args: str, when: int = 1_700_000_000, who: str = "Ann") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": who, "GIT_AUTHOR_EMAIL": f"{who}@x.test",
           "GIT_COMMITTER_NAME": who, "GIT_COMMITTER_EMAIL": f"{who}@x.test",
           "GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str, **kw: object) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    sh(repo, "add", "-A")
    sh(repo, "commit", "-q", "-m", message, **kw)  # type: ignore[arg-type]
    return sh(repo, "rev-parse", "HEAD")


async def test_blame_follows_a_rename_and_names_bad_input(repo: Path, tmp_path: Path) -> None:
    first = commit(repo, {"app/util.py": "def f(x):\n    return x['id']\n"}, "add util",
                   who="Ann")
    sh(repo, "mv", "app/util.py", "app/helpers.py")
    moved = commit(repo, {}, "rename util", who="Bob", when=1_700_000_100)
    git = await Git.open(repo)
    [line] = await git.blame(moved, "app/helpers.py", [(2, 2)])
    assert (line.commit, line.orig_path, line.author) == (first, "app/util.py", "Ann")
    assert [c.sha for c in await git.log_follow(moved, "app/helpers.py")] == [moved, first]
    assert [c.sha for c in await git.range_commits(first, moved)] == [moved]
    with pytest.raises(MissingFile):
        await git.blame(moved, "app/util.py", [(1, 1)])
    with pytest.raises(UnknownRevision):
        await git.range_commits("0" * 40, moved)
    with pytest.raises(NotARepository):
        await Git.open(tmp_path)
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{repo}", str(shallow)],
                   check=True)
    with pytest.raises(ShallowClone):
        await (await Git.open(shallow)).resolve(first)


async def test_blame_traces_code_moved_into_a_new_module(repo: Path) -> None:
    body = ("def alpha_function(value):\n    return value * 1000 + compute_large(value)\n\n\n"
            "def beta_function(value):\n    return value * 2000 + compute_other_thing(value)\n")
    first = commit(repo, {"x.py": body}, "add both", who="Ann")
    move = commit(repo, {"x.py": body.split("\n\n\n")[0] + "\n",
                         "y.py": body.split("\n\n\n")[1]}, "move beta", who="Bob",
                  when=1_700_000_100)
    git = await Git.open(repo)
    lines = await git.blame(move, "y.py", [(1, 2)])
    assert [(b.commit, b.orig_path, b.orig_line) for b in lines] == [
        (first, "x.py", 5), (first, "x.py", 6)]
    plain = await git.blame(move, "y.py", [(1, 2)], copies=False)
    assert {b.commit for b in plain} == {move}


async def test_clone_cache_clones_once_then_fetches(repo: Path, tmp_path: Path) -> None:
    commit(repo, {"a.py": "x = 1\n"}, "one")
    cache = CloneCache(tmp_path / "cache")
    clone = await cache.get(str(repo), name="shop/app")
    second = commit(repo, {"a.py": "x = 2\n"}, "two", when=1_700_000_500)
    again = await cache.get(str(repo), name="shop/app")
    assert again.path == clone.path and (clone.path / "HEAD").exists()
    assert await again.resolve("main") == second


async def test_revert_conflict_lists_the_files(repo: Path, tmp_path: Path) -> None:
    base = commit(repo, {"a.py": "x = 1\n"}, "one")
    bad = commit(repo, {"a.py": "x = 2\n"}, "two")
    commit(repo, {"a.py": "x = 3\n"}, "three")
    git = await Git.open(repo)
    tree = await git.worktree_add(tmp_path / "wt", "HEAD")
    with pytest.raises(RevertConflict) as info:
        await git.revert(tree, [bad])
    assert info.value.files == ("a.py",)
    await git.worktree_remove(tree)
    suspect = SuspectCommit(bad, "Ann", "two", 0.9, "why", in_range=True)
    rem = await propose_revert(git, await git.resolve("HEAD"), [suspect], test_command=None,
                               sandbox=Sandbox())
    assert rem.kind == "none" and rem.files == ("a.py",) and "a.py" in rem.message
    assert base != bad and not (tmp_path / "wt").exists()


def test_function_span_and_frame_paths() -> None:
    text = "import x\n\n\n@dec\ndef f(a):\n    def g():\n        return 1\n    return g()\n"
    assert _function_span(text, Frame("m.py", 7, "g"), 6) == (6, 7)
    assert _function_span(text, Frame("m.py", 8, "f"), 6) == (4, 8)
    assert _function_span("x = (\n", Frame("m.py", 9, "f"), 6) == (3, 11)
    listing = ["svc/orders/api.py", "svc/orders/mapper.py", "other/mapper.py"]
    assert _locate("/app/orders/api.py", listing) == "svc/orders/api.py"
    assert _locate("orders/mapper.py", listing) == "svc/orders/mapper.py"
    assert _locate("mapper.py", listing) is None  # ambiguous
    assert _locate("site-packages/requests/api.py", listing) is None


async def test_deleted_guard_in_range_beats_the_old_raising_line(repo: Path) -> None:
    old = commit(repo, {"m.py": "def f(d):\n    if d is None:\n        return 0\n"
                                "    return d['n'] + 1\n"}, "add f", who="Ann")
    commit(repo, {"README": "x\n"}, "docs", when=1_700_000_100)
    deployed_from = sh(repo, "rev-parse", "HEAD")
    bad = commit(repo, {"m.py": "def f(d):\n    return d['n'] + 1\n"}, "simplify f",
                 who="Bob", when=1_700_000_200)
    noise = commit(repo, {"m.py": "def f(d):\n    # n is never missing\n    return d['n'] + 1"
                                  "\n"}, "comment f", who="Cy", when=1_700_000_300)
    error = ErrorEvent("TypeError", "TypeError", "not subscriptable",
                       frames=(Frame("m.py", 3, "f"),))
    ev = await collect(await Git.open(repo), error, DeployRange(noise, deployed_from))
    suspects, case = rank(ev)
    assert [s.commit for s in suspects[:2]] == [bad, old] and case == "new_code"
    assert suspects[0].in_range and not suspects[1].in_range


def test_a_line_above_counts_when_it_binds_what_the_raising_line_reads() -> None:
    assert _binds('    qty = line.get("quantity")') == {"qty"}
    assert _binds("    a, b = split(x)") == {"a", "b"}
    assert _binds("    total += item") == {"total"}
    assert _binds("    for item in usage:") == {"item"}
    assert _binds("    if TRACE:") == set() and _binds("    x == y") == set()


async def test_tracing_added_above_does_not_outrank_the_old_raising_line(repo: Path) -> None:
    old = commit(repo, {"m.py": "def f(d):\n    return d['n'] + 1\n"}, "add f")
    trace = commit(repo, {"m.py": "TRACE = False\n\n\ndef f(d):\n    if TRACE:\n"
                                  "        print('f')\n    return d['n'] + 1\n"},
                   "debug tracing", who="Bob", when=1_700_000_100)
    error = ErrorEvent("TypeError", "TypeError", "x", frames=(Frame("m.py", 7, "f"),))
    ev = await collect(await Git.open(repo), error, DeployRange(trace, old))
    suspects, case = rank(ev)
    assert suspects[0].commit == old and case == "old_code"
    assert suspects[1].commit == trace and suspects[1].in_range


def test_generated_regression_fix_cli_json(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    directory = build_case(tmp_path, FAULTS["orders-discount-guard"], seed=5, variant=0)
    truth = json.loads((directory / "truth.json").read_text())
    assert cli_main(["fix", str(directory), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"suspects", "files", "remediation", "abstained", "stats"}
    assert set(out["suspects"][0]) >= {"commit", "author", "title", "score", "why"}
    assert out["suspects"][0]["commit"] == truth["suspect_commits"][0]
    assert out["files"][0]["path"] == truth["files"][0]
    rem = out["remediation"]
    assert rem["kind"] == "revert" and rem["branch"].startswith("nightowl/")
    assert rem["verified"]["before_exit"] != 0 and rem["verified"]["after_exit"] == 0
    assert "-    if percent is None:" not in rem["diff"] and "+    if percent is None:" \
        in rem["diff"]
    assert out["case"] == "new_code" and not out["abstained"]


async def test_latent_fault_is_old_code_and_bad_input_is_named(tmp_path: Path) -> None:
    directory = build_case(tmp_path, FAULTS["inventory-unknown-sku"], seed=5, variant=1)
    truth = json.loads((directory / "truth.json").read_text())
    case = FixCase.load(directory)
    result = await run_fix(case, options=FixOptions(remediate=False))
    assert result.suspects[0].commit == truth["suspect_commits"][0]
    assert result.case == "old_code" and result.suspects[0].in_range is False
    broken = FixCase(id="x", repo=case.repo, deploy=DeployRange("f" * 40, "e" * 40),
                     error=ErrorEvent("E", "E", "v", frames=(Frame("nope/gone.py", 3, "f"),
                                                              *case.error.frames)))
    result = await run_fix(broken, options=FixOptions(remediate=False))
    joined = " ".join(result.notes)
    assert "nope/gone.py:3: file not in the repository" in joined
    assert "deployed commit unusable" in joined and result.suspects
    missing = await run_fix(FixCase(id="y", repo=tmp_path / "none", error=case.error))
    assert missing.abstained and "repository unusable" in missing.notes[0]
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "case.json").write_text("{\"error\": 3}")
    with pytest.raises(CaseError, match="missing 'error'"):
        FixCase.load(tmp_path / "bad")


async def test_sandbox_has_no_network_and_no_tokens(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secretsecretsecret")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]

    def accept_once() -> None:
        # The sandbox must never connect; when the test closes the socket, accept() ends.
        with contextlib.suppress(OSError):
            server.accept()[0].close()

    threading.Thread(target=accept_once, daemon=True).start()
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os, socket, sys\n"
        "leaked = [k for k in os.environ if 'TOKEN' in k or 'KEY' in k]\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
        "    net = 'reached'\n"
        "except OSError:\n"
        "    net = 'blocked'\n"
        "print(net, leaked)\n")
    sandbox = Sandbox(limits=Limits(timeout_s=20))
    run = await sandbox.run(f"{sys.executable} probe.py", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert "[]" in run.output  # no token or key variable reached the child
    if network_isolation_available():
        assert sandbox.isolated_network and "blocked" in run.output
    else:
        pytest.skip("unshare -rn is not permitted here: network isolation unavailable")
    slow = await Sandbox(limits=Limits(timeout_s=1)).run(
        f"{sys.executable} -c 'import time; time.sleep(30)'", cwd=tmp_path)
    assert slow.timed_out and slow.exit_code is None
    server.close()
