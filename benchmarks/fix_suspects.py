"""Suspect commits on a repository of 20,000 commits: four in-app frames blamed at the deployed
commit (following renames and moved code), the deployed range's line history over their
functions, and the ranking. The repository is built once with `git fast-import` (200 Python
modules, 1-2 edited per commit, 8 authors, a module renamed along the way); the figure is the
wall time of suspect finding alone (no revert, no tests), best and median of 5 runs."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from agents.dev.suspects import collect, rank, rank_files
from agents.dev.types import DeployRange, ErrorEvent, Frame
from integrations.github.git import Git

COMMITS = 20_000
MODULES = 200
FUNCTIONS = 6
AUTHORS = [f"Dev {i} <dev{i}@bench.test>" for i in range(8)]
HOT = ["app/api.py", "app/service.py", "app/mapper.py", "app/util.py"]  # the frames' files


def _module(rng: random.Random) -> list[str]:
    lines = ['"""generated module"""', ""]
    for f in range(FUNCTIONS):
        lines += ["", f"def f{f}(x, y):"]
        lines += [f"    v{k} = x * {rng.randint(1, 99)} + y" for k in range(6)]
        lines += ["    return v0 + v5", ""]
    return lines


def build(repo: Path, seed: int = 3) -> tuple[str, str]:
    """The repository; (deploy-from sha, deployed sha)."""
    rng = random.Random(seed)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    paths = HOT + [f"pkg{i // 20}/mod{i}.py" for i in range(MODULES - len(HOT))]
    files = {p: _module(rng) for p in paths}
    out: list[bytes] = []
    t0 = 1_600_000_000

    def emit(mark: int, message: str, changed: dict[str, list[str]],
             deleted: tuple[str, ...] = ()) -> None:
        who = f"{rng.choice(AUTHORS)} {t0 + mark * 600} +0000".encode()
        msg = message.encode()
        out.extend([b"commit refs/heads/main\nmark :%d\nauthor %s\ncommitter %s\ndata %d\n"
                    % (mark, who, who, len(msg)), msg, b"\n"])
        for p in deleted:
            out.append(b"D %s\n" % p.encode())
        for p, lines in changed.items():
            data = ("\n".join(lines) + "\n").encode()
            out.extend([b"M 100644 inline %s\ndata %d\n" % (p.encode(), len(data)), data,
                        b"\n"])
        out.append(b"\n")

    emit(1, "initial import", files)
    for mark in range(2, COMMITS + 1):
        changed = {}
        for _ in range(rng.choice((1, 1, 2))):
            p = rng.choice(HOT) if rng.random() < 0.1 else rng.choice(paths)
            lines = files[p]
            body = [i for i, ln in enumerate(lines) if ln.startswith("    v")]
            i = rng.choice(body)
            lines[i] = lines[i].split("+ y")[0] + f"+ y  # {mark}" if rng.random() < 0.3 \
                else f"    v{rng.randint(0, 5)} = x * {rng.randint(1, 99)} + y"
            changed[p] = lines
        if mark == COMMITS // 2:  # a refactor: rename one hot module
            files["app/helpers.py"] = files.pop("app/util.py")
            HOT[3] = "app/helpers.py"
            paths[paths.index("app/util.py")] = "app/helpers.py"
            emit(mark, "rename util to helpers", {"app/helpers.py": files["app/helpers.py"]},
                 deleted=("app/util.py",))
            continue
        emit(mark, f"change {mark}", changed)
    marks = repo / ".git" / "bench-marks"
    subprocess.run(["git", "fast-import", "--quiet", f"--export-marks={marks}"], cwd=repo,
                   input=b"".join(out), check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, check=True)
    shas = dict(line.split() for line in marks.read_text().splitlines())
    return shas[f":{COMMITS - 30}"], shas[f":{COMMITS}"]


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="nightowl-bench-") as tmp:
        repo = Path(tmp) / "repo"
        started = time.perf_counter()
        deploy_from, deployed = build(repo)
        built = time.perf_counter() - started
        graph = time.perf_counter()
        asyncio.run(Git(repo).write_commit_graph())  # what the clone cache does after a fetch
        graph = time.perf_counter() - graph
        count = subprocess.run(["git", "rev-list", "--count", "HEAD"], cwd=repo, check=True,
                               capture_output=True, text=True).stdout.strip()
        frames = tuple(Frame(p, 4 + 10 * k + 3, f"f{k}") for k, p in
                       enumerate(["app/api.py", "app/service.py", "app/mapper.py",
                                  "app/helpers.py"]))
        error = ErrorEvent("ValueError: x", "ValueError", "x", frames=frames)
        deploy = DeployRange(to_sha=deployed, from_sha=deploy_from)

        async def once() -> tuple[float, float, int, str]:
            t = time.perf_counter()
            cpu = _cpu()
            git = await Git.open(repo)
            ev = await collect(git, error, deploy)
            suspects, case = rank(ev)
            rank_files(ev, suspects)
            return time.perf_counter() - t, _cpu() - cpu, len(suspects), case

        runs = [asyncio.run(once()) for _ in range(5)]
        times = [r[0] for r in runs]
        cpus = [r[1] for r in runs]
        print(f"repository: {count} commits, {MODULES} modules (built in {built:.1f}s with "
              f"git fast-import; commit-graph written in {graph:.1f}s)")
        print(f"suspect commits for 4 in-app frames: wall best {min(times):.2f}s, median "
              f"{statistics.median(times):.2f}s (target < 2 s); CPU (git + python) median "
              f"{statistics.median(cpus):.2f}s; {runs[0][2]} suspects, case {runs[0][3]}; "
              f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
