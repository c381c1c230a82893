"""Each causal rule on a hand-built link: it refutes what it is about and lets the rest stand.

Links are built from real series and verdicts (the same `SeriesView` the investigator reads),
not from stand-ins for our own code."""

from __future__ import annotations

import numpy as np
import pytest

from agents.sre.rules import BY_NAME, DEFAULT, RULES, Link, Thresholds, Timing, judge, without
from agents.sre.rules.link import Cause, Role
from agents.sre.series import SeriesView
from agents.sre.stats import Anomaly
from agents.sre.traces import SpanVerdict
from agents.sre.verdicts import FamilyVerdict, LogVerdict, ServiceProfile
from integrations.telemetry.base import ChangeEvent, MetricsResult, QueryInfo, Series

STEP = 60.0
T0 = 1_750_000_000.0
N = 120
SPLIT = T0 + 90 * STEP
FIRED = T0 + 103 * STEP


def at(i: float) -> float:
    return T0 + i * STEP


def verdict(service: str, family: str, *, score: float, baseline: float = 1.0,
            peak: float = 2.0, onset: float | None = at(100), metric: str = "",
            since: float | None = None, persistence: float = 1.0) -> FamilyVerdict:
    anomaly = Anomaly(score, baseline, peak, onset if score >= 3 else None, 20,
                      persistence=persistence, since=since)
    return FamilyVerdict(service, family, metric or f"{family}_avg", anomaly, "")


def view(*series: tuple[str, str, np.ndarray]) -> SeriesView:
    v = SeriesView(split=SPLIT, window_start=T0)
    t = T0 + STEP * np.arange(N)
    for service, metric, values in series:
        v.metrics.setdefault(service, MetricsResult(QueryInfo("q"))).series.append(
            Series(service, metric, t, values.astype(float)))
    return v


def link(cause: Cause, *, kind: str = "dependency", role: Role = "dependency",
         effect: FamilyVerdict | None = None, effect_onset: float | None = at(100),
         series: SeriesView | None = None, th: Thresholds = DEFAULT, **extra: object) -> Link:
    return Link(kind=kind, role=role, cause=cause, effect=effect, effect_onset=effect_onset,
                series=series or view(), timing=Timing(FIRED, SPLIT, 120.0, 90.0),
                thresholds=th, effect_label="front latency", **extra)  # type: ignore[arg-type]


def noisy(level: float, seed: int) -> np.ndarray:
    return level * (1 + np.random.default_rng(seed).normal(0, 0.02, N))


# ---- timing -------------------------------------------------------------------------------

def test_late_refutes_a_cause_that_began_after_its_effect() -> None:
    late = BY_NAME["late"]
    assert late.check(link(verdict("db", "latency", score=9, onset=at(103)))) is not None
    assert late.check(link(verdict("db", "latency", score=9, onset=at(101)))) is None


def test_late_holds_a_cause_to_the_alert_when_the_effect_has_no_onset() -> None:
    # The alert's statistic never moved (no onset): its cause still began before it fired.
    late = BY_NAME["late"]
    after = verdict("front", "traffic", score=9, onset=at(110))
    for role in ("local", "widened"):
        assert late.check(link(after, kind="traffic", role=role, effect_onset=None)) is not None
    before = verdict("front", "traffic", score=9, onset=at(102))
    assert late.check(link(before, kind="traffic", role="local", effect_onset=None)) is None
    logs = LogVerdict("db", 8.0, at(112), 1, 40, "boom", 1, "")
    assert late.check(link(logs, kind="code_error", role="local", effect_onset=None))


def test_late_gives_error_logs_the_clock_skew() -> None:
    logs = LogVerdict("db", 8.0, at(103), 1, 40, "boom", 1, "")
    assert BY_NAME["late"].check(link(logs, kind="code_error", role="local")) is None
    logs.onset = at(106)
    assert BY_NAME["late"].check(link(logs, kind="code_error", role="local")) is not None


def test_a_change_must_fall_in_the_window_before_the_symptom() -> None:
    window = BY_NAME["change_window"]
    recent = ChangeEvent(at(90), "db", "deploy", "v2")
    old = ChangeEvent(at(40), "db", "deploy", "v1")
    assert window.check(link(recent, kind="deploy", role="local")) is None
    assert window.check(link(old, kind="deploy", role="local")) is not None
    # The alert's statistic never moved (no onset): the lookback runs back from the alert.
    assert window.check(link(recent, kind="deploy", role="local", effect_onset=None)) is None
    assert window.check(link(old, kind="deploy", role="local", effect_onset=None)) is not None


# ---- magnitude ----------------------------------------------------------------------------

def test_latency_share_refutes_a_dependency_that_added_a_sliver() -> None:
    effect = verdict("front", "latency", score=30, baseline=100, peak=1100)
    small = verdict("db", "latency", score=30, baseline=10, peak=20)
    big = verdict("db", "latency", score=30, baseline=10, peak=400)
    rule = BY_NAME["latency_share"]
    assert rule.check(link(small, effect=effect)) is not None
    assert rule.check(link(big, effect=effect)) is None


def test_latency_share_compares_rises_in_seconds_across_units() -> None:
    # A database's p99 in milliseconds under its caller's in seconds: +300 ms is most of a
    # +0.4 s slowdown, and +30 ms under +4 s is a sliver, whatever the raw numbers say.
    rule = BY_NAME["latency_share"]
    caller = verdict("front", "latency", score=30, baseline=0.1, peak=0.5,
                     metric="http_server_requests_p99_seconds")
    db = verdict("db", "latency", score=30, baseline=20, peak=320, metric="db_query_p99_ms")
    assert rule.check(link(db, effect=caller)) is None
    slow = verdict("front", "latency", score=30, baseline=0.1, peak=4.1,
                   metric="http_server_requests_p99_seconds")
    sliver = verdict("db", "latency", score=30, baseline=20, peak=50, metric="db_query_p99_ms")
    refuted = rule.check(link(sliver, effect=slow))
    assert refuted is not None and "+0.03 s against +4 s" in refuted.reason
    # Seconds against milliseconds, both said: a raw reading would call +0.3 s a sliver.
    called = verdict("db", "latency", score=30, baseline=0.02, peak=0.32,
                     metric="grpc_server_handling_seconds_p99")
    front_ms = verdict("front", "latency", score=30, baseline=100, peak=500,
                       metric="request_latency_p99_ms")
    assert rule.check(link(called, effect=front_ms)) is None


def test_latency_share_leaves_units_it_cannot_compare_to_the_other_rules() -> None:
    # Envoy's `rq_time` is in milliseconds but does not say so: against a gRPC handler's
    # seconds, +0.59 against +568 is no evidence either way.
    rule = BY_NAME["latency_share"]
    envoy = verdict("edge", "latency", score=30, baseline=217, peak=785,
                    metric="envoy_http_downstream_rq_time_p99")
    grpc = verdict("ads", "latency", score=30, baseline=0.218, peak=0.808,
                   metric="grpc_server_handling_seconds_p99")
    assert rule.check(link(grpc, effect=envoy)) is None
    # Neither says: one exporter's convention, compared as recorded (as before).
    quiet = verdict("ads", "latency", score=30, baseline=0.218, peak=0.808,
                    metric="rpc_server_duration_p99")
    assert rule.check(link(quiet, effect=envoy)) is not None


def test_faint_link_refutes_a_wobble_below_a_violent_failure() -> None:
    effect = verdict("front", "errors", score=200)
    rule = BY_NAME["faint_link"]
    assert rule.check(link(verdict("db", "latency", score=3.5), effect=effect)) is not None
    assert rule.check(link(verdict("db", "latency", score=80), effect=effect)) is None


def test_traffic_share_refutes_a_dependency_serving_a_sliver() -> None:
    series = view(("front", "requests", np.full(N, 1000.0)),
                  ("lb", "requests", np.full(N, 3.0)),
                  ("db", "requests", np.full(N, 800.0)))
    series.profiles["front"] = ServiceProfile(
        "front", families={"throughput": verdict("front", "throughput", score=0,
                                                 metric="requests")})
    rule = BY_NAME["traffic_share"]
    assert rule.check(link(verdict("lb", "errors", score=50), series=series,
                           effect_service="front")) is not None
    assert rule.check(link(verdict("db", "errors", score=50), series=series,
                           effect_service="front")) is None


def test_faint_surge_needs_comparable_strength_or_a_doubling() -> None:
    effect = verdict("front", "latency", score=200)
    rule = BY_NAME["faint_surge"]
    faint = verdict("front", "throughput", score=4, baseline=100, peak=130)
    doubled = verdict("front", "throughput", score=4, baseline=100, peak=250)
    drifting = verdict("front", "throughput", score=6, baseline=100, peak=130)  # load drift
    loud = verdict("front", "throughput", score=12, baseline=100, peak=160)
    assert rule.check(link(faint, kind="traffic", role="local", effect=effect)) is not None
    assert rule.check(link(drifting, kind="traffic", role="local", effect=effect)) is not None
    assert rule.check(link(loud, kind="traffic", role="local", effect=effect)) is None
    assert rule.check(link(doubled, kind="traffic", role="local", effect=effect)) is None


def test_nothing_to_explain_refutes_a_resource_behind_an_effect_that_did_not_move() -> None:
    rule = BY_NAME["nothing_to_explain"]
    calm = verdict("front", "latency", score=1.2)
    cpu = verdict("front", "cpu", score=9)
    series = view()
    series.profiles["front"] = ServiceProfile("front", families={"latency": calm, "cpu": cpu})
    refuted = rule.check(link(cpu, kind="cpu", role="local", effect=calm, series=series,
                              effect_service="front"))
    assert refuted is not None and "nothing to explain" in refuted.reason
    # A surge's damage lands downstream; an effect that moved needs explaining.
    surge = verdict("front", "throughput", score=9)
    assert rule.check(link(surge, kind="traffic", role="local", effect=calm, series=series,
                           effect_service="front")) is None
    slow = verdict("front", "latency", score=12)
    assert rule.check(link(cpu, kind="cpu", role="local", effect=slow, series=series,
                           effect_service="front")) is None
    # Failing on a sibling signal (errors behind a latency alert): something to explain.
    series.profiles["front"].families["errors"] = verdict("front", "errors", score=30)
    assert rule.check(link(cpu, kind="cpu", role="local", effect=calm, series=series,
                           effect_service="front")) is None


def test_log_surge_needs_a_surging_pattern() -> None:
    rule = BY_NAME["log_surge"]
    assert rule.check(link(LogVerdict("db", 1.0, at(99), 5, 6, "x", 0, ""), kind="code_error",
                           role="local")) is not None
    assert rule.check(link(LogVerdict("db", 9.0, at(99), 5, 60, "x", 1, ""), kind="code_error",
                           role="local")) is None


def test_blames_another_refutes_error_lines_that_name_a_dependency() -> None:
    rule = BY_NAME["blames_another"]
    caller = LogVerdict("front", 60.0, at(99), 0, 900, "error calling <*> failed", 1, "",
                        blamed=("user", "orders"), blame_share=0.9)
    refuted = rule.check(link(caller, kind="code_error", role="local"))
    assert refuted is not None and "user" in refuted.reason
    own = LogVerdict("user", 60.0, at(99), 0, 900, "panic: nil pointer", 1, "",
                     blamed=("payment",), blame_share=0.05)
    assert rule.check(link(own, kind="code_error", role="local")) is None
    assert rule.check(link(caller, kind="code_error", role="widened")) is not None


def test_blame_names_services_as_whole_tokens() -> None:
    from agents.sre.log_lines import blame
    from integrations.telemetry.base import LogLine

    def lines(*messages: str) -> list[LogLine]:
        return [LogLine(T0, "front", "error", m, {}) for m in messages]

    others = {"user", "orders", "ts-order-service"}
    named, share = blame(lines("error calling user: user failed",
                               "GET http://orders.default.svc:80/orders 503",
                               "username must not be empty",
                               "POST /api/v1/ts-order-service/order timed out",
                               "user timed out"), others)
    assert named == (("user", 2), ("orders", 1), ("ts-order-service", 1))
    assert share == 0.8
    assert blame(lines("username must not be empty"), others) == ((), 0.0)


def test_an_sql_clients_words_name_the_writers_database() -> None:
    from agents.sre.log_lines import blame
    from integrations.telemetry.base import LogLine

    def lines(*messages: str) -> list[LogLine]:
        return [LogLine(T0, "profile", "error", m, {}) for m in messages]

    pool = lines("HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                 "canceling statement due to statement timeout",
                 "NullPointerException at ProfileMapper.java:42")
    callees = {"profiles-mysql", "rider-memcached"}
    assert blame(pool, callees, store="profiles-mysql") == ((("profiles-mysql", 2),), 2 / 3)
    # Without one SQL database to name (none, or several), they name nothing.
    assert blame(pool, callees) == ((), 0.0)


def test_a_failed_name_lookup_names_no_one() -> None:
    from agents.sre.log_lines import blame
    from integrations.telemetry.base import LogLine

    def lines(*messages: str) -> list[LogLine]:
        return [LogLine(T0, "eta", "error", m, {}) for m in messages]

    # The host in a failed lookup was never reached: the writer's resolver is what failed.
    lookups = lines("dial tcp: lookup maps.googleapis.com on 10.96.0.10:53: read udp "
                    "10.0.1.7:41234->10.96.0.10:53: i/o timeout",
                    "getaddrinfo EAI_AGAIN maps.googleapis.com",
                    "java.net.UnknownHostException: maps.googleapis.com: Temporary failure "
                    "in name resolution")
    assert blame(lookups, {"maps.googleapis.com", "rider-memcached"}) == ((), 0.0)
    # A host that answered, and failed, is named as before.
    answered = lines("maps.googleapis.com: read timeout after 5000ms; circuit half-open")
    assert blame(answered, {"maps.googleapis.com"}) == ((("maps.googleapis.com", 1),), 1.0)


# ---- load ---------------------------------------------------------------------------------

def test_coping_refutes_load_already_borne_before_the_damage() -> None:
    requests = noisy(100, 1)
    requests[80:] = noisy(150, 2)[80:]       # out of range long before the damage
    surge = verdict("front", "throughput", score=20, baseline=100, peak=155,
                    metric="requests", onset=at(80))
    series = view(("front", "requests", requests))
    rule = BY_NAME["coping"]
    assert rule.check(link(surge, kind="traffic", role="local", series=series,
                           damage_at=at(100))) is not None
    fresh = noisy(100, 1)
    fresh[100:] = noisy(300, 2)[100:]        # the surge is what arrived with the damage
    series = view(("front", "requests", fresh))
    assert rule.check(link(verdict("front", "throughput", score=50, baseline=100, peak=300,
                                   metric="requests"), kind="traffic", role="local",
                           series=series, damage_at=at(100))) is None


def test_coping_lets_a_climb_to_a_knee_stand() -> None:
    # Load climbing for ten minutes reaches the service's capacity: one sample before the
    # damage it was nearly as high, but it had only just got there. Not load it had borne.
    climb = noisy(100, 1)
    climb[90:] = np.linspace(100, 330, N - 90)
    surge = verdict("front", "throughput", score=30, baseline=100, peak=330,
                    metric="requests", onset=at(92))
    series = view(("front", "requests", climb))
    rule = BY_NAME["coping"]
    assert rule.check(link(surge, kind="traffic", role="local", series=series,
                           damage_at=at(100))) is None
    # Borne at that level for twenty minutes before the damage: coping, as before.
    held = noisy(100, 1)
    held[78:] = noisy(180, 3)[78:]
    held[100:] = noisy(190, 4)[100:]
    assert rule.check(link(verdict("front", "throughput", score=30, baseline=100, peak=195,
                                   metric="requests", onset=at(78)), kind="traffic",
                           role="local", series=view(("front", "requests", held)),
                           damage_at=at(100))) is not None


def test_coping_lets_load_that_just_climbed_to_a_new_high_stand() -> None:
    # Load that climbed for three minutes to a level the service had never carried, and
    # held it as the damage arrived: already abnormal one sample before and no worse after,
    # yet never borne at that level. A knee, not a condition the service had lived with.
    def ramp(start: int, top: int) -> np.ndarray:
        values = noisy(100, 1)
        values[start:top] = np.linspace(100, 150, top - start)
        values[top:] = noisy(150, 2)[top:]
        return values

    surge = verdict("front", "throughput", score=25, baseline=100, peak=152,
                    metric="requests", onset=at(97))
    rule = BY_NAME["coping"]
    assert rule.check(link(surge, kind="traffic", role="local",
                           series=view(("front", "requests", ramp(96, 99))),
                           damage_at=at(100))) is None
    # The same level reached twenty minutes before the damage and held: standing load.
    assert rule.check(link(surge, kind="traffic", role="local",
                           series=view(("front", "requests", ramp(60, 63))),
                           damage_at=at(100))) is not None


def test_load_lull_refutes_a_surge_gone_while_the_damage_stays() -> None:
    requests, latency = noisy(100, 1), noisy(50, 2)
    requests[100:103] = 300                  # one burst of requests...
    latency[100:] = 400                      # ...and a slowdown that outlives it
    series = view(("front", "requests", requests), ("front", "latency_avg", latency))
    surge = verdict("front", "throughput", score=40, baseline=100, peak=300, metric="requests")
    effect = verdict("front", "latency", score=90, baseline=50, peak=400)
    rule = BY_NAME["load_lull"]
    assert rule.check(link(surge, kind="traffic", role="local", effect=effect, series=series,
                           damage_at=at(100))) is not None
    requests[100:] = 300                     # load that lasts as long as the damage
    series = view(("front", "requests", requests), ("front", "latency_avg", latency))
    assert rule.check(link(surge, kind="traffic", role="local", effect=effect, series=series,
                           damage_at=at(100))) is None


def test_carries_needs_a_caller_surge_of_comparable_size() -> None:
    rule = BY_NAME["carries"]
    callee = verdict("api", "throughput", score=50, baseline=100, peak=300, metric="requests")
    small = verdict("front", "throughput", score=5, baseline=100, peak=120, metric="requests")
    big = verdict("front", "throughput", score=50, baseline=100, peak=280, metric="requests")
    front, api = noisy(100, 1), noisy(100, 2)
    front[100:], api[100:] = 120, 300        # measured as steps alike, too: 20% against 200%
    series = view(("front", "requests", front), ("api", "requests", api))
    assert rule.check(link(small, kind="traffic", role="origin", effect=callee,
                           series=series)) is not None
    assert rule.check(link(big, kind="traffic", role="origin", effect=callee,
                           series=series)) is None


def test_rising_refutes_traffic_that_fell() -> None:
    rule = BY_NAME["rising"]
    fell = verdict("front", "throughput", score=20, baseline=100, peak=30)
    rose = verdict("front", "throughput", score=20, baseline=100, peak=300)
    assert rule.check(link(fell, kind="traffic", role="local")) is not None
    assert rule.check(link(rose, kind="traffic", role="local")) is None


def test_cpu_with_load_refutes_cpu_that_followed_its_requests() -> None:
    rule = BY_NAME["cpu_with_load"]
    requests, cpu = noisy(100, 1), noisy(0.5, 2)
    requests[95:], cpu[95:] = noisy(180, 3)[95:], noisy(0.9, 4)[95:]  # both 1.8x: the load
    series = view(("api", "requests", requests), ("api", "cpu_avg", cpu))
    busy = verdict("api", "cpu", score=40, baseline=0.5, peak=0.9, onset=at(95))
    series.profiles["api"] = ServiceProfile("api", families={"throughput": verdict(
        "api", "throughput", score=40, baseline=100, peak=180, metric="requests")})
    refuted = rule.check(link(busy, kind="cpu", role="local", series=series))
    assert refuted is not None and "per request" in refuted.reason
    # A hog: CPU tripled while the requests stayed where they were.
    hog = noisy(0.5, 2)
    hog[95:] = noisy(1.5, 4)[95:]
    series = view(("api", "requests", noisy(100, 1)), ("api", "cpu_avg", hog))
    series.profiles["api"] = ServiceProfile("api", families={"throughput": verdict(
        "api", "throughput", score=1, baseline=100, peak=102, metric="requests")})
    assert rule.check(link(verdict("api", "cpu", score=60, baseline=0.5, peak=1.5,
                                   onset=at(95)), kind="cpu", role="local",
                           series=series)) is None
    # No request metric to divide by: the other rules judge it.
    assert rule.check(link(busy, kind="cpu", role="local",
                           series=view(("api", "cpu_avg", cpu)))) is None


# ---- persistence --------------------------------------------------------------------------

def test_normal_refutes_a_cause_within_its_range() -> None:
    rule = BY_NAME["normal"]
    assert rule.check(link(verdict("db", "cpu", score=1.2), kind="cpu", role="local")) \
        is not None
    assert rule.check(link(verdict("db", "cpu", score=12), kind="cpu", role="local")) is None


def test_standing_refutes_a_dependency_already_as_bad_before() -> None:
    latency = noisy(20, 3)
    latency[60:] = 60                        # bad since long before the caller suffered
    series = view(("db", "latency_avg", latency))
    old = verdict("db", "latency", score=40, baseline=20, peak=60, onset=at(60))
    rule = BY_NAME["standing"]
    assert rule.check(link(old, series=series)) is not None
    fresh = noisy(20, 3)
    fresh[99:] = 60
    series = view(("db", "latency_avg", fresh))
    assert rule.check(link(verdict("db", "latency", score=40, baseline=20, peak=60,
                                   onset=at(99)), series=series)) is None


def test_standing_waits_for_a_call_graph_to_judge_a_cause_off_the_path() -> None:
    # Off the path, "one sample before" assumes a direct call; with no call graph the hops
    # between a cause and the alert are unknown, each adding its own lag.
    errors = noisy(0.01, 4)
    errors[96:] = 0.2                        # four samples before the alert's service
    series = view(("db", "errors_avg", errors))
    early = verdict("db", "errors", score=200, baseline=0.01, peak=0.2, onset=at(97))
    rule = BY_NAME["standing"]
    assert rule.check(link(early, kind="errors", role="widened", series=series)) is not None
    assert rule.check(link(early, kind="errors", role="widened", series=series,
                           charted=False)) is None


def test_transient_refutes_a_blip_whoever_proposed_it() -> None:
    # A blip at a service whose latency stays bad does not explain it, whether the catalogue,
    # a model or the widened search proposed it: the lasting degradation stays the lead.
    rule = BY_NAME["transient"]
    blip = verdict("db", "cpu", score=9, persistence=0.2)
    for role in ("local", "dependency", "widened", "model"):
        assert rule.check(link(blip, kind="cpu", role=role)) is not None
    # Where a surge entered is the same surge seen upstream, measured as a step: not a cause
    # of its own whose brevity matters.
    assert rule.check(link(blip, kind="traffic", role="origin")) is None
    lasting = verdict("db", "cpu", score=9, persistence=0.8)
    assert rule.check(link(lasting, kind="cpu", role="local")) is None
    # A ten-minute load test: the front's slowness was as brief as the surge behind it.
    brief = verdict("front", "latency", score=9, persistence=0.2)
    assert rule.check(link(blip, kind="traffic", role="local", effect=brief)) is None


# ---- direction ----------------------------------------------------------------------------

def test_upstream_refutes_a_callers_symptoms_not_its_load() -> None:
    rule = BY_NAME["upstream"]
    errors = verdict("orders", "errors", score=40)
    logs = LogVerdict("orders", 30.0, at(99), 0, 80, "pool exhausted", 1, "")
    for cause, kind in ((errors, "errors"), (logs, "code_error")):
        assert rule.check(link(cause, kind=kind, role="widened", upstream=True,
                               effect_service="postgres")) is not None
        assert rule.check(link(cause, kind=kind, role="widened", upstream=False)) is None
    surge = verdict("orders", "throughput", score=40)
    assert rule.check(link(surge, kind="traffic", role="widened", upstream=True)) is None


async def test_an_alert_on_the_database_names_the_database(tmp_path: object) -> None:
    """The services whose connection pools ran dry behind a slow database call it: their
    errors are loud, began with it and would otherwise rank first off the path."""
    from pathlib import Path

    from tests.test_search_v2 import FAULT, investigate, noisy, write
    db_lat, orders_err, front_err = noisy(5, 1), noisy(0.01, 2), noisy(0.01, 3)
    db_lat[FAULT:] *= 8
    orders_err[FAULT:] += 0.5
    front_err[FAULT + 1:] += 0.3
    report = await investigate(write(
        Path(str(tmp_path)) / "c",
        {("postgres", "latency_ms"): db_lat, ("postgres", "cpu_usage"): noisy(30, 4),
         ("orders", "error_rate"): orders_err, ("front", "error_rate"): front_err},
        edges=[("front", "orders"), ("orders", "postgres")], alert="postgres"))
    assert report.root_causes[0].service == "postgres"


# ---- the structure ------------------------------------------------------------------------

def test_rules_are_named_once_and_documented() -> None:
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    assert all(r.doc for r in RULES)


def test_judge_returns_the_first_refutation_and_ablation_removes_a_rule() -> None:
    cause = verdict("db", "latency", score=1.0)  # normal, and late (no onset)
    refuted = judge(link(cause), RULES)
    assert refuted is not None and refuted.rule == "normal"
    refuted = judge(link(cause), without(["normal"]))
    assert refuted is not None and refuted.rule == "late"
    with pytest.raises(ValueError, match="unknown rule"):
        without(["no_such_rule"])


def test_thresholds_are_one_value_that_can_be_swept() -> None:
    effect = verdict("front", "latency", score=30, baseline=100, peak=1100)
    cause = verdict("db", "latency", score=30, baseline=10, peak=60)  # +50 against +1000
    assert judge(link(cause, effect=effect), RULES) is not None
    loose = DEFAULT.with_values({"min_latency_share": 0.01})
    assert judge(link(cause, effect=effect, th=loose), RULES) is None
    with pytest.raises(ValueError, match="unknown threshold"):
        DEFAULT.with_values({"nope": 1.0})


# ---- traces -------------------------------------------------------------------------------

def spans_of(service: str, *, failed_after: int, after: int = 10) -> SpanVerdict:
    rate = 1 / 42
    z = (failed_after / after - rate) / (rate * (1 - rate) / after) ** 0.5
    return SpanVerdict(service, 40, after, 0, failed_after, z, 0.0, "", at(99))


def test_span_change_needs_spans_that_changed() -> None:
    rule = BY_NAME["span_change"]
    assert rule.check(link(spans_of("db", failed_after=0), kind="code_error",
                           role="local")) is not None
    assert rule.check(link(spans_of("db", failed_after=5), kind="code_error",
                           role="local")) is None


def test_a_code_fault_needs_healthy_children() -> None:
    rule = BY_NAME["healthy_children"]
    cause = spans_of("api", failed_after=5)
    sick = spans_of("db", failed_after=6)
    well = spans_of("db", failed_after=0)
    assert rule.check(link(cause, kind="code_error", role="local", children=(sick,))) \
        is not None
    assert rule.check(link(cause, kind="code_error", role="local", children=(well,))) is None


async def test_leaving_out_any_rule_never_crashes_an_investigation(tmp_path: object) -> None:
    """An ablation changes answers, never the contract: a rule left out may let through a
    cause with a negative score (a log pattern that fell), which the ranking must take."""
    from pathlib import Path

    from agents.sre.context import AlertContext
    from agents.sre.investigator import Investigator
    from integrations.telemetry.scenario import ScenarioSource

    scenario = Path(__file__).parents[1] / "bot" / "demo" / "scenarios" / "frontend-latency"
    source = ScenarioSource(scenario)
    for name in ("log_surge", "late", "normal"):
        report = await Investigator(source, rules=without([name])).investigate(
            AlertContext.from_case(source.case))
        assert report.contract()["root_causes"] is not None


def test_rules_travel_to_eval_worker_processes() -> None:
    # `nightowl eval --jobs N --ablate RULE` sends rule tuples to other processes.
    import pickle

    from agents.sre.rules import RULES
    assert pickle.loads(pickle.dumps(RULES)) == RULES
