"""`python -m benchmarks [name ...]`: run the benchmarks and print their figures."""

from __future__ import annotations

import sys

from benchmarks import alert_storm, context, error_scan, investigation

BENCHMARKS = {"alert_storm": alert_storm.main, "investigation": investigation.main,
              "error_scan": error_scan.main, "context": context.main}

if __name__ == "__main__":
    names = sys.argv[1:] or list(BENCHMARKS)
    for name in names:
        print(f"== {name}")
        BENCHMARKS[name]()
        print()
