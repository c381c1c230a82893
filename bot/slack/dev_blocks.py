"""Block Kit for the Dev agent: suspect commits, the remediation, and the Open PR buttons."""

from __future__ import annotations

from typing import Any

from agents.dev.flow import Offer
from bot.slack.blocks import _clip, _mrkdwn, _plain, slack_date
from storage.models import FixProposal

Block = dict[str, Any]
BUTTONS = {"revert": ("Open revert PR", "Open a draft revert pull request?"),
           "code": ("Open fix PR", "Open a draft fix pull request?"),
           "resource": ("Open resource PR", "Open a draft resource pull request?")}
CASE = {"new_code": "The suspect shipped in the deploy (new code).",
        "old_code": "The blamed lines predate the deploy: old code meeting new input.",
        "unknown": ""}


def offer_blocks(row: FixProposal, offer: Offer, *, html_base: str) -> tuple[str, list[Block]]:
    repo_url = f"{html_base.rstrip('/')}/{offer.repository}"
    blocks: list[Block] = []
    if offer.remediation.kind == "resource" and offer.actions:
        return _resource_blocks(row, offer, repo_url)
    if row.fingerprint.startswith("resources:"):  # resources ran out, nothing to change
        text = f"🛠️ No resource change proposed in `{offer.repository}`."
        lines = [text, offer.remediation.message[:400]] + [f"• _{n[:200]}_"
                                                          for n in offer.notes[:4]]
        return text, [{"type": "section", "text": _mrkdwn("\n".join(x for x in lines if x))}]
    if not offer.suspects:
        text = f"🛠️ No suspect commit in `{offer.repository}` for this error."
        blocks.append({"type": "section", "text": _mrkdwn(
            text + (f"\n{offer.remediation.message}" if offer.remediation.message else ""))})
        return text, blocks
    head = f"🛠️ *Suspect commits* in <{repo_url}|{offer.repository}>"
    if CASE.get(offer.case):
        head += f" — {CASE[offer.case]}"
    lines = [head]
    for s in offer.suspects[:3]:
        link = f"<{repo_url}/commit/{s.commit}|`{s.commit[:7]}`>"
        pr = f" · <{repo_url}/pull/{s.pr}|#{s.pr}>" if s.pr else ""
        when = f" · {slack_date(s.when)}" if s.when else ""
        lines.append(f"• {link} {s.title[:80]} — {s.author}{pr}{when}\n"
                     f"   _{s.why[:200]}_ (score {s.score:.2f})")
    if offer.files:
        shown = ", ".join(f"`{f.path}:{f.line}`" for f in offer.files[:3])
        lines.append(f"Files: {shown}")
    blocks.append({"type": "section", "text": _mrkdwn("\n".join(lines))})
    r = offer.remediation
    detail: list[str] = []
    if r.verified is not None:
        detail.append(f"`{r.verified.command[:80]}`: exit {r.verified.before_exit} before, "
                      f"{r.verified.after_exit} after")
    if r.message:
        detail.append(r.message[:300])
    if r.kind == "code" and "code" not in offer.actions and r.diff.strip():
        detail.append("Suggested change (not verified, so no pull request):")
        blocks.append({"type": "section", "text": _mrkdwn("\n".join(detail))})
        blocks.append({"type": "section", "text": _mrkdwn(f"```{_clip(r.diff, 2800)}```")})
        detail = []
    if detail:
        blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(detail))]})
    blocks += _buttons(row, offer)
    return f"Suspect commits in {offer.repository}", blocks


def _resource_blocks(row: FixProposal, offer: Offer, repo_url: str
                     ) -> tuple[str, list[Block]]:
    """Pods ran out of memory or CPU and the repository holds their manifest: the change
    to the container's `resources:` and the button that opens it as a draft."""
    r = offer.remediation
    where = ", ".join(f"`{f}`" for f in r.files[:2]) or "the manifest"
    text = f"🛠️ Resource change proposed in {offer.repository}"
    lines = [f"🛠️ *Resource change* in <{repo_url}|{offer.repository}> ({where})",
             r.message[:400]]
    lines += [f"• _{n[:200]}_" for n in offer.notes[:4]]
    blocks: list[Block] = [{"type": "section", "text": _mrkdwn("\n".join(lines))}]
    if r.diff.strip():
        blocks.append({"type": "section", "text": _mrkdwn(f"```{_clip(r.diff, 2000)}```")})
    return text, blocks + _buttons(row, offer)


def _buttons(row: FixProposal, offer: Offer) -> list[Block]:
    if not offer.actions:
        return []
    buttons = []
    for action in offer.actions:
        label, question = BUTTONS[action]
        if offer.shadow:
            label = label.replace("Open", "Preview") + " (shadow)"
        buttons.append({
            "type": "button", "action_id": f"dev_open_{action}", "value": str(row.id),
            "style": "primary", "text": _plain(label),
            "confirm": {"title": _plain(question),
                        "text": _mrkdwn(f"A *draft* on a `nightowl/` branch of "
                                        f"`{offer.repository}`; nightowl never merges it."),
                        "confirm": _plain("Open draft"), "deny": _plain("Cancel")}})
    return [{"type": "actions", "block_id": f"dev:{row.id}", "elements": buttons}]


def say_blocks(text: str, *, diff: str | None = None) -> list[Block]:
    blocks: list[Block] = [{"type": "section", "text": _mrkdwn(text)}]
    if diff:
        blocks.append({"type": "section", "text": _mrkdwn(f"```{_clip(diff, 2800)}```")})
    return blocks
