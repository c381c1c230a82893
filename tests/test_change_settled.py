"""A change is a suspect for the damage that follows it within minutes. One its service ran
clean with for a while before a deeper failure began (a routine deploy ten minutes or more
before an unrelated fault) is a bystander: the deeper failure that began by the time the
damage did explains it. A change that hurt at once still outranks what it broke below."""

from __future__ import annotations

from agents.sre.candidates import Explanation, candidate_at
from agents.sre.rules.thresholds import DEFAULT
from agents.sre.stats import Anomaly
from agents.sre.verdicts import FamilyVerdict

T0 = 1_700_000_000.0


def degraded_from(onset: float) -> FamilyVerdict:
    return FamilyVerdict("payments-api", "errors", "http_5xx_per_second",
                         Anomaly(40.0, 1.0, 20.0, onset, 60), "ev-2")


def judged(change_to_damage_s: float, deeper_begins_s: float) -> bool:
    """Is the deploy at T0 explained away by a deeper failure as strong as the damage?"""
    deploy = Explanation("deploy", 40.0, T0, ["ev-1"])
    damage_at = T0 + change_to_damage_s
    candidate = candidate_at("payments-api", degraded_from(damage_at), [deploy], [],
                             below=[(T0 + deeper_begins_s, 40.0)], depth=1,
                             hypothesis_id="h1", th=DEFAULT)
    assert candidate is not None and candidate.kind == "deploy"
    return candidate.explained


def test_a_deploy_that_ran_clean_for_forty_minutes_is_a_bystander() -> None:
    # The deeper failure began a minute before the damage, forty minutes after the deploy.
    assert judged(40 * 60, 39 * 60)


def test_a_deploy_that_hurt_at_once_outranks_what_it_broke_below() -> None:
    # Damage 30 s after the deploy; the callee failed with it (the deploy's doing).
    assert not judged(30, 20)


def test_a_deeper_failure_that_began_after_the_damage_explains_nothing() -> None:
    assert not judged(40 * 60, 41 * 60)


def test_the_margin_is_a_threshold() -> None:
    assert DEFAULT.change_settled_s == 300.0


def test_off_the_path_a_settled_change_yields_to_what_began_with_the_damage() -> None:
    # Off the call path, the search promotes one cause whose link is unknown, the earliest
    # first: a deploy that ran clean for seven minutes before its service degraded is
    # judged at that degradation, and within the same sample a CPU hog that began with it
    # goes first; a deploy that hurt at once is not settled.
    from agents.sre.candidates import Candidate
    from agents.sre.search import settled

    routine = Candidate(service="fraud-scoring", kind="deploy", score=23.0, onset=T0,
                        degraded_at=T0 + 420)
    sudden = Candidate(service="fraud-scoring", kind="deploy", score=23.0, onset=T0,
                       degraded_at=T0 + 60)
    hog = Candidate(service="settlement-batch", kind="cpu", score=14.0, onset=T0 + 400)
    assert settled(routine, DEFAULT) and not settled(sudden, DEFAULT)
    assert not settled(hog, DEFAULT)
