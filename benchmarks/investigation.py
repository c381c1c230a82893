"""Investigation speed and memory on a 50-service, 2-hour scenario with logs and traces.

Each run is a fresh `nightowl investigate DIR --json` process, so the figures include loading
the scenario from disk; memory is the process's peak resident set size.
Target: under 2 s median, under 300 MB.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.synthetic import generate_case

RUNS = 7


# Runs the CLI and reports the process's own high-water mark on exit. Not getrusage: on Linux
# a child's ru_maxrss starts at its parent's RSS at fork (and survives exec), so after the
# other benchmarks it reported the runner's size; VmHWM belongs to the new process alone.
PEAK_WRAPPER = """
import atexit, runpy, sys
def peak():
    with open("/proc/self/status") as status:
        sys.stderr.write(next(l for l in status if l.startswith("VmHWM:")))
atexit.register(peak)
sys.argv = ["nightowl", *sys.argv[1:]]
runpy.run_module("bot.cli", run_name="__main__")
"""


def _run(arguments: list[str], cwd: Path) -> tuple[str, int, float]:
    """One `nightowl` process: its stdout, its peak RSS in KiB and the CPU seconds it used
    (user + system: on a machine shared with other work, wall time measures the neighbours
    too). It runs in `cwd`, where it keeps its log-template state
    (`.nightowl/templates.json`), as a deployment would."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *arguments],
                         capture_output=True, text=True, check=True, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    line = next(x for x in out.stderr.splitlines() if x.startswith("VmHWM:"))
    return out.stdout, int(line.split()[1]), cpu


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        case = generate_case(2026, 3, "cpu", Path(tmp) / "case", services=50, window_min=120,
                             traces=400)
        rows = sum(1 for _ in (case / "metrics.csv").open()) - 1
        logs = sum(1 for _ in (case / "logs.jsonl").open())
        spans = sum(1 for _ in (case / "traces.jsonl").open())
        print(f"scenario: 50 services, 120 min, {rows} metric samples, {logs} log lines, "
              f"{spans} spans")
        walls, peaks, inner, cpus = [], [], [], []
        for _ in range(RUNS):
            started = time.perf_counter()
            # The statistical engine alone: a configured model would time the provider.
            stdout, peak, cpu = _run(["--log-level", "ERROR", "investigate", str(case),
                                      "--json", "--no-model"], Path(tmp))
            cpus.append(cpu)
            walls.append(time.perf_counter() - started)
            peaks.append(peak)
            report = json.loads(stdout)
            inner.append(report["stats"]["elapsed_s"])
        truth = json.loads((case / "truth.json").read_text())["root_cause"]
        top = report["root_causes"][0] if report["root_causes"] else {}
        print(f"process wall time (start, load, investigate, print): median "
              f"{statistics.median(walls):.2f}s, max {max(walls):.2f}s over {RUNS} runs")
        print(f"process CPU time (user + system): median {statistics.median(cpus):.2f}s; "
              f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"investigation alone: median {statistics.median(inner):.3f}s, "
              f"{report['stats']['queries']} queries")
        print(f"peak RSS: {max(peaks) / 1024:.0f} MB (target: median under 2 s, under 300 MB)")
        print(f"answer: {top.get('service')} / {top.get('kind')} "
              f"(truth {truth['service']} / {truth['kind']})")


if __name__ == "__main__":
    main()
