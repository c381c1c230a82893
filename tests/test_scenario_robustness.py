"""A scenario directory written badly, as a fuzzing pass wrote it: each case is either read
(with a warning or a note that counts what was skipped or reinterpreted) or refused with a
ScenarioError naming the file and field (`nightowl investigate` exits 2), never a traceback
and never a service invented from a value that names none."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot.cli import main as cli
from integrations.telemetry.errors import ScenarioError
from integrations.telemetry.scenario import ScenarioSource, level_name, load_case, parse_ts
from tests.scenario_files import write_case_json, write_metrics

T0, STEP, N = 1_714_000_000.0, 60.0, 30


def short(value: object) -> str:
    """A parameter's test id: 10**400 in full would be 400 digits."""
    return repr(value)[:12]


def scenario(path: Path, *, logs: list[str] | None = None, spans: list[str] | None = None,
             events: list[str] | None = None) -> Path:
    """front calls api, both steady; the jsonl files hold the given lines as written (raw
    text, so that a test can write what json.dumps would not: 1e400, NaN, 10**400)."""
    rng = np.random.default_rng(1)
    write_metrics(path, {("front", "latency_ms"): 100 + rng.normal(0, 3, N),
                         ("api", "latency_ms"): 40 + rng.normal(0, 1, N)}, t0=T0, step=STEP)
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="front",
                    signal="latency", fired_at=N - 5, topology=(("front", "api"),))
    for name, lines in (("logs", logs), ("traces", spans), ("events", events)):
        if lines is not None:
            (path / f"{name}.jsonl").write_text("".join(line + "\n" for line in lines))
    return path


def line(**fields: Any) -> str:
    return json.dumps(fields)


def edit_case(path: Path, **alert: Any) -> None:
    """case.json with the alert's fields and the window's (`window_start`, `window_end`)
    replaced by the values given."""
    case = json.loads((path / "case.json").read_text())
    for key, value in alert.items():
        if key.startswith("window_"):
            case["window"][key.removeprefix("window_")] = value
        else:
            case["alert"][key] = value
    (path / "case.json").write_text(json.dumps(case))


# ---- A1-A3: values no float holds -------------------------------------------------------


@pytest.mark.parametrize("raw", [math.nan, math.inf, -math.inf, 10**400, "9" * 400], ids=short)
def test_a_level_no_float_holds_is_no_level(raw: object) -> None:
    assert level_name(raw) == ""


def test_lines_with_such_levels_are_read_as_lines_without_one(tmp_path: Path) -> None:
    first = line(ts=T0 + 60, service="front", level="@", message="db failed").replace(
        '"@"', "1e400")   # json reads 1e400 as inf
    source = ScenarioSource(scenario(tmp_path / "c", logs=[
        first, line(ts=T0 + 61, service="front", level=math.nan, message="served"),
        line(ts=T0 + 62, service="front", level=10**400, message="served")]))
    assert [x.level for x in source._logs["front"]] == ["error", "info", "info"]
    assert any(w.startswith("logs.jsonl: 3 lines have no level we can read")
               for w in source.warnings)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", math.nan, 10**400,
                                   "1" * 400], ids=short)
def test_a_timestamp_that_is_no_number_is_refused(value: object) -> None:
    with pytest.raises(ScenarioError, match="where: not a timestamp"):
        parse_ts(value, "where")


@pytest.mark.parametrize(("field", "value"), [
    ("fired_at", "nan"), ("fired_at", "NaN"), ("fired_at", "inf"), ("window_start", "nan"),
    ("window_end", "inf"), ("fired_at", 1e300), ("window_end", 10**400)], ids=short)
def test_case_json_instants_that_name_no_instant_are_a_clear_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str, value: object) -> None:
    path = scenario(tmp_path / "c")
    edit_case(path, **{field: value})
    name = field.replace("_", ".") if field.startswith("window") else f"alert.{field}"
    with pytest.raises(ScenarioError, match=f"case.json: {name}: not a timestamp"):
        load_case(path)
    assert cli(["investigate", str(path), "--json", "--no-model"]) == 2
    assert f"{name}: not a timestamp" in capsys.readouterr().err


def test_integers_past_a_floats_range_are_skipped_as_unreadable_times(tmp_path: Path) -> None:
    huge = 10**400
    source = ScenarioSource(scenario(
        tmp_path / "c",
        logs=[line(ts=huge, service="front", level="error", message="x"),
              line(ts=T0 + 60, service="front", level="error", message="kept")],
        spans=[line(trace_id="t", span_id="a", service="front", start=huge, duration_ms=3),
               line(trace_id="t", span_id="b", service="front", start=T0, duration_ms=huge),
               line(trace_id="t", span_id="c", service="front", start=T0, duration_ms=3)],
        events=[line(ts=huge, service="api", kind="deploy"),
                line(ts=T0 + 30, service="api", kind="deploy")]))
    assert [x.message for x in source._logs["front"]] == ["kept"]
    assert [s.span_id for s in source._spans] == ["c"]
    assert [e.ts for e in source._events] == [T0 + 30]
    for where in ("logs.jsonl:1", "traces.jsonl:1", "traces.jsonl:2", "events.jsonl:1"):
        assert any(w.startswith(where) for w in source.warnings), (where, source.warnings)
    assert all(len(w) < 200 for w in source.warnings)   # not 400 digits a line


# ---- B4: a service that names none --------------------------------------------------------


def test_spans_lines_and_events_that_name_no_service_are_skipped_and_counted(
        tmp_path: Path) -> None:
    def span(span_id: str, service: object) -> str:
        return line(trace_id="t", span_id=span_id, service=service, start=T0, duration_ms=5)

    otel = {"name": "api", "namespace": "prod"}   # an OpenTelemetry resource, as exported
    source = ScenarioSource(scenario(
        tmp_path / "c",
        spans=[span("a", "front"), span("b", otel), span("c", ""), span("d", None),
               span("e", ["front"]), span("f", True), line(trace_id="t", span_id="g",
                                                           start=T0, duration_ms=5)],
        logs=[line(ts=T0 + 60, service="front", level="error", message="kept"),
              line(ts=T0 + 61, level="error", message="whose?"),
              line(ts=T0 + 62, service="", level="error", message="whose?"),
              line(ts=T0 + 63, service=None, level="error", message="whose?")],
        events=[line(ts=T0 + 30, service=otel, kind="deploy"),
                line(ts=T0 + 31, service=None, kind="deploy"),
                line(ts=T0 + 32, kind="config")]))
    assert [(s.span_id, s.service) for s in source._spans] == [("a", "front"), ("b", "api")]
    assert set(source._logs) == {"front"}
    assert [(e.service, e.kind) for e in source._events] == [("api", "deploy")]
    for file, what in (("traces.jsonl", "5 span(s)"), ("logs.jsonl", "3 line(s)"),
                       ("events.jsonl", "2 event(s)")):
        assert f"{file}: {what} name no service we can read" in " ".join(source.warnings)
    window = source.case.window
    assert not {"", "None", "unknown"} & set(asyncio.run(source.services(window)))


# ---- B6, C7: metric values that are no measurement -----------------------------------------


def with_values(path: Path, values: dict[int, str]) -> Path:
    """metrics.csv with front's latency at the given sample indices written as given."""
    lines = (path / "metrics.csv").read_text().splitlines()
    front = [i for i, row in enumerate(lines) if ",front," in row]
    for index, cell in values.items():
        ts, service, metric, _ = lines[front[index]].split(",")
        lines[front[index]] = ",".join([ts, service, metric, cell])
    (path / "metrics.csv").write_text("\n".join(lines) + "\n")
    return path


def test_values_that_are_no_numbers_are_gaps_and_counted(tmp_path: Path) -> None:
    path = with_values(scenario(tmp_path / "c"), {
        1: "12ms", 2: '"1,234.00"', 3: "true", 4: "N/A", 5: "-", 6: "NaN", 7: ""})
    source = ScenarioSource(path)
    values = source._series["front"][0].v
    assert np.isnan(values[1:8]).all() and np.isfinite(values[[0, *range(8, N)]]).all()
    # An empty cell or NaN is a gap as written: no warning. The other five are counted.
    assert source.warnings == ["metrics.csv: 5 value(s) could not be read as numbers, e.g. "
                               "'12ms': read as gaps"]


def test_values_too_large_to_compute_with_are_gaps_and_counted(tmp_path: Path) -> None:
    path = with_values(scenario(tmp_path / "c"), {
        1: "1.7976931348623157e308", 2: "-1e300", 3: "inf", 4: "-Infinity", 5: "1e299"})
    source = ScenarioSource(path)
    values = source._series["front"][0].v
    assert np.isnan(values[1:5]).all() and values[5] == 1e299
    assert len(source.warnings) == 1
    assert source.warnings[0].startswith(
        "metrics.csv: 4 value(s) infinite or too large to compute with (1e300 or more, e.g. "
        "'1.7976931348623157e308'")


def test_a_no_data_sentinel_puts_no_infinity_in_the_report(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # MaxFloat64 all along the alerting series: its statistics overflowed into the output.
    path = with_values(scenario(tmp_path / "c"), {i: "1.7976931348623157e308" for i in range(N)})
    assert cli(["investigate", str(path), "--json", "--no-model"]) == 0
    out = capsys.readouterr().out
    json.loads(out, parse_constant=lambda word: pytest.fail(f"{word} in the JSON output"))


def test_the_json_report_is_strict_json_whatever_a_statistic_did(
        capsys: pytest.CaptureFixture[str]) -> None:
    from agents.sre.report import Evidence, Report
    from bot.report_text import print_report

    report = Report(summary="s", evidence=[Evidence(
        id="ev-1", query="q", finding="f",
        numbers={"z": math.nan, "peak": math.inf, "low": -math.inf, "base": 1.5})])
    print_report(report, as_json=True)
    out = json.loads(capsys.readouterr().out,
                     parse_constant=lambda word: pytest.fail(f"{word} in the JSON output"))
    assert out["evidence"][0]["numbers"] == {"z": None, "peak": None, "low": None, "base": 1.5}


# ---- C8: ", " separators ------------------------------------------------------------------


def test_rows_written_with_spaces_after_commas_name_the_same_series(tmp_path: Path) -> None:
    path = scenario(tmp_path / "c")
    lines = (path / "metrics.csv").read_text().splitlines()
    spaced = [", ".join(row.split(",")) for row in lines[1:]]
    (path / "metrics.csv").write_text("\n".join([lines[0], *spaced, "1714000000, , latency_ms, 3",
                                                "1714000000, front, , 3"]) + "\n")
    source = ScenarioSource(path)
    assert sorted(source._series) == ["api", "front"]
    assert [s.metric for s in source._series["front"]] == ["latency_ms"]
    assert source._series["front"][0].v.size == N
    assert source.warnings == ["metrics.csv: 2 malformed row(s) skipped"]


# ---- D1: a byte order mark ----------------------------------------------------------------


def test_files_that_start_with_a_byte_order_mark_are_read(tmp_path: Path) -> None:
    path = scenario(tmp_path / "c", logs=[line(ts=T0 + 60, service="front", level="error",
                                               message="db failed")])
    for name in ("case.json", "metrics.csv", "logs.jsonl"):
        (path / name).write_text("\ufeff" + (path / name).read_text(), encoding="utf-8")
    source = ScenarioSource(path)
    assert source.case.alert.service == "front" and sorted(source._series) == ["api", "front"]
    assert [x.message for x in source._logs["front"]] == ["db failed"]
    assert source.warnings == []


# ---- D2: the timestamp column's other names ------------------------------------------------


@pytest.mark.parametrize("name", ["time", "ts", "Timestamp_ms"])
def test_the_timestamp_column_may_be_headed_as_other_exports_head_it(
        tmp_path: Path, name: str) -> None:
    path = scenario(tmp_path / "c")
    lines = (path / "metrics.csv").read_text().splitlines()
    rows = [row.split(",") for row in lines[1:]]
    if name.endswith("_ms"):
        rows = [[str(int(float(ts) * 1000)), *rest] for ts, *rest in rows]
    (path / "metrics.csv").write_text("\n".join(
        [f"{name},service,metric,value", *(",".join(row) for row in rows)]) + "\n")
    source = ScenarioSource(path)
    assert source.warnings == []
    assert source._series["front"][0].t[0] == T0 and source._series["front"][0].t.size == N


# ---- D3: SQL's and BigQuery's way of writing a time ------------------------------------------


@pytest.mark.parametrize("text", ["2024-06-22 17:32:37 UTC", "2024-06-22 17:32:37",
                                  "2024-06-22T17:32:37 utc", "2024-06-22 17:32:37.000000 UTC"])
def test_times_as_sql_and_bigquery_write_them_are_utc(text: str) -> None:
    assert parse_ts(text, "t") == parse_ts("2024-06-22T17:32:37Z", "t")


def test_a_scenario_written_by_bigquery_is_read(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    def bq(seconds: float) -> str:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    path = scenario(tmp_path / "c")
    lines = (path / "metrics.csv").read_text().splitlines()
    rows = [row.split(",", 1) for row in lines[1:]]
    (path / "metrics.csv").write_text("\n".join(
        [lines[0], *(f"{bq(float(ts))},{rest}" for ts, rest in rows)]) + "\n")
    edit_case(path, fired_at=bq(T0 + (N - 5) * STEP))
    source = ScenarioSource(path)
    assert source.warnings == [] and source._series["front"][0].t.size == N
    assert source.case.alert.fired_at.timestamp() == T0 + (N - 5) * STEP


# ---- D4: the topology as other converters write it ------------------------------------------


def with_topology(path: Path, topology: object) -> Path:
    case = json.loads((path / "case.json").read_text())
    case["topology"] = topology
    (path / "case.json").write_text(json.dumps(case))
    return path


@pytest.mark.parametrize("topology", [
    [{"caller": "front", "callee": "api"}, {"caller": "front", "callee": "db"},
     {"caller": "api", "callee": "db"}],
    [["front", "api"], ["front", "db"], ["api", "db"]],
    {"front": ["api", "db"], "api": ["db"]},
    {"front": ["api", "db"], "api": "db"}], ids=["objects", "pairs", "adjacency", "one-callee"])
def test_a_topology_of_pairs_or_an_adjacency_map_is_the_same_edges(
        tmp_path: Path, topology: object) -> None:
    source = ScenarioSource(with_topology(scenario(tmp_path / "c"), topology))
    assert sorted(source.case.topology) == [("api", "db"), ("front", "api"), ("front", "db")]
    assert asyncio.run(source.topology(source.case.window)) == {"front": {"api", "db"},
                                                                "api": {"db"}}


@pytest.mark.parametrize(("topology", "says"), [
    (5, "topology must be a list of edges or a map"),
    ("front->api", "topology must be a list of edges or a map"),
    ([["front"]], r"topology\[0\] needs 'caller' and 'callee'"),
    ([{"caller": "front"}], r"topology\[0\] needs 'caller' and 'callee'"),
    ({"front": [1]}, r"topology\['front'\] must list its callees"),
    ({"front": None}, r"topology\['front'\] must list its callees")])
def test_a_topology_in_no_shape_we_know_is_a_clear_error(
        tmp_path: Path, topology: object, says: str) -> None:
    with pytest.raises(ScenarioError, match=says):
        load_case(with_topology(scenario(tmp_path / "c"), topology))


# ---- C9: Jaeger's and Zipkin's span durations -----------------------------------------------


def test_a_duration_in_jaegers_microseconds_is_read_and_one_in_no_known_unit_is_said(
        tmp_path: Path) -> None:
    micro = int(T0 * 1e6)
    source = ScenarioSource(scenario(tmp_path / "c", spans=[
        # Jaeger's JSON: startTime and duration in microseconds.
        line(traceID="t", spanID="a", serviceName="front", operationName="GET /",
             startTime=micro, duration=12_500),
        # Zipkin's: timestamp and duration in microseconds.
        line(trace_id="t", span_id="b", parent_id="a", service="api", timestamp=micro + 500,
             duration=3_000),
        line(trace_id="t", span_id="c", service="api", start=micro, duration=9, duration_ms=4),
        # An ISO 8601 start says nothing of the duration's unit.
        line(trace_id="t", span_id="d", service="api", start="2024-04-24T23:06:40Z",
             duration=7_000)]))
    assert [(s.span_id, s.duration_ms) for s in source._spans] == [
        ("a", 12.5), ("b", 3.0), ("c", 4.0), ("d", 0.0)]
    assert source.warnings == [
        "traces.jsonl: 1 span(s) give a `duration` in no unit we can tell (no duration_ms, and "
        "a start not in Jaeger's or Zipkin's microseconds): read as 0 ms"]


# ---- C10: broken parent links ---------------------------------------------------------------


def test_zero_and_self_parents_are_roots_and_missing_parents_are_counted(
        tmp_path: Path) -> None:
    from agents.sre.traces import self_times

    def span(span_id: str, parent: object, service: str = "api") -> str:
        return line(trace_id="t", span_id=span_id, parent_id=parent, service=service,
                    start=T0, duration_ms=10)

    source = ScenarioSource(scenario(tmp_path / "c", spans=[
        span("a", "0000000000000000", "front"), span("b", "a"), span("c", "c"),
        span("d", "deadbeef"), span("e", "0")]))
    assert [(s.span_id, s.parent_id) for s in source._spans] == [
        ("a", None), ("b", "a"), ("c", None), ("d", "deadbeef"), ("e", None)]
    # A span its own parent had its own time taken off itself.
    assert self_times(source._spans, source._spans)["c" + "t"] == 10
    assert source.notes == ["traces.jsonl: 1 of 5 spans name a parent that is not in the "
                            "file (as where traces are sampled, or cut at the window's "
                            "edge): they link to no caller"]
    assert source.warnings == []


def test_a_cycle_of_parents_reads_and_investigates(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spans = [line(trace_id=f"t{i}", span_id=span_id, parent_id=parent, service=service,
                  start=T0 + i * STEP, duration_ms=10)
             for i in range(N) for span_id, parent, service in (("a", "b", "front"),
                                                                ("b", "a", "api"))]
    path = scenario(tmp_path / "c", spans=spans)
    source = ScenarioSource(path)
    assert asyncio.run(source.topology(source.case.window)) == {"front": {"api"},
                                                                "api": {"front"}}
    assert cli(["investigate", str(path), "--json", "--no-model"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]


# ---- C11: negative durations ----------------------------------------------------------------


def test_spans_with_negative_or_non_finite_durations_are_skipped_and_counted(
        tmp_path: Path) -> None:
    def span(span_id: str, **timing: Any) -> str:
        return line(trace_id="t", span_id=span_id, service="api", start=T0, **timing)

    source = ScenarioSource(scenario(tmp_path / "c", spans=[
        span("a", duration_ms=0), span("b", duration_ms=-5), span("c", duration_ms=-0.4),
        span("d", duration_ms=math.nan), span("e", end=T0 - 1), span("f", end=T0 + 0.25),
        span("g", duration_ms=-1e9)]))
    assert [(s.span_id, s.duration_ms) for s in source._spans] == [("a", 0.0), ("f", 250.0)]
    assert source.warnings == ["traces.jsonl: 5 span(s) with a negative or non-finite "
                               "duration skipped (clock skew between hosts, or a corrupt "
                               "record)"]


def test_a_malformed_row_is_not_also_counted_as_an_unreadable_value(tmp_path: Path) -> None:
    path = scenario(tmp_path / "c")
    with (path / "metrics.csv").open("a") as csv:
        csv.write("1714000000,,latency_ms,12ms\n")
    assert ScenarioSource(path).warnings == ["metrics.csv: 1 malformed row(s) skipped"]
