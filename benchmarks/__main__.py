"""`python -m benchmarks [name ...]`: run the benchmarks and print their figures."""

from __future__ import annotations

import importlib
import sys

# Imported one at a time, when run: each benchmark's memory figure then reflects what it
# loads, not every other benchmark's dependencies.
BENCHMARKS = (
    "alert_storm",
    "investigation",
    "error_scan",
    "context",
    "triage",
    "api",
    "fix_suspects",
    "security_scan",
    "dev_pr",
    "fuzz",
    "big_delivery",
    "temporal",
)

if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if not a.isdigit()] or list(BENCHMARKS)
    unknown = [name for name in names if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    for name in names:
        print(f"== {name}")
        importlib.import_module(f"benchmarks.{name}").main()
        print()
