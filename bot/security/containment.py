"""Containment: nothing runs without a person's approval, and by default nothing runs at all.

A `ContainmentExecutor` is an action integration (an IAM client that disables a key, an
identity provider that suspends a user). None ships configured: an approval is then
recorded and the steps are spelled out for a person to carry out. The target in those steps
comes from event data, so it is shell-quoted and shown as code, never run.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

Action = Mapping[str, Any]


class ContainmentExecutor(Protocol):
    """An action integration. `execute` runs only after an approval was stored."""

    name: str

    def supports(self, action: Action, *, log_type: str) -> bool: ...

    async def execute(self, action: Action, *, log_type: str) -> str:
        """Do it; return one line saying what was done. Raise to report a failure."""
        ...


def pick_executor(executors: Sequence[ContainmentExecutor], action: Action, *,
                  log_type: str) -> ContainmentExecutor | None:
    for executor in executors:
        if executor.supports(action, log_type=log_type):
            return executor
    return None


def manual_steps(action: Action, *, log_type: str) -> list[str]:
    """How a person does `action` by hand, for the platforms nightowl reads events from."""
    what = str(action.get("action", "")).lower()
    target = str(action.get("target", "")).strip()
    quoted = shlex.quote(target) if target else "<target>"
    aws = log_type.startswith("AWS") or not log_type
    if "access key" in what and aws:
        return [f"aws iam list-access-keys --user-name <user owning {quoted}>",
                f"aws iam update-access-key --access-key-id {quoted} --status Inactive "
                "--user-name <that user>",
                "Rotate whatever legitimately used the key before deleting it."]
    if "session" in what and log_type.startswith("Okta"):
        return [f"Okta Admin → Directory → People → {quoted} → More Actions → Clear User "
                "Sessions",
                f"or: DELETE /api/v1/users/{quoted}/sessions (Okta API)"]
    if "session" in what and aws:
        return [f"IAM → Roles/Users → {quoted} → Revoke active sessions (adds a deny for "
                "tokens issued before now)",
                "or attach the AWSRevokeOlderSessions inline policy to the role."]
    if ("suspend" in what or "disable user" in what) and log_type.startswith("Okta"):
        return [f"POST /api/v1/users/{quoted}/lifecycle/suspend (Okta API)",
                "Clear the user's sessions as well."]
    if ("suspend" in what or "disable user" in what) and log_type.startswith(("GSuite", "GCP")):
        return [f"Admin console → Users → {quoted} → Suspend user",
                "Reset sign-in cookies for the user as well."]
    if ("suspend" in what or "remove" in what) and log_type.startswith("GitHub"):
        return [f"Organization settings → People → {quoted} → Remove from organization "
                "(or convert to outside collaborator)",
                "Revoke the user's personal access tokens and SSH keys authorised for the org."]
    if "token" in what or "secret" in what or "credential" in what:
        return [f"Revoke {quoted} at its issuer and issue a replacement to its owner.",
                "Search recent activity by that credential before closing the case."]
    return [f"{action.get('action', 'Act')} on {quoted} in the system that owns it.",
            "Record what was done in this thread."]
