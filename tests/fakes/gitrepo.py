"""Small real git repositories for the Dev agent's tests: a service with a history
(several authors, a deploy range that introduces a regression), CODEOWNERS and a CI file."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

AUTHORS = {"carol": "carol@example.com", "dave": "dave@example.com", "erin": "erin@example.com"}


def run_git(cwd: Path, *args: str, author: str = "carol", date: str | None = None) -> str:
    email = AUTHORS.get(author, f"{author}@example.com")
    env = {**os.environ, "GIT_AUTHOR_NAME": author.title(), "GIT_AUTHOR_EMAIL": email,
           "GIT_COMMITTER_NAME": author.title(), "GIT_COMMITTER_EMAIL": email,
           "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(cwd)}
    if date:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = date
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit(cwd: Path, files: dict[str, str | None], message: str, *, author: str = "carol",
           date: str | None = None) -> str:
    for name, text in files.items():
        path = cwd / name
        if text is None:
            run_git(cwd, "rm", "-q", name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        run_git(cwd, "add", name)
    run_git(cwd, "commit", "-q", "-m", message, author=author, date=date)
    return run_git(cwd, "rev-parse", "HEAD")


MAPPER_V1 = '''def to_dto(order):
    return {"id": order["id"], "total": order["total"]}
'''
MAPPER_V2 = '''def to_dto(order):
    return {"id": order["order_id"], "total": order["total"]}
'''
TEST = '''from orders.mapper import to_dto


def test_to_dto():
    assert to_dto({"id": 1, "total": 3})["id"] == 1
'''


# The search service's Kubernetes manifest lives in the same repository (a small monorepo):
# what a resource bump edits. The sidecar's resources must stay as they are.
SEARCH_MANIFEST = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: search
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: search
          image: "shop/search:2.1"
          resources:
            requests:
              cpu: 200m
              memory: 256Mi
            limits:
              memory: 512Mi   # sized in January
        - name: envoy
          image: "envoyproxy/envoy:v1.30"
          resources:
            limits: {memory: 128Mi}
"""


@dataclass
class ServiceRepo:
    path: Path
    base: str  # the commit deployed before
    bad: str  # the regression, inside the deployed range
    head: str  # the deployed commit


def orders_repo(path: Path) -> ServiceRepo:
    """`orders`: a mapper, its test, CODEOWNERS, a CI workflow; the deploy base..head holds a
    commit by dave that renames the key the mapper reads (the regression) and one unrelated."""
    path.mkdir(parents=True)
    run_git(path, "init", "-q", "-b", "main")
    commit(path, {"orders/__init__.py": "", "orders/mapper.py": MAPPER_V1,
                  "tests/test_mapper.py": TEST,
                  ".github/CODEOWNERS": "* @acme/platform\norders/ @carol @acme/orders-team\n",
                  ".github/workflows/ci.yml": "on: push\njobs: {}\n",
                  "deploy/search.yaml": SEARCH_MANIFEST,
                  "README.md": "orders\n"}, "orders service", author="carol",
           date="2026-01-05T10:00:00Z")
    base = commit(path, {"README.md": "orders service\n"}, "docs", author="erin",
                  date="2026-01-06T10:00:00Z")
    bad = commit(path, {"orders/mapper.py": MAPPER_V2}, "Read order_id from the new schema",
                 author="dave", date="2026-01-07T10:00:00Z")
    head = commit(path, {"docs/notes.md": "notes\n"}, "notes", author="erin",
                  date="2026-01-07T11:00:00Z")
    return ServiceRepo(path, base, bad, head)


def revert_diff(repo: ServiceRepo) -> str:
    """The diff that reverts the regression (what the engine's revert produces)."""
    return run_git(repo.path, "diff", repo.bad, f"{repo.bad}^", "--", ".") + "\n"
