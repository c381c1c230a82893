"""The benchmark: scoring on tiny suites with known answers, the generator, the converter."""

from __future__ import annotations

import csv
import filecmp
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main as cli
from evals.cases import Truth, load_suite
from evals.errors import SuiteError
from evals.petshop import CREDIT, REGIMES, convert_crossed, convert_issue
from evals.petshop_injected import make_case
from evals.scoring import Outcome, expected_calibration_error, score
from evals.synthetic import FAMILIES, generate_case, plan
from integrations.telemetry.scenario import ScenarioSource

PETSHOP = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "petshop" / "dataset"


def outcome(truth: tuple[str, str], ranking: list[str], *, kinds: list[str] | None = None,
            confidence: float | None = None, abstained: bool = False,
            error: str | None = None) -> Outcome:
    return Outcome(case="c", group=truth[1], truth=Truth(*truth), ranking=ranking,
                   kinds=kinds or [], confidence=confidence, abstained=abstained, error=error)


def test_scoring_known_answers() -> None:
    outcomes = [
        outcome(("a", "cpu"), ["a", "b"], kinds=["cpu"], confidence=0.9),
        outcome(("a", "cpu"), ["b", "c", "a"], kinds=["memory"], confidence=0.8),
        outcome(("a", "disk"), ["b", "c", "d", "e", "a"], confidence=0.2),
        outcome(("a", "disk"), [], error="crashed"),  # a crash is a miss, and is listed
        outcome(("", "none"), [], abstained=True),
        outcome(("", "none"), ["x"], abstained=False),
        outcome(("a", "cpu"), ["a"], abstained=True, confidence=0.3),  # a false abstention
    ]
    f = score(outcomes)
    assert f["fault_cases"] == 5 and f["control_cases"] == 2
    assert f["acc@1"] == pytest.approx(2 / 5)
    assert f["acc@3"] == pytest.approx(3 / 5)
    assert f["acc@5"] == pytest.approx(4 / 5)
    assert f["avg@5"] == pytest.approx((2 + 2 + 3 + 3 + 4) / 5 / 5)
    assert f["kind_acc@1"] == pytest.approx(1 / 2)
    assert f["abstention_recall"] == pytest.approx(1 / 2)
    assert f["abstention_precision"] == pytest.approx(1 / 2)
    assert f["false_abstentions"] == 1
    assert f["failures"] == [{"case": "c", "error": "crashed"}]


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([(1.0, True), (1.0, True)]) == pytest.approx(0.0)
    assert expected_calibration_error([(0.9, False), (0.9, False)]) == pytest.approx(0.9)
    assert expected_calibration_error([]) is None


def test_generator_is_deterministic(tmp_path: Path) -> None:
    a = generate_case(11, 4, "network_loss", tmp_path / "a")
    b = generate_case(11, 4, "network_loss", tmp_path / "b")
    for name in ("case.json", "truth.json", "metrics.csv", "logs.jsonl", "traces.jsonl",
                 "events.jsonl"):
        assert filecmp.cmp(a / name, b / name, shallow=False), name
    c = generate_case(12, 4, "network_loss", tmp_path / "c")
    assert not filecmp.cmp(a / "metrics.csv", c / "metrics.csv", shallow=False)


def test_plan_covers_families_and_controls() -> None:
    order = plan(130)
    assert len(order) == 130 and set(FAMILIES) <= set(order)
    assert order.count(None) >= 13


@pytest.mark.parametrize("index", range(len(FAMILIES)))
def test_injected_fault_is_in_the_telemetry_before_the_alert(tmp_path: Path,
                                                             index: int) -> None:
    family = FAMILIES[index]
    case_dir = generate_case(5, index, family, tmp_path / family)
    truth = json.loads((case_dir / "truth.json").read_text())["root_cause"]
    source = ScenarioSource(case_dir)
    fired = source.case.alert.fired_at.timestamp()
    assert 10 <= len(source._series) <= 61
    moved = []
    for series in source._series[truth["service"]]:
        before = series.v[series.t < fired - 1200]
        just_before = series.v[(series.t >= fired - 300) & (series.t < fired)]
        if before.size < 5 or just_before.size == 0:
            continue
        spread = np.nanstd(before) + 1e-9
        if abs(np.nanmedian(just_before) - np.nanmedian(before)) > 3 * spread:
            moved.append(series.metric)
    events = (case_dir / "events.jsonl").read_text()
    assert moved or truth["service"] in events, f"{family}: no trace of the fault"


def test_petshop_converter_on_one_real_issue(tmp_path: Path) -> None:
    issue = PETSHOP / "low_traffic" / "train" / "issue_0"
    if not issue.is_dir():
        pytest.skip("the PetShop dataset is not beside the checkout")
    out = convert_issue(issue, PETSHOP / "low_traffic" / "noissue" / "metrics.csv",
                        PETSHOP / "low_traffic" / "graph.csv", tmp_path / "issue_0")
    target = json.loads((issue / "target.json").read_text())
    case = json.loads((out / "case.json").read_text())
    truth = json.loads((out / "truth.json").read_text())
    assert case["alert"]["service"] == target["target"]["node"]
    assert case["alert"]["fired_at"] == target["target"]["timestamp"]
    assert truth["root_cause"]["service"] == target["root_cause"]["node"]
    assert truth["root_cause"]["kind"] == "config" and CREDIT in truth["notes"]
    assert {"caller": "PetSite", "callee": "PetSearch_AWS::ECS::Fargate"} in case["topology"]
    with (out / "metrics.csv").open() as handle:
        rows = list(csv.reader(handle))
    times = sorted({float(r[0]) for r in rows[1:]})
    assert len(times) == 144 + 5  # 12 hours of normal operation, then the issue window
    assert times[-1] == float(case["window"]["end"])
    assert all(b - a == 300 for a, b in itertools.pairwise(times))
    source = ScenarioSource(out)
    assert truth["root_cause"]["service"] in source._series


def test_the_crossed_suite_puts_train_faults_on_the_other_levels_baseline(
        tmp_path: Path) -> None:
    if not (PETSHOP / "high_traffic" / "noissue").is_dir():
        pytest.skip("the PetShop dataset is not beside the checkout")
    suite = convert_crossed(PETSHOP, tmp_path / "crossed")
    assert len(suite.cases) == sum(
        len(list((PETSHOP / regime / "train").glob("issue_*"))) for regime in REGIMES)
    assert all("/test/" not in case.truth.notes for case in suite.cases)
    case = next(c for c in suite.cases if c.group == "low_traffic vs high_traffic")
    with (case.path / "metrics.csv").open() as handle:
        first = next(r for r in csv.reader(handle) if r[1:3] == ["PetSite", "requests_Sum"])
    with (PETSHOP / "high_traffic" / "noissue" / "metrics.csv").open() as handle:
        rows = list(csv.reader(handle))
    column = next(i for i in range(1, len(rows[0]))
                  if (rows[0][i], rows[1][i], rows[2][i]) == ("PetSite", "requests", "Sum"))
    assert float(first[3]) == pytest.approx(float(rows[-144][column]), rel=1e-5)


def test_injected_faults_show_at_the_root_and_reach_the_alert(tmp_path: Path) -> None:
    if not (PETSHOP / "low_traffic" / "noissue").is_dir():
        pytest.skip("the PetShop dataset is not beside the checkout")
    rng = np.random.default_rng(5)
    for regime in ("low", "shifted_up"):
        out = make_case(rng, regime, PETSHOP, tmp_path / regime)
        case = json.loads((out / "case.json").read_text())
        root = json.loads((out / "truth.json").read_text())["root_cause"]["service"]
        source = ScenarioSource(out)
        fired = float(case["alert"]["fired_at"])
        for service, metric in ((root, case["alert"]["metric"]),
                                ("PetSite", case["alert"]["metric"])):
            series = next(s for s in source._series[service] if s.metric == metric)
            before = series.v[series.t < fired - 600]
            during = series.v[(series.t >= fired) & (series.t <= fired + 300)]
            # The fault moved the root and the alerting service away from their past.
            assert abs(float(np.nanmax(np.abs(during - np.nanmedian(before))))) > \
                3 * float(np.nanstd(before)), (regime, service)


def test_an_injected_overload_floods_the_root_with_requests(tmp_path: Path) -> None:
    if not (PETSHOP / "low_traffic" / "noissue").is_dir():
        pytest.skip("the PetShop dataset is not beside the checkout")
    rng = np.random.default_rng(3)
    for i in range(40):  # about one case in seven is an overload
        out = make_case(rng, "high", PETSHOP, tmp_path / f"case-{i}")
        truth = json.loads((out / "truth.json").read_text())["root_cause"]
        if truth["kind"] == "traffic":
            break
    else:
        pytest.fail("no overload case in 40 draws")
    fired = float(json.loads((out / "case.json").read_text())["alert"]["fired_at"])
    series = next(s for s in ScenarioSource(out)._series[truth["service"]]
                  if s.metric == "requests_Sum")
    before = series.v[series.t < fired - 600]
    during = series.v[(series.t >= fired) & (series.t <= fired + 300)]
    assert float(np.nanmax(during)) > 1.4 * float(np.nanmedian(before))


def test_suite_errors_name_the_case_and_file(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    good = generate_case(1, 0, "cpu", tmp_path / "suite" / "case-a")
    bad = tmp_path / "suite" / "case-b"
    bad.mkdir()
    (bad / "case.json").write_text((good / "case.json").read_text())
    (bad / "metrics.csv").write_text("timestamp,service,metric,value\n")
    with pytest.raises(SuiteError, match=r"case case-b: missing .*truth\.json"):
        load_suite(tmp_path / "suite")
    assert cli(["eval", "--suite", str(tmp_path / "suite")]) == 2
    assert "case-b" in capsys.readouterr().err
    (bad / "truth.json").write_text('{"root_cause": {"service": "x", "kind": "gremlins"}}')
    with pytest.raises(SuiteError, match="unknown kind 'gremlins'"):
        load_suite(tmp_path / "suite")
    assert cli(["eval", "--suite", str(tmp_path / "nowhere")]) == 2


def test_eval_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite"
    for i, family in enumerate(["cpu", "deploy", None]):
        generate_case(2, i, family, suite / f"case-{i}")
    assert cli(["eval", "--suite", str(suite), "--json", "--out", str(tmp_path / "out")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["methods"]) == {"nightowl", "BARO", "NSigma", "random"}
    figures = result["methods"]["nightowl"]
    for key in ("acc@1", "acc@3", "acc@5", "avg@5", "kind_acc@1", "abstention_precision",
                "abstention_recall", "ece", "median_s", "p95_s", "queries_per_case",
                "llm_input_tokens_per_case", "failures"):
        assert key in figures
    assert figures["acc@1"] == 1.0 and figures["abstention_recall"] == 1.0
    assert (tmp_path / "out" / "report.html").read_text().count("<svg") >= 3


def test_a_suite_of_folders_per_system_is_read_whole(tmp_path: Path) -> None:
    # Another system's benchmark often ships one folder per application, then per fault.
    suite = tmp_path / "suite"
    generate_case(3, 0, "cpu", suite / "boutique" / "cpu" / "case-1")
    generate_case(3, 1, "deploy", suite / "boutique" / "deploy" / "case-1")
    generate_case(3, 2, None, suite / "sockshop" / "case-1")
    loaded = load_suite(suite)
    assert [(c.name, c.group) for c in loaded.cases] == [
        ("boutique/cpu/case-1", "boutique/cpu"), ("boutique/deploy/case-1", "boutique/deploy"),
        ("sockshop/case-1", "sockshop")]
    (suite / "sockshop" / "case-2").mkdir()   # a case that lost its files is named, not skipped
    with pytest.raises(SuiteError, match="case case-2"):
        load_suite(suite)


def test_calibration_fit_follows_strength_and_keeps_slopes_non_negative() -> None:
    from evals.calibrate import ece, fit, fit_all

    rows = []
    for k in range(200):
        strength = k / 200
        # Right more often when stronger; off the path right *more* often (a few lucky
        # answers): the path slope must not go negative for it.
        rows.append({"basis": {"strength": strength, "margin": 0.5, "modalities": 1,
                               "on_path": float(k % 2), "charted": 1.0},
                     "abstained": False, "correct": (k * 7919) % 200 < 200 * strength
                     and not (k % 2 and k % 5 == 0)})
    weights = fit(rows)
    assert weights[1] > 1.0          # strength
    assert weights[4] == 0.0         # path: clamped, never negative
    full = fit_all(rows)
    assert ece(full, rows) < 0.1
    abstained = [{**rows[0], "abstained": True, "correct": True}] * 3
    assert fit_all(rows + abstained)[-1] == (3 + 1) / (3 + 2)


def test_baselines_scale_a_flat_reference_by_one(tmp_path: Path) -> None:
    # A sparse count that was 0 and then 1 is not a billion-sigma event for BARO
    # or NSigma (scikit-learn's scalers, which the published implementations use, divide a
    # flat reference by 1): the service whose latency tripled ranks first.
    from evals.baselines import baro, nsigma
    from integrations.telemetry.scenario import ScenarioSource

    t0, n = 1_700_000_000, 120
    rows = ["timestamp,service,metric,value"]
    rng = np.random.default_rng(5)
    for i in range(n):
        slow = 300.0 if i >= 90 else 100.0
        rows.append(f"{t0 + 30 * i},db,latency_ms,{slow + rng.normal(0, 5):.3f}")
        rows.append(f"{t0 + 30 * i},queue,dropped_total,{1 if i >= 100 else 0}")
    case = tmp_path / "c"
    case.mkdir()
    (case / "metrics.csv").write_text("\n".join(rows) + "\n")
    (case / "case.json").write_text(json.dumps({
        "id": "flat", "alert": {"name": "A", "service": "db", "signal": "latency",
                                "fired_at": t0 + 30 * 95},
        "window": {"start": t0, "end": t0 + 30 * (n - 1)}}))
    source = ScenarioSource(case)
    assert baro(source)[0] == "db"
    assert nsigma(source)[0] == "db"
