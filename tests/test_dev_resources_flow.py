"""Open resource PR, end to end and every boundary real: an Alertmanager alert on a service whose
memory climbed until its pods were OOM-killed → the investigation blames memory → the thread
offers "Open resource PR" (with a confirmation) → an authorized click → a draft
`resource-bump` PR in the fake GitHub that changes only that container's `resources:` → the
thread says so in the fake Slack. Plus the figures read back from an investigation's evidence.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agents.dev.manifests import need_of
from agents.dev.resource_need import ResourceFigures, figures_from_report
from agents.dev.resources import memory_target
from agents.sre.report import Evidence, Report, RootCause
from bot.demo.run import alertmanager_payload
from evals.synthetic import generate_case
from integrations.telemetry.scenario import load_case
from tests.dev_e2e import HOOK, dev_stack, until
from tests.dev_support import REPO
from tests.fakes.slack import FakeSlack

MI = 1024 ** 2


def oom_scenario(tmp: Path) -> Path:
    """A generated memory fault in `search` (seed 11, case 0), with the OOM kills that a
    memory leak ends in, as kube-state-metrics reports them."""
    out = generate_case(11, 0, "memory", tmp / "oom-scenario")
    truth = json.loads((out / "truth.json").read_text())
    assert truth["root_cause"] == {"service": "search", "kind": "memory"}
    case = load_case(out)
    fired = case.alert.fired_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    with (out / "events.jsonl").open("a") as handle:
        handle.write(json.dumps({"ts": fired, "service": "search", "kind": "restart",
                                 "summary": "container search of pod search-7d9f-0 restarted "
                                            "(last terminated: OOMKilled)"}) + "\n")
    return out


async def test_oom_alert_to_a_draft_resource_pr(tmp_path: Path,
                                                fake_slack: tuple[FakeSlack, str]) -> None:
    scenario = oom_scenario(tmp_path)
    async with dev_stack(tmp_path, *fake_slack, scenario=scenario) as e2e:
        case = load_case(scenario)
        payload = alertmanager_payload(case, status="firing", scenario="oom")
        response = await e2e.http.post("/webhooks/alertmanager", json=payload,
                                       headers={"Authorization": f"Bearer {HOOK}"})
        assert response.status_code == 202
        await until(lambda: any("Resource change" in json.dumps(c.args.get("blocks"))
                                for c in e2e.slack.of("chat.postMessage")), timeout=120)
        offer = next(c for c in e2e.slack.of("chat.postMessage")
                     if "Resource change" in json.dumps(c.args.get("blocks")))
        shown = json.dumps(offer.args["blocks"])
        assert "deploy/search.yaml" in shown and "memory limit 512Mi" in shown
        value, channel = e2e.button("dev_open_resource")  # asserts the confirmation dialog
        await e2e.click("dev_open_resource", value, user="U666", channel=channel)
        await until(lambda: any(a.action == "refused:open_pr" for a in e2e.audits()))
        assert e2e.world.fake.pulls[REPO] == []
        await e2e.click("dev_open_resource", value, user="U42", channel=channel)
        await until(lambda: any("Draft pull request opened" in t for t in e2e.thread_texts()),
                    timeout=60)
        [pr] = e2e.world.fake.pulls[REPO]
        assert pr.draft and pr.head.startswith("nightowl/resources-search")
        assert pr.labels == ["nightowl", "resource-bump"] and pr.base == "main"
        assert "Raise resources for search" in pr.title
        assert "memory pressure" in pr.body and "mem_usage of search" in pr.body
        assert "OOM-killed: its memory limit becomes at least 1.25×" in pr.body
        assert "A resource change is not tested here" in pr.body
        # Only the search container's memory limit moved: peak 98% of 512Mi × 1.15 = 579Mi
        # is below the OOM-kill floor 512Mi × 1.25 = 640Mi.
        bare = e2e.world.fake.repos[REPO].path
        diff = subprocess.run(["git", "diff", "main", pr.head], cwd=bare, check=True,
                              capture_output=True, text=True).stdout
        changed = [ln for ln in diff.splitlines()
                   if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        assert changed == ["-              memory: 512Mi   # sized in January",
                           "+              memory: 640Mi   # sized in January"], changed
        actions = [a.action for a in e2e.audits()]
        assert "dev_click:resource" in actions and "pr_opened" in actions


def test_figures_come_from_the_investigations_evidence() -> None:
    report = Report(root_causes=[RootCause(service="api", kind="memory", confidence=0.8,
                                           summary="api: memory pressure")], evidence=[
        Evidence(id="ev-1", query='prom{service="api"} metric="memory_working_set_bytes"',
                 finding="memory_working_set_bytes of api 300Mi → 700Mi", service="api",
                 signal="memory", unit="bytes", numbers={"peak": 700 * MI, "p95": 690 * MI}),
        Evidence(id="ev-2", query='change events{service="api"}', service="api",
                 signal="restart", finding="restart of api at 10:02: container api-server of "
                                           "pod api-5f-1 restarted (last terminated: "
                                           "OOMKilled)"),
        Evidence(id="ev-3", query='prom{service="api"} metric="cpu_usage_cores"',
                 finding="cpu", service="api", signal="cpu", unit="cores",
                 numbers={"peak": 1.9, "p95": 1.2}),
        Evidence(id="ev-4", query='prom{service="db"} metric="memory_working_set_bytes"',
                 finding="db memory", service="db", signal="memory", unit="bytes",
                 numbers={"peak": 9000 * MI})])
    figures = figures_from_report(report)
    assert figures is not None
    assert (figures.container, figures.oom_killed, figures.peak_memory_bytes) == \
        ("api-server", True, 700 * MI)
    need = need_of(figures)
    assert need.cpu_p95_cores is None  # memory was blamed: the CPU request stays
    # max(700Mi × 1.15, 512Mi × 1.25) = 805Mi
    assert round(memory_target(need, 512 * MI) or 0) == round(700 * MI * 1.15)
    cpu = Report(root_causes=[RootCause(service="api", kind="cpu", confidence=0.8,
                                        summary="api: CPU saturated")],
                 evidence=report.evidence)
    cpu_figures = figures_from_report(cpu)
    assert cpu_figures is not None and need_of(cpu_figures).cpu_p95_cores == 1.2
    assert figures_from_report(Report(root_causes=[RootCause(
        service="api", kind="deploy", confidence=0.9, summary="a deploy")])) is None
    assert ResourceFigures.from_dict(figures.as_dict()) == figures


def test_a_fix_case_can_carry_resources(tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    """case.json's optional `resources` block: `nightowl fix` bumps the container's
    resources in the repository's manifest; bad figures are named, never a traceback."""
    from bot.cli import main as cli_main
    from tests.fakes.gitrepo import SEARCH_MANIFEST, commit, run_git

    repo = tmp_path / "case" / "repo"
    repo.mkdir(parents=True)
    run_git(repo, "init", "-q", "-b", "main")
    commit(repo, {"deploy/search.yaml": SEARCH_MANIFEST,
                  "deploy/other.yaml": "containers:\n  - name: web\n"}, "manifests")
    case = {"id": "oom-1", "error": {"title": "OOMKilled", "type": "OOMKilled",
                                     "value": "search", "service": "search"},
            "resources": {"kind": "memory", "oom_killed": True,
                          "peak_memory_bytes": 600 * MI}}
    (tmp_path / "case" / "case.json").write_text(json.dumps(case))
    assert cli_main(["fix", str(tmp_path / "case"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rem = out["remediation"]
    assert rem["kind"] == "resource" and rem["branch"] == "nightowl/resources-search"
    # max(600Mi × 1.15, 512Mi × 1.25) = 690Mi, and nothing else moves
    assert "+              memory: 690Mi   # sized in January" in rem["diff"]
    assert [(f["path"], f["line"]) for f in out["files"]] == [("deploy/search.yaml", 10)]
    case["resources"] = {"kind": "disk"}
    (tmp_path / "case" / "case.json").write_text(json.dumps(case))
    assert cli_main(["fix", str(tmp_path / "case"), "--json"]) != 0
    assert "resources.kind must be one of memory, cpu" in capsys.readouterr().err
    case["resources"] = {"kind": "memory", "container": "nope", "oom_killed": True}
    (tmp_path / "case" / "case.json").write_text(json.dumps(case))
    assert cli_main(["fix", str(tmp_path / "case"), "--json"]) == 0
    missing = json.loads(capsys.readouterr().out)["remediation"]
    assert missing["kind"] == "none" and "container named `nope`" in missing["message"]


def test_cpu_request_from_the_p95_share_of_the_limit() -> None:
    from agents.dev.resources import propose_resource_bump
    from tests.fakes.gitrepo import SEARCH_MANIFEST

    report = Report(root_causes=[RootCause(service="search", kind="cpu", confidence=0.8,
                                           summary="search: CPU saturated")], evidence=[
        Evidence(id="ev-1", query='prom{service="search"} metric="cpu_limit_share"',
                 finding="container CPU against its limit 40% → 98%", service="search",
                 signal="cpu", unit="share", numbers={"peak": 0.99, "p95": 0.9}),
        Evidence(id="ev-2", query='prom{service="search"} metric="cpu_throttled_share"',
                 finding="CPU periods throttled 2% → 60%", service="search", signal="cpu",
                 unit="share", numbers={"peak": 0.6, "p95": 0.55})])
    figures = figures_from_report(report)
    assert figures is not None and figures.cpu_p95_share == 0.9
    assert figures.throttled_share == 0.6 and not figures.oom_killed
    manifest = SEARCH_MANIFEST.replace("              memory: 512Mi   # sized in January",
                                       "              memory: 512Mi   # sized in January\n"
                                       "              cpu: 500m")
    rem = propose_resource_bump("deploy/search.yaml", manifest, need_of(figures))
    changed = sorted(ln for ln in rem.diff.splitlines()
                     if ln[:1] in "+-" and not ln.startswith(("+++", "---")))
    # p95 = 90% of the 500m limit = 450m; memory untouched (CPU was blamed, no OOM kill)
    assert changed == ["+              cpu: 450m", "-              cpu: 200m"], changed
    no_limit = propose_resource_bump("deploy/search.yaml", SEARCH_MANIFEST, need_of(figures))
    assert no_limit.kind == "none" and "sets no CPU limit" in no_limit.message
