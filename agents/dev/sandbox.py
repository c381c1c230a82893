"""Running a repository's tests (and nothing else) on code nobody has reviewed yet.

A command runs in a git worktree, as a subprocess:
- with no network: inside a new user + network namespace (`unshare -rn`), where only a
  loopback interface that is down exists. Whether `unshare` works here is probed once
  (containers often forbid user namespaces); when it does not, `Sandbox.isolated_network`
  says so and the caller records it, rather than pretending;
- with an environment built from an allow-list (PATH, locale, time zone), so tokens and
  secrets in nightowl's own environment never reach it;
- with limits set in the child before exec (address space, CPU seconds, the largest
  file written) and a wall-clock timeout that kills its whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_ALLOW = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
OUTPUT_TAIL = 4000


@dataclass(frozen=True, slots=True)
class Limits:
    timeout_s: float = 300.0
    memory_mb: int = 2048
    cpu_s: int = 300
    file_mb: int = 256


@dataclass(frozen=True, slots=True)
class SandboxRun:
    command: str
    exit_code: int | None      # None: it could not start, or ran out of time
    output: str                # the last OUTPUT_TAIL characters of stdout + stderr
    timed_out: bool = False
    isolated_network: bool = False


_UNSHARE: bool | None = None


def network_isolation_available() -> bool:
    """Whether `unshare -rn` works on this host (probed once per process)."""
    global _UNSHARE
    if _UNSHARE is None:
        exe = shutil.which("unshare")
        if exe is None:
            _UNSHARE = False
        else:
            try:
                done = subprocess.run([exe, "-rn", "true"], capture_output=True, timeout=10,
                                      check=False)
                _UNSHARE = done.returncode == 0
            except (OSError, subprocess.SubprocessError):
                _UNSHARE = False
    return _UNSHARE


class Sandbox:
    def __init__(self, *, limits: Limits = Limits(), network: bool = False,
                 extra_env: Mapping[str, str] | None = None) -> None:
        self.limits = limits
        self._isolate = not network and network_isolation_available()
        self._extra_env = dict(extra_env or {})

    @property
    def isolated_network(self) -> bool:
        return self._isolate

    def environment(self, home: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ENV_ALLOW}
        # `python` in a test command means the interpreter nightowl runs on (its venv has
        # the test runner), whatever PATH the service was started with.
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
        env.update(HOME=str(home), PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
                   GIT_TERMINAL_PROMPT="0", NO_COLOR="1")
        env.update(self._extra_env)
        return env

    async def run(self, command: str, *, cwd: Path) -> SandboxRun:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            return SandboxRun(command, None, f"cannot parse the command: {exc}")
        if not argv:
            return SandboxRun(command, None, "empty command")
        if self._isolate:
            argv = [shutil.which("unshare") or "unshare", "-rn", "--", *argv]
        home = cwd / ".nightowl-home"
        home.mkdir(exist_ok=True)
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, cwd=str(cwd), env=self.environment(home),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=_limiter(self.limits))
        except OSError as exc:
            shutil.rmtree(home, ignore_errors=True)
            return SandboxRun(command, None, f"cannot start: {exc}",
                              isolated_network=self._isolate)
        timed_out = False
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), self.limits.timeout_s)
        except TimeoutError:
            timed_out = True
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, _ = await proc.communicate()
        finally:
            shutil.rmtree(home, ignore_errors=True)
        text = out.decode("utf-8", "replace")[-OUTPUT_TAIL:]
        return SandboxRun(command, None if timed_out else proc.returncode, text,
                          timed_out=timed_out, isolated_network=self._isolate)


def _limiter(limits: Limits) -> Callable[[], None]:
    def apply() -> None:  # runs in the child between fork and exec: no locks, no logging
        mb = 1024 * 1024
        for res, value in ((resource.RLIMIT_AS, limits.memory_mb * mb),
                           (resource.RLIMIT_CPU, limits.cpu_s),
                           (resource.RLIMIT_FSIZE, limits.file_mb * mb)):
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(res, (value, value))
    return apply
