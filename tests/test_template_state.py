"""The log-template miner kept between runs: the same line keeps its template, whatever else a
later run happens to read first; a damaged state file is set aside, never trusted."""

from __future__ import annotations

import json
from pathlib import Path

from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from integrations.error_sources.templates import TemplateMiner, TemplateStore
from integrations.telemetry.scenario import ScenarioSource
from tests.test_search_v2 import FAULT, T0, noisy, write

FIRST = ["payment declined for card visa gold", "payment declined for card amex green"]


def template_of(miner: TemplateMiner, line: str) -> str:
    return miner.cluster(miner.add(line)).template


def test_a_line_keeps_its_template_across_runs(tmp_path: Path) -> None:
    state = tmp_path / "templates.json"
    store = TemplateStore(state)
    for line in FIRST:
        store.miner("pay").add(line)
    learned = template_of(store.miner("pay"), FIRST[0])
    assert learned == "payment declined for card <*> <*>"
    store.save()
    # A fresh miner, reading that line first, would call it something else...
    assert template_of(TemplateMiner(), FIRST[0]) != learned
    # ...the restored one keeps what it learned, for the same line and the same cluster.
    again = TemplateStore(state).miner("pay")
    assert template_of(again, FIRST[0]) == learned
    assert again.add(FIRST[1]) == again.add(FIRST[0])
    assert TemplateStore(state).miner("other").clusters == []


def test_saving_keeps_services_another_run_wrote(tmp_path: Path) -> None:
    state = tmp_path / "templates.json"
    one, two = TemplateStore(state), TemplateStore(state)
    one.miner("a").add("disk full on /var")
    two.miner("b").add("socket closed by peer")
    one.save()
    two.save()
    assert set(json.loads(state.read_text())) == {"a", "b"}


def test_a_damaged_state_is_set_aside_and_said(tmp_path: Path) -> None:
    state = tmp_path / "templates.json"
    state.write_text("{not json")
    store = TemplateStore(state)
    assert store.problem and "unreadable" in store.problem
    assert (tmp_path / "templates.json.corrupt").read_text() == "{not json"
    store.miner("a").add("x failed")
    store.save()
    assert "a" in json.loads(state.read_text())


async def test_the_investigator_reads_and_keeps_the_shared_state(tmp_path: Path) -> None:
    front = noisy(100, 1)
    front[FAULT:] += 200
    logs = [{"ts": T0 + 60 * m, "service": "front", "level": "error",
             "message": f"upstream refused user {name}"}
            for m, name in zip(range(100, 110), ["alice", "bob"] * 5, strict=True)]
    case = write(tmp_path / "c", {("front", "latency_ms"): front}, edges=[], logs=logs)
    state = tmp_path / "state" / "templates.json"
    store = TemplateStore(state)
    store.miner("front").add("upstream refused user carol")  # learned by an earlier scan
    store.save()
    source = ScenarioSource(case)
    report = await Investigator(source, templates=TemplateStore(state)).investigate(
        AlertContext.from_case(source.case))
    saved = TemplateMiner.from_state(json.loads(state.read_text())["front"])
    assert [c.template for c in saved.clusters] == ["upstream refused user <*>"]
    assert saved.clusters[0].size == 11
    assert "unreadable" not in report.summary
