"""The investigator's rules of evidence, each on a small hand-built incident whose answer is
known: like-for-like statistics, standing conditions (of dependencies and of load),
corroboration, co-movement, and causes behind a hop too noisy to confirm them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from agents.sre.report import Report
from integrations.telemetry.scenario import ScenarioSource

STEP = 60.0
T0 = 1_750_000_000.0
N = 120                  # two hours of one-minute samples
FAULT = 100              # the fault begins at sample 100
FIRED = T0 + STEP * 103


def _series(level: float, seed: int, *, sigma: float = 0.02) -> np.ndarray:
    return level * (1 + np.random.default_rng(seed).normal(0, sigma, N))


def write_case(path: Path, metrics: dict[tuple[str, str], np.ndarray],
               edges: list[tuple[str, str]], *, alert: str = "front",
               metric: str = "latency_avg", signal: str = "latency",
               step: float = STEP) -> Path:
    path.mkdir(parents=True)
    rows = ["timestamp,service,metric,value"]
    for (service, name), values in metrics.items():
        rows += [f"{T0 + step * i:.0f},{service},{name},{v:.6g}"
                 for i, v in enumerate(values) if np.isfinite(v)]
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    (path / "case.json").write_text(json.dumps({
        "id": "case", "window": {"start": T0, "end": T0 + step * (N - 1)},
        "alert": {"name": "Slow", "service": alert, "signal": signal, "metric": metric,
                  "fired_at": T0 + step * (FIRED - T0) / STEP,
                  "summary": f"{metric} of {alert}"},
        "topology": [{"caller": a, "callee": b} for a, b in edges]}))
    return path


async def investigate(path: Path) -> Report:
    source = ScenarioSource(path)
    return await Investigator(source).investigate(AlertContext.from_case(source.case))


def statuses(report: Report, service: str) -> list[tuple[str, str]]:
    return [(h.status, h.reason or "") for h in report.hypotheses
            if h.service == service and h.kind == "dependency"]


async def test_a_standing_condition_does_not_explain_a_new_degradation(tmp_path: Path) -> None:
    front = _series(100, 1)
    front[FAULT:] += 80
    culprit = _series(20, 2)
    culprit[FAULT:] += 80                  # got worse exactly when the caller did
    standing = _series(30, 3)
    standing[FAULT - 8:] += 300            # was already this bad eight minutes earlier
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("culprit", "latency_avg"): culprit,
        ("standing", "latency_avg"): standing,
    }, [("front", "culprit"), ("front", "standing")])
    report = await investigate(case)
    assert report.root_causes[0].service == "culprit"
    [(status, reason)] = statuses(report, "standing")
    assert status == "refuted" and "already this abnormal" in reason


async def test_the_alerts_statistic_is_compared_like_with_like(tmp_path: Path) -> None:
    front = _series(100, 1)
    front[FAULT:] += 60
    noisy_tail = _series(20, 2)
    tail = _series(40, 3)
    tail[FAULT:] *= 12                     # its p99 went wild, its average did not move
    slow = _series(20, 4)
    slow[FAULT:] += 60
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front,
        ("tails", "latency_avg"): noisy_tail, ("tails", "latency_p99"): tail,
        ("slow", "latency_avg"): slow, ("slow", "latency_p99"): _series(80, 5) + 0.0,
    }, [("front", "tails"), ("front", "slow")])
    report = await investigate(case)
    assert report.root_causes[0].service == "slow"
    assert all(status != "supported" for status, _ in statuses(report, "tails"))


def balancer_case(path: Path, name: str, other: np.ndarray,
                  edge: tuple[str, str]) -> Path:
    """front calls "search" (which fails) and "a-lb", the load balancer in front of it as
    front sees it, a leaf that degrades a little more; plus one more service and edge."""
    front, search, lb = _series(100, 1), _series(30, 2), _series(30, 3)
    front[FAULT:] += 50
    search[FAULT:] += 45
    lb[FAULT:] += 55
    return write_case(path, {
        ("front", "latency_avg"): front, ("search", "latency_avg"): search,
        ("a-lb", "latency_avg"): lb, (name, "latency_avg"): other,
    }, [("front", "search"), ("front", "a-lb"), edge])


async def test_a_failure_seen_by_every_caller_beats_one_view_of_it(tmp_path: Path) -> None:
    # "lister" also calls search, and suffers too.
    lister = _series(50, 4)
    lister[FAULT:] += 45
    report = await investigate(balancer_case(tmp_path / "case", "lister", lister,
                                             ("lister", "search")))
    assert [c.service for c in report.root_causes[:2]] == ["search", "a-lb"]


async def test_a_bystander_that_does_not_move_with_its_caller_is_discounted(
        tmp_path: Path) -> None:
    front = _series(100, 1)
    front[FAULT:] += 40
    culprit = _series(20, 2)
    culprit[FAULT:] += 15
    bystander = _series(20, 3)
    for start in range(FAULT - 1, N, 8):   # bursts of its own, out of step with front
        bystander[start:start + 4] += 300 if start < FAULT else 200
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("culprit", "latency_avg"): culprit,
        ("a-bystander", "latency_avg"): bystander,
    }, [("front", "culprit"), ("front", "a-bystander")])
    report = await investigate(case)
    assert report.root_causes[0].service == "culprit"


async def test_availability_dips_are_judged_on_the_error_ratio(tmp_path: Path) -> None:
    front = np.full(N, 100.0)
    front[FAULT:] = 97.0                   # 3% of requests failing: an outage, not noise
    backend = np.full(N, 100.0)
    backend[FAULT:] = 94.0
    case = write_case(tmp_path / "case", {
        ("front", "availability"): front, ("backend", "availability"): backend,
    }, [("front", "backend")], metric="availability", signal="availability")
    report = await investigate(case)
    assert not report.abstained
    assert report.root_causes[0].service == "backend"


async def test_load_already_flowing_before_the_damage_does_not_explain_it(
        tmp_path: Path) -> None:
    """A baseline from a quieter period: requests sit 50% above it from the start of the
    incident window, and ten minutes later a dependency fails. The load is not the cause."""
    front = _series(100, 1)
    front[FAULT - 10:] += 4                # creeps a little with the extra load
    front[FAULT:] += 80                    # then the dependency's failure arrives
    requests = _series(500, 2)
    requests[FAULT - 10:] *= 1.5
    db = _series(20, 3)
    db[FAULT:] += 80
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("front", "requests"): requests,
        ("db", "latency_avg"): db,
    }, [("front", "db")])
    report = await investigate(case)
    assert report.root_causes[0].service == "db"
    [traffic] = [h for h in report.hypotheses if h.kind == "traffic" and h.service == "front"]
    assert traffic.status == "refuted" and "already this abnormal" in (traffic.reason or "")


def noisy_hop_case(path: Path, front: np.ndarray) -> Path:
    """front → orchestrator → worker, the orchestrator's latency swinging by ±50%."""
    orchestrator = 2000 * (1 + np.random.default_rng(2).uniform(-0.5, 0.5, N))
    worker = _series(300, 3)
    worker[FAULT:] += 900
    return write_case(path, {
        ("front", "latency_avg"): front, ("orchestrator", "latency_avg"): orchestrator,
        ("worker", "latency_avg"): worker,
    }, [("front", "orchestrator"), ("orchestrator", "worker")])


async def test_a_cause_behind_a_noisy_hop_explains_the_alerting_service(tmp_path: Path) -> None:
    """front → orchestrator → worker. The orchestrator's latency swings so widely that it
    cannot confirm the worker's failure; the worker still beats "front is degraded with no
    visible cause", because the call graph connects them and it failed with front."""
    front = _series(100, 1)
    front[FAULT:] += 60
    report = await investigate(noisy_hop_case(tmp_path / "case", front))
    assert report.root_causes[0].service == "worker"
    assert "downstream of the alert" in report.root_causes[0].summary


async def test_a_dependency_that_served_a_sliver_of_the_traffic_does_not_explain_it(
        tmp_path: Path) -> None:
    """A load balancer that front barely uses (three requests a minute against a thousand)
    fails every one of them when front slows down; the database behind most calls is the
    cause, not the sliver with the loudest anomaly."""
    front = _series(100, 1)
    front[FAULT:] += 60
    sliver = np.full(N, 100.0)
    sliver[FAULT:] = 0.0                   # availability: every one of its calls fails
    db = _series(20, 3)
    db[FAULT:] += 60
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("front", "requests"): _series(1000, 4),
        ("sliver", "availability"): sliver, ("sliver", "requests"): _series(3, 5),
        ("db", "latency_avg"): db, ("db", "requests"): _series(900, 6),
    }, [("front", "sliver"), ("front", "db")])
    report = await investigate(case)
    assert report.root_causes[0].service == "db"
    [(status, reason)] = statuses(report, "sliver")
    assert status == "refuted" and "of its traffic" in reason


async def test_a_jump_did_not_begin_at_the_wobble_before_it(tmp_path: Path) -> None:
    """front → search → table. Search wobbles a few sigma for three minutes, then jumps with
    the table. Its episode began at the jump, so the table (which jumped then too) explains it."""
    front = _series(100, 1)
    front[FAULT:] += 60
    search = _series(20, 2)
    search[FAULT - 3:FAULT] += 4.0         # about four sigma: a wobble, not the episode
    search[FAULT:] += 60
    table = _series(40, 3)                 # a smaller z than search's: only the timing decides
    table[FAULT:] += 55
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("search", "latency_avg"): search,
        ("table", "latency_avg"): table,
    }, [("front", "search"), ("search", "table")])
    report = await investigate(case)
    assert report.root_causes[0].service == "table"


async def test_a_cause_may_meet_the_bulk_of_an_effect_pulled_early_by_a_blip(
        tmp_path: Path) -> None:
    """Front blips for two minutes just before a dependency fails; smoothed, the blip and the
    failure read as one episode that began before the dependency did. The dependency still
    explains front: it began with the bulk of front's rise."""
    front = _series(100, 1)
    front[FAULT - 3:FAULT - 1] += 20       # the blip
    front[FAULT:] += 120                   # the failure
    db = _series(20, 2)
    db[FAULT:] += 120
    case = write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("db", "latency_avg"): db,
    }, [("front", "db")])
    report = await investigate(case)
    assert report.root_causes[0].service == "db"


async def test_a_cause_behind_a_noisy_hop_meets_the_bulk_of_the_alert(tmp_path: Path) -> None:
    """As above, but front blipped just before the worker failed, so its onset reads early.
    The worker still explains front: it began with the bulk of front's rise."""
    front = _series(100, 1)
    front[FAULT - 3:FAULT - 1] += 20
    front[FAULT:] += 60
    report = await investigate(noisy_hop_case(tmp_path / "case", front))
    assert report.root_causes[0].service == "worker"


async def test_a_view_of_a_failing_service_yields_to_the_service(tmp_path: Path) -> None:
    """front calls search, and also reaches it through a load balancer that the service map
    shows as a separate leaf. Both fail in lockstep, the balancer a little louder; search, whose
    own dependency was examined and found clean, is the cause, the balancer a view of it."""
    report = await investigate(balancer_case(tmp_path / "case", "table", _series(10, 4),
                                             ("search", "table")))
    assert [c.service for c in report.root_causes[:2]] == ["search", "a-lb"]
    assert "lockstep with search" in report.root_causes[1].summary


async def test_a_barely_degraded_dependency_does_not_explain_a_violent_failure(
        tmp_path: Path) -> None:
    """search starts failing 3% of its calls (far out of its normal range); the parameter
    store it calls gets twice the requests (search's retries) and a few sigma slower a minute
    later. That wobble cannot explain search's failure: search is the cause."""
    front = np.full(N, 100.0)
    front[FAULT:] = 98.0
    search = np.full(N, 100.0)
    search[FAULT:] = 97.0
    params = _series(20, 2)
    params[FAULT + 1:] += 3.5              # under four sigma
    calls = _series(30, 3)
    calls[FAULT:] *= 2.0
    case = write_case(tmp_path / "case", {
        ("front", "availability"): front, ("search", "availability"): search,
        ("params", "latency_avg"): params, ("params", "requests"): calls,
    }, [("front", "search"), ("search", "params")], metric="availability",
        signal="availability")
    report = await investigate(case)
    assert report.root_causes[0].service == "search"
    [(status, reason)] = statuses(report, "params")
    assert status == "refuted" and "z=" in reason


async def load_test(path: Path, front_requests: np.ndarray, callee: str,
                    callee_requests: np.ndarray, callee_latency: np.ndarray, *,
                    slow: slice = slice(FAULT, None), step: float = STEP) -> Report:
    """The front, slower by 60 over `slow` (from the fault on), and one callee: the
    load-test cases below."""
    front = _series(100, 4)
    front[slow] += 60
    return await investigate(write_case(path / "case", {
        ("front", "latency_avg"): front, ("front", "requests"): front_requests,
        (callee, "latency_avg"): callee_latency, (callee, "requests"): callee_requests,
    }, [("front", callee)], step=step))


async def stepped_load_test(path: Path, *, level: float, since: int, shift: float,
                            step: float, store_shift: float | None = None) -> Report:
    """A load test on a baseline recorded at another load: from `since` samples before the
    fault, requests run at `shift` times the baseline (the store's at `store_shift`), then
    step up `step` times at the front and at the store, and the store slows under them."""
    front_requests = _series(level, 1)
    front_requests[FAULT - since:] *= shift
    front_requests[FAULT:] *= step
    store_requests = _series(level / 5, 2)
    store_requests[FAULT - since:] *= shift if store_shift is None else store_shift
    store_requests[FAULT:] *= step
    store = _series(20, 3)
    store[FAULT:] += 60
    return await load_test(path, front_requests, "store", store_requests, store)


async def test_a_surge_is_traced_to_its_entry_against_a_baseline_at_another_load(
        tmp_path: Path) -> None:
    """The baseline was recorded at a lower load: five minutes into the window requests are
    already higher everywhere, by 45% at the front but threefold at the store (the share of
    its calls that scales with load is larger). Then a load test hits the front: requests
    step up 80% at both, and the store slows under them. Against the baseline the front's
    rise (2.6x) looks too small to carry the store's (5.4x); as steps at the same moment they
    are the same, and the surge entered at the front."""
    report = await stepped_load_test(tmp_path, level=500, since=5, shift=1.45, store_shift=3.0,
                                     step=1.8)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")


async def test_traffic_that_quadrupled_is_not_too_faint_for_any_slowdown(
        tmp_path: Path) -> None:
    """A load test at the front: its requests nearly triple, and a small notification
    service it calls gets four times its usual requests and slows tenfold under them. That
    service's request count is spiky (bursts to 250 now and then), so its surge scores only
    z=3, faint beside its latency's z in the hundreds; but a service whose traffic doubled
    or more can be saturated by it whatever its noise. The surge is traced to the front."""
    front_requests = _series(500, 1)
    front_requests[FAULT:] *= 2.8
    notify_requests = _series(60, 2)
    notify_requests[[7, 31, 55, 79]] = 250           # bursts in normal operation
    notify_requests[FAULT:] = 255 * (1 + np.random.default_rng(3).normal(0, 0.02, N - FAULT))
    notify = _series(20, 4)
    notify[FAULT:] *= 10
    report = await load_test(tmp_path, front_requests, "notify", notify_requests, notify)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")
    [surge] = [h for h in report.hypotheses if h.kind == "traffic" and h.service == "notify"]
    assert surge.status == "supported"


async def test_a_surge_passed_down_a_chain_is_blamed_where_it_entered(tmp_path: Path) -> None:
    """Requests double at the front and at everything below it, front -> api -> db, and the
    db slows under them (the front a little). The front's series are noisy, the api's and
    the db's steady, so theirs score far higher; traced up from the db, the surge passes
    through the api on its way from the front, and the api only passed it on."""
    metrics = {}
    for i, (service, noise, slowdown) in enumerate((("front", 0.15, 10.0), ("api", 0.01, 60.0),
                                                    ("db", 0.01, 60.0))):
        requests = _series(400, 10 + i, sigma=noise)
        requests[FAULT:] *= 2.0
        latency = _series(20, 20 + i, sigma=noise)
        latency[FAULT:] += slowdown
        metrics[(service, "requests")] = requests
        metrics[(service, "latency_avg")] = latency
    case = write_case(tmp_path / "case", metrics, [("front", "api"), ("api", "db")])
    report = await investigate(case)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")


async def test_a_surge_still_below_a_baseline_from_a_higher_load_is_a_surge(
        tmp_path: Path) -> None:
    """The baseline was recorded at more than twice today's load: from ten minutes into the
    window requests run at 45% of it everywhere. Then a load test doubles them at the front
    and at the store, and the store slows under them. Against the baseline the doubled
    traffic is still "low"; measured from its own level just before, it doubled when the
    damage arrived, and the surge entered at the front."""
    report = await stepped_load_test(tmp_path, level=1000, since=10, shift=0.45, step=2.0)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")
    [surge] = [h for h in report.hypotheses
               if h.statement.startswith("a traffic surge at front caused")]
    assert surge.status == "supported"
    [evidence] = [e for e in report.evidence if e.id == surge.evidence[0]]
    assert "a step from its level just before" in evidence.finding


async def test_a_surge_after_a_dip_was_not_already_there(tmp_path: Path) -> None:
    """Requests sit 20% under a baseline from another load (11 sigmas below it), then a load
    test lifts them 60%, to 13 sigmas above it. Read without its sign, the front's traffic
    was "already as abnormal" before the damage; it was abnormal the other way."""
    report = await stepped_load_test(tmp_path, level=1000, since=10, shift=0.78, step=1.62)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")


async def test_a_bottleneck_slowed_by_its_share_of_a_surge_is_not_the_cause(
        tmp_path: Path) -> None:
    """A load test at the front: its requests rise 2.5 times. The bottleneck it calls gets
    60% more requests, a rise its spiky request count barely shows (z about 3, faint beside
    its sevenfold slowdown), and a service whose traffic rose 60% is not saturated by it on
    its own account. But it is the front's surge arriving: a share that large of a surge
    strong enough to explain the damage is judged as that surge, and the cause is the
    front's traffic, not the bottleneck."""
    front_requests = _series(500, 1)
    front_requests[FAULT:] *= 2.5
    bottleneck_requests = _series(60, 2, sigma=0.25)
    bottleneck_requests[FAULT:] *= 1.6
    bottleneck = _series(15, 4)
    bottleneck[FAULT:] *= 7
    report = await load_test(tmp_path, front_requests, "bottleneck", bottleneck_requests,
                             bottleneck)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")
    [share] = [h for h in report.hypotheses
               if h.kind == "traffic" and h.service == "bottleneck"]
    assert share.status == "supported"


async def test_a_spike_of_requests_that_subsided_does_not_drive_a_lasting_slowdown(
        tmp_path: Path) -> None:
    """The store's request count spikes for two minutes as its latency jumps, then falls back
    to normal while the store stays just as slow for the next twenty minutes. Load that has
    subsided cannot be keeping it slow: the store is failing on its own."""
    front_requests = _series(500, 1)
    store_requests = _series(100, 2, sigma=0.05)
    store_requests[FAULT - 1:FAULT + 1] *= 2.2
    store = _series(20, 3)
    store[FAULT:] += 60
    report = await load_test(tmp_path, front_requests, "store", store_requests, store)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("store", "dependency")
    [traffic] = [h for h in report.hypotheses if h.kind == "traffic" and h.service == "store"]
    assert traffic.status == "refuted" and "back to normal" in (traffic.reason or "")


async def test_load_the_service_was_already_coping_with_does_not_explain_it(
        tmp_path: Path) -> None:
    """Traffic drifts up from twenty minutes before the fault to half again its baseline
    (a baseline recorded at a lower load, load growing over the day). The store fails and
    the front with it, when the requests are a few percent above what the front had been
    taking without harm: many sigmas of a narrow baseline, but not a surge that broke it."""
    drift = np.ones(N)
    drift[FAULT - 20:] = np.linspace(1.0, 1.5, N - FAULT + 20)
    front_requests = _series(500, 1) * drift
    store_requests = _series(100, 2) * drift
    store = _series(20, 3)
    store[FAULT:FAULT + 8] += 60
    report = await load_test(tmp_path, front_requests, "store", store_requests, store,
                             slow=slice(FAULT, FAULT + 8))
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("store", "dependency")
    [traffic] = [h for h in report.hypotheses if h.kind == "traffic" and h.service == "front"]
    assert traffic.status == "refuted" and "coping with" in (traffic.reason or "")


async def test_a_short_surge_is_compared_step_for_step_with_its_callees(
        tmp_path: Path) -> None:
    """A ten-minute load test at five-minute resolution: the front's requests go 2.3× then
    3×, and the parameter store behind it, a sparse counter that happened to dip just before,
    goes from 24 to 64 then 111. Smoothed, the front's two-sample surge loses its top, while
    the store's is measured as a step from its dip; measured alike, the front's step carries
    the store's, and the load test is blamed where it entered, not at the bottleneck."""
    at = FAULT + 2
    front_requests = _series(500, 1)
    front_requests[at:at + 2] *= (2.3, 3.0)
    store_requests = _series(40, 2, sigma=0.2)
    store_requests[at - 2:at + 2] = (22, 26, 64, 111)
    store = _series(20, 3)
    store[at:at + 2] *= 8
    report = await load_test(tmp_path, front_requests, "store", store_requests, store,
                             slow=slice(at, at + 2), step=300.0)
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")


async def test_a_surge_is_traced_past_a_caller_passed_over_one_hop_below(
        tmp_path: Path) -> None:
    """A load test at the front doubles the requests everywhere. The store is called by the
    front directly and through the catalogue, whose steadier count gives the higher z-score:
    the surge is followed up through the catalogue, and from there to the front, which
    the walk had looked at (and passed over) one hop below. The catalogue only passed the
    surge on: as a traffic candidate it is explained, below the store it loaded."""
    front_requests = _series(500, 1, sigma=0.08)
    catalogue_requests = _series(200, 2, sigma=0.005)
    store_requests = _series(700, 3)
    for series in (front_requests, catalogue_requests, store_requests):
        series[FAULT:] *= 2.0
    store = _series(20, 4)
    store[FAULT:] *= 6
    catalogue = _series(60, 5)
    catalogue[FAULT:] += 100
    front = _series(100, 6)
    front[FAULT:] += 100
    report = await investigate(write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("front", "requests"): front_requests,
        ("catalogue", "latency_avg"): catalogue, ("catalogue", "requests"): catalogue_requests,
        ("store", "latency_avg"): store, ("store", "requests"): store_requests,
    }, [("front", "catalogue"), ("front", "store"), ("catalogue", "store")]))
    top = report.root_causes[0]
    assert (top.service, top.kind) == ("front", "traffic")
    walked = [h.statement for h in report.hypotheses if h.kind == "traffic"]
    assert walked.count("the traffic surge entered at front, upstream of catalogue") == 2
    ranks = {(c.service, c.kind): i for i, c in enumerate(report.root_causes)}
    assert ranks[("catalogue", "traffic")] > ranks[("store", "dependency")]


async def test_a_noisy_dependency_that_slowed_more_than_its_caller_explains_it(
        tmp_path: Path) -> None:
    """The front's latency is steady, so its 60 ms rise is twelve of its sigmas; the hub it
    calls swings widely, so its 160 ms rise is only about six of its own. Less unusual as the
    hub's rise is, it accounts for all of the front's: the hub leads, not "the front is
    degraded with no visible cause" (with a confidence as modest as its evidence)."""
    front = _series(100, 1, sigma=0.005)
    front[FAULT:] += 60
    hub = _series(200, 2, sigma=0.15)
    hub[FAULT:] += 160
    report = await investigate(write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("hub", "latency_avg"): hub}, [("front", "hub")]))
    assert [c.service for c in report.root_causes[:2]] == ["hub", "front"]


async def test_a_view_of_a_service_is_explained_by_what_explains_the_service(
        tmp_path: Path) -> None:
    """The front calls the service and, through a load balancer, sees it again (the balancer
    is a leaf: no edge leads on from it). The service slows because its database did; the
    balancer's view of it moves in lockstep, on a far steadier baseline. The database is the
    cause, and the view is explained as the service is: it ranks below the service, not as
    the runner-up with the most unusual numbers."""
    front = _series(100, 1)
    front[FAULT:] += 60
    service = _series(40, 2)
    service[FAULT:] += 60
    view = _series(45, 3, sigma=0.002)
    view[FAULT:] += 60 + 0.5 * (service[FAULT:] - 100)
    db = _series(20, 4, sigma=0.15)
    db[FAULT:] += 60
    report = await investigate(write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("service", "latency_avg"): service,
        ("view", "latency_avg"): view, ("db", "latency_avg"): db,
    }, [("front", "service"), ("front", "view"), ("service", "db")]))
    assert [c.service for c in report.root_causes[:2]] == ["db", "service"]


async def test_a_dependency_that_degraded_two_samples_after_its_caller_did_not_cause_it(
        tmp_path: Path) -> None:
    """Five-minute samples. The front slows when the store does; a second dependency slows
    far more, but ten minutes later. A cause may land one sample after its effect (both are
    smoothed), not two: the late one is refuted, however loud."""
    front = _series(100, 1)
    front[FAULT:] += 60
    store = _series(20, 2)
    store[FAULT:] += 60
    late = _series(20, 3)
    late[FAULT + 2:] += 600
    report = await investigate(write_case(tmp_path / "case", {
        ("front", "latency_avg"): front, ("store", "latency_avg"): store,
        ("late", "latency_avg"): late}, [("front", "store"), ("front", "late")], step=300.0))
    assert report.root_causes[0].service == "store"
    [(status, _)] = statuses(report, "late")
    assert status == "refuted"
