"""Remediations beyond revert: a model-written code fix (reproduce first, sandboxed,
verified, with every rule-breaking edit refused) through the real gateway and SDK against a
scripted model server, and the resource bump's YAML edit."""

from __future__ import annotations

import json
from pathlib import Path

from agents.dev.engine import run_fix
from agents.dev.resources import ResourceNeed, parse_quantity, propose_resource_bump
from agents.dev.types import FixCase
from evals.fix.generate import build_case
from evals.fix.services import LATENT
from storage.repository import Store
from tests.fakes.llm import FakeModelServer, gateway_for, tool, tools
from tests.fakes.server import ServerThread

TEST = ("import pytest\nfrom inventory.stock import reserve\n\n\n"
        "def test_unknown_sku_is_a_clear_error():\n"
        "    with pytest.raises(ValueError):\n        reserve({}, 'kettle', 1)\n")
FIX_OLD = "    level = stock[sku]\n"
FIX_NEW = ("    if sku not in stock:\n        raise ValueError(f'unknown sku {sku}')\n"
           "    level = stock[sku]\n")


async def test_model_fix_is_reproduced_verified_and_rules_are_enforced(
        tmp_path: Path, sqlite_store: Store) -> None:
    fault = next(f for f in LATENT if f.name == "inventory-unknown-sku")
    directory = build_case(tmp_path, fault, seed=5, variant=1)
    server = FakeModelServer(script=[
        # reproduce: a new failing test, and an attempt to edit CI that is refused
        tools(("write_test", {"path": "tests/test_unknown_sku.py", "content": TEST}),
              ("replace", {"path": ".github/workflows/ci.yml", "old": "a", "new": "b"})),
        tool("finish"),
        # fix: try to skip an existing test and to touch the CI file, then the real fix
        tools(("read_file", {"path": "inventory/stock.py"}),
              ("replace", {"path": "tests/test_inventory.py", "old": "def test_reserve",
                           "new": "@pytest.mark.skip\ndef test_reserve"}),
              ("replace", {"path": "../outside.py", "old": "x", "new": "y"})),
        tool("replace", path="inventory/stock.py", old=FIX_OLD, new=FIX_NEW),
        tool("finish"),
    ])
    with ServerThread(server.app()) as running:
        gateway = gateway_for(sqlite_store, anthropic_url=running.url)
        result = await run_fix(FixCase.load(directory), model=gateway)
    rem = result.remediation
    assert rem.kind == "code", (rem.message, result.notes)
    assert rem.branch.startswith("nightowl/fix-")
    assert rem.verified is not None and rem.verified.before_exit not in (0, None)
    assert rem.verified.after_exit == 0
    assert set(rem.files) == {"inventory/stock.py", "tests/test_unknown_sku.py"}
    assert "+    if sku not in stock:" in rem.diff and ".github" not in rem.diff
    refusals = [n for n in result.notes if n.startswith("refused")]
    assert len(refusals) == 3, result.notes
    assert any("tests are never edited" in n for n in refusals)
    assert result.llm_calls == 5
    # untrusted text reaches the model only inside <data> tags
    first = json.dumps(server.requests[0]["messages"][0])
    assert "<data>" in first and "KeyError" in first


async def test_model_that_cannot_reproduce_gets_no_fix(tmp_path: Path,
                                                       sqlite_store: Store) -> None:
    fault = next(f for f in LATENT if f.name == "billing-no-regions")
    directory = build_case(tmp_path, fault, seed=5, variant=0)
    passing = "def test_nothing():\n    assert True\n"
    server = FakeModelServer(script=[
        tool("write_test", path="tests/test_repro.py", content=passing), tool("finish")])
    with ServerThread(server.app()) as running:
        result = await run_fix(FixCase.load(directory),
                               model=gateway_for(sqlite_store, anthropic_url=running.url))
    assert result.remediation.kind == "none"
    assert "does not fail" in result.remediation.message


MANIFEST = """# orders deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: orders   # the API
spec:
  template:
    spec:
      containers:
        - name: sidecar
          resources:
            limits: {memory: 128Mi}
        - name: orders
          image: "shop/orders:1.4"
          resources:
            requests:
              cpu: 250m      # measured in March
              memory: 256Mi
            limits:
              memory: 512Mi
              cpu: 300m
---
apiVersion: v1
kind: Service
metadata:
  name: orders
"""


def test_resource_bump_changes_only_that_containers_resources() -> None:
    mi = 1024 ** 2
    rem = propose_resource_bump("deploy/orders.yaml", MANIFEST, ResourceNeed(
        "orders", peak_memory_bytes=500 * mi, oom_limit_bytes=512 * mi, cpu_p95_cores=0.41))
    assert rem.kind == "resource" and rem.branch == "nightowl/resources-orders"
    changed = [ln for ln in rem.diff.splitlines()
               if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
    # max(500Mi × 1.15, 512Mi × 1.25) = 640Mi; CPU request at p95, the limit raised to match
    assert sorted(changed) == sorted([
        "-              cpu: 250m      # measured in March", "-              memory: 512Mi",
        "-              cpu: 300m", "+              cpu: 410m      # measured in March",
        "+              memory: 640Mi", "+              cpu: 410m"])
    peak_only = propose_resource_bump("deploy/orders.yaml", MANIFEST, ResourceNeed(
        "orders", peak_memory_bytes=600 * mi))
    assert "memory limit 512Mi → 690Mi" in peak_only.message  # 600 × 1.15 = 690 > 640
    values = "api:\n  replicas: 2\n  resources:\n    limits:\n      memory: 1Gi\n"
    helm = propose_resource_bump("values.yaml", values, ResourceNeed(
        "api", oom_limit_bytes=1024 * mi))
    assert "+      memory: 1280Mi" in helm.diff and "replicas: 2" not in "".join(
        ln for ln in helm.diff.splitlines() if ln.startswith(("+", "-")))
    missing = propose_resource_bump("values.yaml", values, ResourceNeed("nope", 1.0))
    assert missing.kind == "none" and "no container" in missing.message
    assert parse_quantity("1.5Gi") == 1.5 * 1024 ** 3 and parse_quantity("250m") == 0.25
