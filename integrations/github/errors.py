"""Errors of the git and GitHub adapters.

    IntegrationError (integrations/errors.py)
    └── GitError              a git command failed; `.stderr` holds git's own words
        ├── NotARepository    the directory is not a git repository
        ├── UnknownRevision   a commit or range does not exist in the repository
        ├── MissingFile       a path does not exist at the given commit
        ├── ShallowClone      history needed for the answer is cut off by a shallow clone
        ├── RevertConflict    `git revert` stopped on conflicts; `.files` lists them
        └── GitTimeout        a git command ran past its time limit

Each message names the repository, the revision or path and what to do; callers turn them
into notes in a result, never into a traceback.
"""

from __future__ import annotations

from integrations.errors import IntegrationError


class GitError(IntegrationError):
    """A git command failed."""

    def __init__(self, message: str, *, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class NotARepository(GitError):
    """The directory is not a git repository (or does not exist)."""


class UnknownRevision(GitError):
    """A commit, branch or range end is not in the repository."""


class MissingFile(GitError):
    """The file does not exist at that commit (renamed away, deleted, or never there)."""


class ShallowClone(GitError):
    """The clone is shallow and the history needed is missing; fetch with --unshallow."""


class RevertConflict(GitError):
    """The revert does not apply cleanly; `files` are the conflicting paths."""

    def __init__(self, message: str, *, files: tuple[str, ...]) -> None:
        super().__init__(message)
        self.files = files


class GitTimeout(GitError):
    """A git command did not finish in time."""
