"""Citation checking: a model's claims survive only when the evidence they cite exists and
is about what they claim.

Used by the SRE agent for its summary and by thread chat for its answers. A claim is dropped
when it carries an instruction, a command, a mention or a link (text it may have copied from
telemetry someone planted, see agents/untrusted.py), when it cites nothing, when none of the
ids it cites exist, when it names a service that none of its evidence is about (every service
it names must be one, but for the alert's own service, the symptom), or when it blames a
service that no test supported.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.sre.report import Claim, Evidence
from agents.untrusted import carried_payload
from integrations.redaction import clip

_CAUSAL = re.compile(r"\b(caus\w*|root cause|because|due to|triggered|responsible|blame\w*|"
                     r"led to|result(ed)? (of|from))\b", re.I)
_ID = re.compile(r"\b(?:ev|q)-\d+\b")  # an investigation's evidence, or a chat answer's


@dataclass(slots=True)
class Checked:
    claims: list[Claim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def text(self) -> str:
        return " ".join(f"{c.text} [{', '.join(c.evidence)}]" for c in self.claims)


def parse_claims(raw: Any) -> tuple[list[Claim], list[str]]:
    """Claims from a model's tool arguments: [{"text": ..., "evidence": ["ev-1"]}, ...].

    Malformed entries are skipped and reported, never fatal."""
    problems: list[str] = []
    if not isinstance(raw, list):
        return [], [f"'claims' is not a list but {type(raw).__name__}"]
    claims: list[Claim] = []
    for index, item in enumerate(raw, 1):
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str):
            problems.append(f"claim {index} is malformed (needs text and evidence)")
            continue
        cited = item.get("evidence", [])
        if isinstance(cited, str):
            cited = _ID.findall(cited)
        if not isinstance(cited, list):
            cited = []
        text = clip(" ".join(item["text"].split()), 600)
        # Ids written inline in the text count too ("… (ev-3)").
        ids = [str(e) for e in cited if isinstance(e, str | int)] + _ID.findall(text)
        text = _ID.sub("", text).replace("()", "").replace("[]", "").strip(" ,;")
        if text:
            claims.append(Claim(text=text, evidence=list(dict.fromkeys(ids))))
    return claims, problems


def check_claims(claims: Sequence[Claim], evidence: Mapping[str, Evidence], *,
                 services: Collection[str], supported: Collection[str],
                 symptoms: Collection[str] = ()) -> Checked:
    """Keep the claims the evidence bears out.

    `services` are the names a claim may mention; `supported` the services some test
    supported (a root cause, or a supported hypothesis): only those may be blamed.
    `symptoms` (the alert's service) may be named without evidence about them: they are
    where the trouble showed, not a cause."""
    checked = Checked()
    names = sorted({s for s in services if s}, key=len, reverse=True)
    for claim in claims:
        short = clip(claim.text, 80)
        payload = carried_payload(claim.text)
        if payload is not None:
            checked.problems.append(f"removed a claim carrying {payload}: \"{short}\"")
            continue
        real = [e for e in claim.evidence if e in evidence]
        invented = [e for e in claim.evidence if e not in evidence]
        if invented:
            checked.problems.append(f"cited evidence that does not exist: {', '.join(invented)}")
        if not claim.evidence:
            checked.problems.append(f"removed an uncited claim: \"{short}\"")
            continue
        if not real:
            checked.problems.append(f"removed a claim citing only invented evidence: \"{short}\"")
            continue
        mentioned = _mentions(claim.text, names)
        about = {evidence[e].service for e in real}
        unbacked = mentioned - about - set(symptoms)
        if unbacked:
            checked.problems.append(
                f"removed a claim about {', '.join(sorted(unbacked))} whose evidence is about "
                f"{', '.join(sorted(s or 'the system' for s in about))}: \"{short}\"")
            continue
        blamed = mentioned - set(supported) - set(symptoms)
        if blamed and _CAUSAL.search(claim.text):
            checked.problems.append(
                f"removed a claim blaming {', '.join(sorted(blamed))}, which no test "
                f"supported: \"{short}\"")
            continue
        checked.claims.append(Claim(text=claim.text, evidence=real))
    return checked


def _mentions(text: str, names: Iterable[str]) -> set[str]:
    found: set[str] = set()
    lowered = text.lower()
    for name in names:
        pattern = r"(?<![\w-])" + re.escape(name.lower()) + r"(?![\w-])"
        if re.search(pattern, lowered) and not any(name in longer for longer in found):
            found.add(name)
    return found
