"""A node's own fault (its NIC dropping packets) hurts the pods placed on it, whatever their
workload: where the lines say where pods run and the node exports its own series, the node
is named as the cause of the degraded services it hosts. Not when other nodes show the same
trouble at once (the cluster's load), and a trouble every node shows is not where one node's
began. A service whose errors began with the node's is its victim, whatever drifted before.
When a workload on it carries the node's first trouble (a batch job's CPU), that workload is
the cause: a noisy neighbour; not when that workload's use grew far less than the node's (a
database's reads under a disk that slowed down)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.scenario_files import investigate_json, write_case_json, write_metrics

T0 = 1_700_000_000
STEP = 30
N = 120


def write_case(path: Path, *, noisy_cluster: bool = False, hog: bool = False,
               retries: bool = False, faint_first: bool = False,
               slow_disk: bool = False, disk_hog: bool = False,
               busy_disks: bool = False, drifting: bool = False, reads_late: int = 0,
               blind_caller: bool = False, roomy: bool = False,
               louder_elsewhere: bool = False) -> Path:
    """front calls search and ads; search and ads run a pod on node-2 (and one elsewhere);
    node-2's receive errors jump at sample 88, and search, ads and front fail from 89.
    `hog`: instead, a batch job on node-2 (called by nobody) burns CPU from 87, node-2's CPU
    saturates with it. `retries`: with the NIC fault, node-2's CPU rises two samples later
    and so does the CPU of ads's pods (retrying). `faint_first`: with the hog, node-2's
    receive errors tick up faintly a sample before its CPU saturates (the job's traffic).
    `slow_disk`: instead, node-2's disk goes from a fifth busy to saturated at 88 (its
    volume's credits exhausted), while search's block reads had drifted up by a third from
    84 (more of its reads now wait). `disk_hog`: reindex's reads go from 10 to 600 blocks a
    second from 87 and node-2's disk saturates with them. `busy_disks`: with the NIC fault,
    every node's disk gets busier a sample before it (the afternoon's load), and search's
    reads with them. `drifting`: with the NIC fault, search's latency creeps up from 76, a
    few minutes before its errors begin with node-2's. `reads_late`: with `disk_hog`,
    reindex's reads are first seen that many samples after node-2's disk saturated (scraped
    and smoothed apart from the node's series). `blind_caller`: front also calls ledger (on
    node-1), which calls search where the topology does not say so: from 89 it fails harder
    than anyone, its new error lines naming search. `roomy`: with `hog`, node-2's CPU only
    goes from 40% to 60% busy (the job's cores were spare). `louder_elsewhere`: with the
    NIC fault, node-1 and node-3 always drop more (about 50 a second, noisily) and drop 60
    more from 88, while node-2's quiet NIC only reaches 21."""
    rng = np.random.default_rng(11)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "search", "ads", "billing", "ledger"):
        series[(service, "error_rate")] = 0.01 + rng.normal(0, 0.002, N)
        series[(service, "latency")] = 50 + rng.normal(0, 2, N)
        series[(service, "cpu")] = 30 + rng.normal(0, 1, N)
    series[("reindex", "cpu")] = 2 + rng.normal(0, 0.2, N)
    series[("reindex", "disk_reads")] = 10 + rng.normal(0, 0.5, N)
    series[("search", "disk_reads")] = 500 + rng.normal(0, 10, N)
    for node in ("node-1", "node-2", "node-3"):
        series[(node, "node_network_receive_errs_total_rate")] = 1 + rng.normal(0, 0.2, N)
        series[(node, "node_cpu_utilisation")] = 0.4 + rng.normal(0, 0.02, N)
        series[(node, "node_disk_io_time_seconds_total_rate")] = 0.17 + rng.normal(0, 0.01, N)
    if slow_disk or disk_hog:
        series[("node-2", "node_disk_io_time_seconds_total_rate")][88:] = 1.0
        if slow_disk:
            series[("search", "disk_reads")][84:] *= 1.35
        else:
            series[("reindex", "disk_reads")][88 + reads_late if reads_late else 87:] += 590
    elif hog:
        series[("reindex", "cpu")][87:] += 700
        series[("node-2", "node_cpu_utilisation")][87:] = 0.6 if roomy else 1.0
        if faint_first:
            series[("node-2", "node_network_receive_errs_total_rate")][86:] += 2
    elif louder_elsewhere:
        for node in ("node-1", "node-3"):
            series[(node, "node_network_receive_errs_total_rate")] = 50 + rng.normal(0, 10, N)
            series[(node, "node_network_receive_errs_total_rate")][88:] += 60
        series[("node-2", "node_network_receive_errs_total_rate")][88:] += 20
    else:
        series[("node-2", "node_network_receive_errs_total_rate")][88:] += 400
    if drifting:
        series[("search", "latency")][76:] += np.linspace(6, 14, N - 76)
    if busy_disks:
        for node in ("node-1", "node-2", "node-3"):
            series[(node, "node_disk_io_time_seconds_total_rate")][87:] += 0.1
        series[("search", "disk_reads")][87:] *= 2.5
    if retries:
        series[("node-2", "node_cpu_utilisation")][90:] += 0.3
        series[("ads", "cpu")][90:] += 20
    if noisy_cluster:
        for node in ("node-1", "node-3"):
            series[(node, "node_network_receive_errs_total_rate")][88:] += 300
    for service in ("search", "ads", "front"):
        series[(service, "error_rate")][89:] += 0.3
    if blind_caller:
        series[("ledger", "error_rate")][89:] += 0.6
    path.mkdir(parents=True)
    write_metrics(path, series, t0=T0, step=STEP)
    placed = {"front": ["node-1", "node-3"], "search": ["node-2", "node-3"],
              "ads": ["node-1", "node-2"], "billing": ["node-3"], "reindex": ["node-2"],
              "ledger": ["node-1"]}
    lines = [{"ts": T0 + i * STEP, "service": service, "level": "info",
              "message": f"handled request {i}", "node_name": node}
             for i in range(0, N, 4) for service, nodes in placed.items() for node in nodes]
    # The pods on node-2 log their failed calls: a new error pattern, read on the call path
    # as a code fault of each, until the node is seen.
    lines += [{"ts": T0 + i * STEP + k, "service": service, "level": "error",
               "message": f"connection reset by peer while reading response {i}-{k}",
               "node_name": "node-2"}
              for i in range(89, N) for service in ("search", "ads") for k in range(6)]
    if blind_caller:
        lines += [{"ts": T0 + i * STEP + k, "service": "ledger", "level": "error",
                   "message": f"upstream search returned 503 for entry {i}-{k}",
                   "node_name": "node-1"} for i in range(89, N) for k in range(8)]
    (path / "logs.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighErrorRate", service="front",
                    signal="errors", fired_at=95,
                    topology=(("front", "search"), ("front", "ads"))
                    + ((("front", "ledger"),) if blind_caller else ()))
    return path


def test_the_node_its_degraded_services_share_is_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "nic"), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "node-2" and top["kind"].startswith("network")
    assert "node-2" in top["summary"]


def test_the_same_trouble_on_every_node_is_not_one_nodes_fault(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "cluster", noisy_cluster=True), capsys)
    assert report["root_causes"][0]["service"] != "node-2" or report["abstained"]


def test_a_workload_burning_the_nodes_cpu_is_the_noisy_neighbour(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "hog", hog=True), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("reindex", "cpu")
    assert "node-2" in top["summary"]


def test_a_node_with_room_to_spare_slowed_nothing_placed_on_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The job's CPU rose as before, but its node went from 40% to 60% busy: nothing on it
    # queued behind the job, and neither the node nor the job is named for what failed.
    report = investigate_json(write_case(tmp_path / "roomy", hog=True, roomy=True), capsys)
    named = [(c["service"], c["summary"]) for c in report["root_causes"]]
    assert all("shares node-2" not in summary for _, summary in named), named
    assert not any(service == "node-2" and not report["abstained"]
                   for service, _ in named[:1]), report["summary"]


def test_the_workload_carrying_the_nodes_main_trouble_is_the_hog_after_a_faint_first_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A few receive errors a sample before the CPU saturates open the node's trouble; the
    # saturation is its trouble, and reindex carries it.
    report = investigate_json(write_case(tmp_path / "faint", hog=True, faint_first=True),
                              capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("reindex", "cpu"), report["summary"]


def test_what_a_pod_carries_of_the_nodes_later_trouble_does_not_make_it_the_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "retries", retries=True), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "node-2" and top["kind"].startswith("network")


def test_a_disk_that_slowed_under_a_database_is_the_nodes_fault_not_the_databases(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # search's reads rose before the disk saturated, but by a third while the disk went
    # from a fifth busy to full: search did not fill it.
    report = investigate_json(write_case(tmp_path / "slow", slow_disk=True), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("node-2", "disk"), report["summary"]


def test_a_workload_whose_reads_filled_the_disk_is_the_hog(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_case(tmp_path / "reads", disk_hog=True), capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("reindex", "disk"), report["summary"]


def test_a_workload_whose_reads_show_two_minutes_after_the_disk_is_still_the_hog(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Two onsets read from smoothed series, each up to a sample off, sampled apart: four
    # thirty-second samples late (a database's reads ramping up under a node whose quieter
    # series crossed first) is still the same moment.
    report = investigate_json(write_case(tmp_path / "late", disk_hog=True, reads_late=4),
                              capsys)
    top = report["root_causes"][0]
    assert (top["service"], top["kind"]) == ("reindex", "disk"), report["summary"]


def test_a_quiet_node_whose_drops_stood_out_of_its_own_noise_alone_is_not_singled_out(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # node-2's drops stand furthest out of its own (quiet) noise, but the busier nodes beside
    # it drop more, before and during: nothing singles node-2 out.
    report = investigate_json(write_case(tmp_path / "louder", louder_elsewhere=True), capsys)
    assert all(c["service"] != "node-2" for c in report["root_causes"][:1]), report["summary"]


def test_a_trouble_every_node_shows_opens_no_nodes_fault(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Every disk got busier a sample before node-2's NIC began dropping packets: that is the
    # cluster's load, not node-2's first trouble, and search's reads rising with it do not
    # make search a hog.
    report = investigate_json(write_case(tmp_path / "busy", busy_disks=True), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "node-2" and top["kind"].startswith("network"), report["summary"]


def test_a_service_that_began_failing_with_the_node_is_its_victim_whatever_it_did_before(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # search's latency drifted up a few minutes before; its errors began with node-2's
    # drops, and that is what the node explains.
    report = investigate_json(write_case(tmp_path / "drift", drifting=True), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "node-2" and top["kind"].startswith("network"), report["summary"]


def test_a_caller_elsewhere_failing_on_calls_to_the_nodes_victims_is_the_nodes_doing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # ledger runs on node-1 and fails harder than anyone from the node's moment on; its lines
    # name search, a victim on node-2, though the topology lists no such call.
    report = investigate_json(write_case(tmp_path / "blind", blind_caller=True), capsys)
    top = report["root_causes"][0]
    assert top["service"] == "node-2" and top["kind"].startswith("network"), report["summary"]


def test_a_utilisation_is_told_by_its_words_whatever_separates_them() -> None:
    from agents.sre.nodes import _UTILISATION

    for name in ("node_cpu_utilisation", "system.io.util", "disk_io_util",
                 "node_disk_io_time_seconds_total", "node-disk-io-time-seconds-total",
                 "instance:disk_util:ratio", "disk-io-util"):
        assert _UTILISATION.search(name), name
    for name in ("node_disk_io_time_weighted_seconds_total",
                 "node-disk-io-time-weighted-seconds-total", "utility_calls", "node_disk_io_now"):
        assert not _UTILISATION.search(name), name


def write_quiet_case(path: Path, *, node_busy: float) -> Path:
    """front's latency alert fires on an ordinary wobble (nothing below it moved); reindex,
    a batch job the topology does not know, runs on node-2 beside search from sample 70, its
    CPU twenty times its idle level; node-2 goes from 30% busy to `node_busy`."""
    rng = np.random.default_rng(5)
    series: dict[tuple[str, str], np.ndarray] = {}
    for service in ("front", "search"):
        series[(service, "latency")] = 50 + rng.normal(0, 2, N)
        series[(service, "cpu")] = 30 + rng.normal(0, 1, N)
    series[("front", "latency")][90:] += 9  # past the alert's threshold, and nothing else
    series[("reindex", "cpu")] = 2 + rng.normal(0, 0.2, N)
    series[("reindex", "cpu")][70:] += 40
    for node in ("node-1", "node-2"):
        series[(node, "node_cpu_utilisation")] = 0.3 + rng.normal(0, 0.01, N)
    series[("node-2", "node_cpu_utilisation")][70:] = node_busy + rng.normal(0, 0.01, N - 70)
    write_metrics(path, series, t0=T0, step=STEP)
    placed = {"front": "node-1", "search": "node-2", "reindex": "node-2"}
    (path / "logs.jsonl").write_text("".join(
        json.dumps({"ts": T0 + i * STEP, "service": s, "level": "info",
                    "message": f"handled request {i}", "node_name": node}) + "\n"
        for i in range(0, N, 4) for s, node in placed.items()))
    write_case_json(path, t0=T0, step=STEP, samples=N, name="HighLatency", service="front",
                    signal="latency", fired_at=95, topology=(("front", "search"),))
    return path


def test_a_job_busy_on_a_node_with_room_to_spare_is_no_unknown_cause(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The job's CPU rose long before the alert, far out of its own noise, but its node kept
    # most of its cores idle: it took nothing from anyone, so it is no cause off the path.
    report = investigate_json(write_quiet_case(tmp_path / "roomy", node_busy=0.45), capsys)
    named = [c["service"] for c in report["root_causes"]]
    assert report["abstained"] or named[:1] != ["reindex"], report["summary"]


def test_a_job_that_filled_the_node_beside_the_path_is_still_named(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = investigate_json(write_quiet_case(tmp_path / "full", node_busy=0.97), capsys)
    assert not report["abstained"], report["summary"]
    assert report["root_causes"][0]["service"] == "reindex", report["summary"]
