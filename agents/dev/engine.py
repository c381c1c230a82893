"""The Dev agent's engine: one error and its code in, suspects and a remediation out.

    case with `resources` (pods OOM-killed or throttled) → the manifest's bump (manifests)
    case → blame the frames at the deployed commit (suspects.collect)
         → rank suspect commits and files (suspects.rank, rank_files)
         → remediation: a revert of the deploy's suspect commits when the top suspect is new
           code; otherwise a model-written fix when a model is configured (codefix); else none

Nothing here raises on bad input: an unusable repository, a frame outside it or a range that
does not exist ends up in `FixResult.notes`, and the result says it abstained when nothing
could be blamed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from agents.dev.revert import propose_revert
from agents.dev.sandbox import Limits, Sandbox
from agents.dev.suspects import DEFAULT_WEIGHTS, Weights, collect, rank, rank_files
from agents.dev.types import FixCase, FixResult, Remediation
from integrations.github.errors import GitError
from integrations.github.git import Git
from integrations.llm.base import ModelClient

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FixOptions:
    weights: Weights = DEFAULT_WEIGHTS
    limits: Limits = field(default_factory=Limits)
    remediate: bool = True          # False: suspects and files only (fast, read-only)
    workdir: Path | None = None     # where throwaway worktrees go (default: the system tmp)


async def run_fix(case: FixCase, *, model: ModelClient | None = None,
                  options: FixOptions = FixOptions()) -> FixResult:
    started = time.perf_counter()
    try:
        git = await Git.open(case.repo)
    except GitError as exc:
        return FixResult(abstained=True, notes=(f"repository unusable: {exc}",),
                         remediation=Remediation(message="no repository"),
                         elapsed_s=time.perf_counter() - started)
    if case.resources is not None:
        # Pods ran out of memory or CPU: the remediation is the container's `resources:`
        # in the repository's manifest or Helm values, at the deployed commit.
        from agents.dev.manifests import resource_bump_in

        rev = case.deploy.to_sha if case.deploy is not None else "HEAD"
        result = await resource_bump_in(git, rev, case.resources)
        return replace(result, elapsed_s=time.perf_counter() - started)
    try:
        ev = await collect(git, case.error, case.deploy, weights=options.weights)
    except GitError as exc:
        return FixResult(abstained=True, notes=(f"git failed: {exc}",),
                         remediation=Remediation(message="git failed"),
                         elapsed_s=time.perf_counter() - started)
    suspects, which = rank(ev, weights=options.weights)
    files = rank_files(ev, suspects, weights=options.weights)
    notes = list(ev.notes)
    llm_calls = 0
    remediation = Remediation(message="remediation not requested")
    if options.remediate:
        sandbox = Sandbox(limits=options.limits)
        if not suspects:
            remediation = Remediation(message="nothing could be blamed: no remediation")
        elif which == "new_code":
            try:
                remediation = await propose_revert(git, ev.deployed, suspects,
                                                   test_command=case.test_command,
                                                   sandbox=sandbox, workdir=options.workdir)
            except GitError as exc:
                remediation = Remediation(message=f"revert failed: {exc}")
        elif which == "unknown":
            remediation = Remediation(message="no deploy range: nothing to revert; a model "
                                              "can propose a verified code fix")
        else:
            remediation = Remediation(message=(
                "the suspect predates the deploy (old code meeting new input): a revert "
                "would not help; a model can propose a verified code fix"))
        conflicted = which == "new_code" and remediation.kind == "none" and remediation.files
        if model is not None and files and (which != "new_code" or conflicted):
            # Old code, or a revert that conflicts: a verified code fix is the way left.
            from agents.dev.codefix import propose_code_fix

            if conflicted:
                notes.append(remediation.message)
            outcome = await propose_code_fix(git, ev.deployed, case, files, model=model,
                                             sandbox=sandbox, workdir=options.workdir)
            remediation, llm_calls = outcome.remediation, outcome.llm_calls
            notes.extend(outcome.notes)
    result = FixResult(suspects=tuple(suspects), files=tuple(files), remediation=remediation,
                       abstained=not suspects, case=which, notes=tuple(notes),
                       llm_calls=llm_calls)
    return replace(result, elapsed_s=time.perf_counter() - started)
