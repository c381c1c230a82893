"""The alert, the topology and the change events may spell a service otherwise than the
telemetry does (`TS_ORDER_SERVICE`, `ts_order_service`, `ts-order-service`): a scenario is
read in the telemetry's spelling, and says so."""

from __future__ import annotations

import json
from pathlib import Path

from bot.cli import main as cli
from integrations.telemetry.names import Spellings
from integrations.telemetry.scenario import ScenarioSource
from tests.scenario_files import caller_and_slow_callee, write_metrics

T0 = 1_700_000_000


def test_a_name_is_matched_without_case_or_separators_and_only_when_unambiguous() -> None:
    names = Spellings(["ts-order-service", "front-end", "cart", "Cart_"])
    assert names.resolve("ts-order-service") == "ts-order-service"
    assert names.resolve("TS_ORDER_SERVICE") == "ts-order-service"
    assert names.resolve("Front End") == "front-end"
    assert names.resolve("CART") == "CART"          # two services could be meant
    assert names.resolve("payment") == "payment"    # none is
    assert names.resolve("") == ""
    other = Spellings(["订单服务", "--"])
    assert other.resolve("订单服务") == "订单服务"
    assert other.resolve("支付服务") == "支付服务"    # another service, not a blank match
    assert other.resolve("__") == "__"


def write_case(path: Path) -> Path:
    n, step = 120, 30
    write_metrics(path, caller_and_slow_callee("front-end", "order-db", seed=3, n=n, since=90),
                  t0=T0, step=step)
    (path / "events.jsonl").write_text(json.dumps(
        {"ts": T0 + 60 * step, "service": "ORDER_DB", "kind": "deploy", "summary": "v2"}) + "\n")
    (path / "case.json").write_text(json.dumps({
        "id": "c", "window": {"start": T0, "end": T0 + (n - 1) * step},
        "alert": {"name": "HighLatency", "service": "Front_End", "signal": "latency",
                  "fired_at": T0 + 95 * step},
        "topology": [{"caller": "FRONT_END", "callee": "order_db"}]}))
    return path


def test_the_case_is_read_in_the_telemetrys_spelling(tmp_path: Path) -> None:
    source = ScenarioSource(write_case(tmp_path / "c"))
    assert source.case.alert.service == "front-end"
    assert source.case.topology == [("front-end", "order-db")]
    assert [e.service for e in source._events] == ["order-db"]
    assert any("'Front_End' as 'front-end'" in n for n in source.notes)


def test_the_investigation_meets_the_series_its_alert_names(
        tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli(["investigate", str(write_case(tmp_path / "c")), "--json", "--no-model"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert not report["abstained"]
    # The deploy written for ORDER_DB half an hour before is order-db's: it leads.
    assert (report["root_causes"][0]["service"], report["root_causes"][0]["kind"]) == \
        ("order-db", "deploy")
    assert "telemetry spells" in report["summary"]


def test_an_address_a_pod_or_a_decoration_names_the_service_when_unambiguous() -> None:
    names = Spellings(["cart", "payments-api", "order-service", "webserver", "web",
                       "users", "users-svc", "10.0.0.7"])
    assert names.resolve("cart.shop.svc.cluster.local") == "cart"
    assert names.resolve("shop/cart") == "cart"
    assert names.resolve("cart-7d9f8b6c5-x2kqp") == "cart"     # one of its pods
    assert names.resolve("payments-api-svc") == "payments-api"
    assert names.resolve("Payments_API_Service") == "payments-api"
    assert names.resolve("order") == "order-service"            # the decoration the other way
    assert names.resolve("webserver") == "webserver"            # a word, not a decoration
    assert names.resolve("web-server") == "webserver"          # its spelling, first
    assert names.resolve("web-app") == "web"
    assert names.resolve("users-service") == "users-service"    # users or users-svc: either
    assert names.resolve("10.0.0.8") == "10.0.0.8"              # an address, not a name
    assert names.resolve("shop/checkout") == "shop/checkout"    # no such service
