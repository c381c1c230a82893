"""Which repository holds each service's code: `NIGHTOWL_REPOS`.

A JSON object from service name to repository. The short form is `"owner/name"` or
`"owner/name:path/inside"` (a monorepo's directory); the long form is an object that also
switches pull requests off for that repository or runs it in shadow mode:

    {"orders": "acme/orders",
     "web": "acme/mono:services/web",
     "billing": {"repo": "acme/billing", "pull_requests": false},
     "search": {"repo": "acme/search", "shadow": true,
                "test_command": "python -m pytest -x -q"}}

`test_command` runs in the sandbox before and after a revert or fix, so the pull request says
whether the change turned it green.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.errors import ConfigurationError

_NAME = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
VARIABLE = "NIGHTOWL_REPOS"


@dataclass(frozen=True, slots=True)
class RepoTarget:
    service: str
    full_name: str  # owner/name
    path: str = ""  # the service's directory inside the repository ("" = the root)
    pull_requests: bool = True  # False: the repository opted out of nightowl's PRs
    shadow: bool = False  # True: show the change in the thread, open nothing
    test_command: str | None = None  # run before and after a change, in the sandbox


class RepoMap:
    def __init__(self, targets: Mapping[str, RepoTarget]) -> None:
        self.targets = dict(targets)

    def __bool__(self) -> bool:
        return bool(self.targets)

    def for_service(self, service: str) -> RepoTarget | None:
        return self.targets.get(service)

    def by_repo(self, full_name: str) -> list[RepoTarget]:
        return [t for t in self.targets.values() if t.full_name == full_name]

    def repositories(self) -> list[str]:
        return sorted({t.full_name for t in self.targets.values()})


def parse_repos(raw: Mapping[str, Any]) -> RepoMap:
    """Raises ConfigurationError naming the service whose entry is wrong."""
    targets: dict[str, RepoTarget] = {}
    for service, value in raw.items():
        options: dict[str, Any] = {}
        if isinstance(value, str):
            spec = value
        elif isinstance(value, dict) and isinstance(value.get("repo"), str):
            spec = value["repo"]
            options = value
            unknown = set(value) - {"repo", "path", "pull_requests", "shadow", "test_command"}
            if unknown:
                raise ConfigurationError(
                    f"{VARIABLE}: {service}: unknown key(s) {', '.join(sorted(unknown))} "
                    "(known: repo, path, pull_requests, shadow, test_command)")
        else:
            raise ConfigurationError(
                f"{VARIABLE}: {service}: expected \"owner/name\", \"owner/name:path\" or "
                "{\"repo\": \"owner/name\", ...}")
        name, _, path = spec.partition(":")
        path = str(options.get("path", path)).strip("/")
        if not _NAME.match(name):
            raise ConfigurationError(f"{VARIABLE}: {service}: {name!r} is not owner/name")
        targets[service] = RepoTarget(service=service, full_name=name, path=path,
                                      pull_requests=bool(options.get("pull_requests", True)),
                                      shadow=bool(options.get("shadow", False)),
                                      test_command=str(options["test_command"])
                                      if options.get("test_command") else None)
    return RepoMap(targets)
