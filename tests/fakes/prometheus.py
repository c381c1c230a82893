"""A real Prometheus (the Debian package) on loopback, with history backfilled by promtool.

Tests describe the series as OpenMetrics text (exporter-shaped: node_exporter, cAdvisor,
kube-state-metrics, histograms...); `backfilled` turns it into TSDB blocks and serves them.
`config` adds scrape jobs and rule files for tests where an alert must really fire.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tests.conftest import require_binary
from tests.fakes.process import free_port, ready_process

QUIET = {"global": {"scrape_interval": "1h"}}  # nothing scraped: the backfill alone


@contextmanager
def backfilled(root: Path, history: str, *, config: dict[str, Any] | None = None
               ) -> Iterator[str]:
    """Prometheus over `history` (OpenMetrics ending in `# EOF`); yields its base URL."""
    binary = require_binary("prometheus")
    promtool = require_binary("promtool")
    data = root / "data"
    (root / "history.om").write_text(history)
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics",
                    str(root / "history.om"), str(data)], check=True, capture_output=True,
                   timeout=120)
    (root / "prometheus.yml").write_text(json.dumps(config or QUIET))  # YAML ⊃ JSON
    port = free_port()
    command = [binary, f"--config.file={root / 'prometheus.yml'}",
               f"--storage.tsdb.path={data}", f"--web.listen-address=127.0.0.1:{port}",
               "--storage.tsdb.retention.time=30d"]
    with ready_process(command, f"http://127.0.0.1:{port}") as url:
        yield url
