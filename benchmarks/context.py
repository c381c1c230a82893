"""Model input tokens per investigation as the system grows: nightowl against the naive agent.

The same synthetic incident family (a CPU fault) on systems of 10, 50 and 200 services. Both
agents talk to the same scripted model through the real gateway and SDK; the model server
counts input tokens from each request body (about four characters a token). nightowl asks
the planner (which finishes at once here) and the summarizer, sending a compact brief; the
naive agent sends every query's output in one prompt.
Target: nightowl's tokens at 200 services at most 1.5× those at 10.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from agents.sre.assist import ModelAssist
from agents.sre.context import AlertContext
from agents.sre.investigator import Investigator
from evals.naive_agent import naive_investigation
from evals.synthetic import generate_case
from integrations.telemetry.scenario import ScenarioSource
from storage.db import make_engine, upgrade
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, gateway_for, tool
from tests.fakes.server import ServerThread

SIZES = (10, 50, 200)
CASES = 3  # incidents per size; the figure is their mean


async def measure(case: Path, store: Store, server: FakeModelServer, url: str
                  ) -> tuple[int, int, str]:
    source = ScenarioSource(case)
    ctx = AlertContext.from_case(source.case)
    gateway = gateway_for(store, anthropic_url=url)

    server.counted.clear()
    server.script = [tool("finish"), tool("write_summary", claims=[
        {"text": "the alerting service is degraded", "evidence": ["ev-1"]}])]
    report = await Investigator(source, assist=ModelAssist(gateway)).investigate(ctx)
    ours = sum(server.counted)

    server.counted.clear()
    server.script = []
    await naive_investigation(source, ctx, gateway)
    naive = sum(server.counted)
    top = report.root_causes[0].service if report.root_causes else "-"
    return ours, naive, top


async def run() -> dict[int, tuple[float, float]]:
    server = FakeModelServer(input_tokens=None)
    results: dict[int, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp, ServerThread(server.app()) as running:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        upgrade(engine)
        store = Store(engine)
        for size in SIZES:
            ours_all, naive_all = [], []
            for index in range(CASES):
                case = generate_case(4242, index, "cpu", Path(tmp) / f"s{size}-{index}",
                                     services=size)
                ours, naive, _ = await measure(case, store, server, running.url)
                ours_all.append(ours)
                naive_all.append(naive)
            results[size] = (sum(ours_all) / CASES, sum(naive_all) / CASES)
        store.close()
    return results


def main() -> None:
    results = asyncio.run(run())
    print(f"{'services':>9} {'nightowl':>10} {'naive':>10}   input tokens per investigation "
          f"(mean of {CASES})")
    for size, (ours, naive) in results.items():
        print(f"{size:>9} {ours:>10,.0f} {naive:>10,.0f}")
    first, last = results[SIZES[0]], results[SIZES[-1]]
    print(f"growth {SIZES[0]}→{SIZES[-1]} services: nightowl ×{last[0] / first[0]:.2f} "
          f"(target ≤ 1.5), naive ×{last[1] / first[1]:.2f}")


if __name__ == "__main__":
    main()
