"""What causes are timed against: the alert's effect began at its statistic's own onset when
that statistic is abnormal; judged and found within its normal range, it places nothing, and
the effect is held to the moment the alert fired (None), as `late` and `change_window` hold
an effect that could not be placed."""

from __future__ import annotations

from agents.sre.investigator import effect_onset_of
from agents.sre.stats import Anomaly
from agents.sre.verdicts import FamilyVerdict

T0 = 1_750_000_000.0


def symptom(score: float) -> FamilyVerdict:
    anomaly = Anomaly(score, 0.010, 0.017, T0 + 600 if score >= 3 else None, 20)
    return FamilyVerdict("front", "errors", "errors_per_request", anomaly, "")


def test_an_abnormal_statistic_dates_the_effect() -> None:
    assert effect_onset_of(symptom(9.0), T0 + 300) == T0 + 600


def test_a_statistic_within_its_range_places_nothing() -> None:
    # A threshold crossed by a drift (z=2.4): an episode traced on the same series, minutes
    # before the fault, must not refute a cause that began after it.
    assert effect_onset_of(symptom(2.4), T0 + 300) is None


def test_the_services_own_lines_still_date_a_quiet_alert() -> None:
    assert effect_onset_of(symptom(2.4), T0 + 300, from_lines=True) == T0 + 300


def test_with_no_verdict_the_traced_episode_stands() -> None:
    assert effect_onset_of(None, T0 + 300) == T0 + 300
    unjudged = FamilyVerdict("front", "errors", "errors_per_request", None, "")
    assert effect_onset_of(unjudged, T0 + 300) == T0 + 300
