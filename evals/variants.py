"""Variants of nightowl run beside it on the same cases: a rule left out (`--ablate RULE`) or
a threshold set to another value (`--sweep NAME=V1,V2`), so that what a rule or a value is
worth shows on every suite in one run. `--set NAME=VALUE` changes nightowl itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.sre.rules import BY_NAME, DEFAULT, RULES, Rule, Thresholds, without


@dataclass(frozen=True, slots=True)
class Variant:
    label: str
    rules: tuple[Rule, ...] = RULES
    thresholds: Thresholds = field(default=DEFAULT)


def _values(pairs: list[str], *, flag: str) -> dict[str, list[float]]:
    parsed: dict[str, list[float]] = {}
    for pair in pairs:
        name, _, raw = pair.partition("=")
        try:
            parsed[name.strip()] = [float(x) for x in raw.split(",") if x.strip()]
        except ValueError as exc:
            raise ValueError(f"{flag} {pair!r}: expected NAME=NUMBER[,NUMBER...]") from exc
        if not parsed[name.strip()]:
            raise ValueError(f"{flag} {pair!r}: expected NAME=NUMBER[,NUMBER...]")
    return parsed


def base_thresholds(settings: list[str]) -> Thresholds:
    """nightowl's own thresholds with `--set NAME=VALUE` applied."""
    values = {name: vs[-1] for name, vs in _values(settings, flag="--set").items()}
    return DEFAULT.with_values(values)


def variants(*, ablate: list[str], sweep: list[str], base: Thresholds) -> list[Variant]:
    """The variants to run beside nightowl; `--ablate all` leaves out each rule in turn."""
    names = list(BY_NAME) if "all" in ablate else ablate
    found: list[Variant] = []
    for name in names:
        found.append(Variant(f"-{name}", without([name]), base))
    for name, values in _values(sweep, flag="--sweep").items():
        for value in values:
            found.append(Variant(f"{name}={value:g}", RULES, base.with_values({name: value})))
    return found


def worth(figures: dict[str, dict[str, object]], labels: list[str]) -> str:
    """One line per variant: how much nightowl's accuracy at 1 and 3 and its abstention
    recall exceed the variant's (positive: the rule or the default value helps)."""
    def get(method: str, key: str) -> float:
        value = figures.get(method, {}).get(key)
        return float(value) if isinstance(value, int | float) else 0.0

    lines = []
    for label in labels:
        deltas = [(key, get("nightowl", key) - get(label, key))
                  for key in ("acc@1", "acc@3", "abstention_recall")]
        lines.append(f"  nightowl vs {label}: " + ", ".join(f"{k} {d:+.3f}" for k, d in deltas))
    return "\n".join(["what each variant costs (nightowl minus variant):", *lines]) \
        if lines else ""
