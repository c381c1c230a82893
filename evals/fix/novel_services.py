"""The `fix-novel` family: bug shapes the fix suite's templates (services.py) never make.

The held-out suite reuses the development suite's fault templates with other histories, so it
measures robustness to history, not to new kinds of bug. These faults are built to be
different in *shape*, the way real projects' regressions are:

- `deep-callee`: an off-by-one in a loop bound, in a helper two calls below the frame that
  raises (the helper has long returned when the error is raised);
- `default-arg`: a changed default argument, read through a local on the way to the raise;
- `serializer-key`: a renamed key in a serializer in one module, read by another;
- `merge`: the regression sits on a long-lived feature branch (authored before the deploy's
  start) that a merge commit brought in;
- `two-commits`: one change spread over two commits in the range; only reverting both turns
  the tests green;
- `caller-input`: old code meeting new input: the raising line is old, a changed caller in
  the range feeds it input it never handled (the result must say which case it is);
- `renamed`: the faulty file is renamed inside the range, after the fault;
- `vendored`: the innermost frame is a vendored library in the repository, updated in the
  same release; it must not be blamed.

Each fault's `edits` are applied one commit each (all of them are the regression); the base
code adds a few modules to services.py's and tests that each fault breaks, so a revert can be
checked by running the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from evals.fix.services import SOURCES


def _patched(path: str, old: str, new: str) -> str:
    text = SOURCES[path]
    assert text.count(old) == 1, (path, old)
    return text.replace(old, new)


NOVEL_SOURCES: dict[str, str] = dict(SOURCES)
NOVEL_SOURCES.update({
    "orders/money.py": SOURCES["orders/money.py"] + '''

def allocate(cents, parts):
    shares = []
    for _ in range(parts):
        shares.append(cents // parts)
    return shares
''',
    "orders/api.py": _patched("orders/api.py", "from orders.money import apply_discount, "
                              "split_evenly", "from orders.money import allocate, "
                              "apply_discount, split_evenly") + '''

def plan_split(store, order_id, people):
    total = order_total(store, order_id)
    return dict(zip(people, allocate(total, len(people))))


def payer_share(store, order_id, people):
    shares = plan_split(store, order_id, people)
    return shares[people[-1]]
''',
    "inventory/locations.py": _patched(
        "inventory/locations.py",
        'def warehouse_for(level):\n    site = level.get("site", "main")',
        'def warehouse_for(level, default="main"):\n    site = level.get("site", default)'),
    "billing/export.py": '''"""Invoice lines in the accounting system's export shape."""


def serialize_line(line):
    return {"item": line["name"], "net_cents": line["net"], "tax_cents": line["tax"]}
''',
    "billing/report.py": '''"""Totals for the monthly report, from exported invoice lines."""

from billing.export import serialize_line


def report_total(invoice):
    rows = [serialize_line(line) for line in invoice["lines"]]
    return sum(row["net_cents"] + row["tax_cents"] for row in rows)
''',
    "billing/ingest.py": '''"""Ingest a metering export file."""

from billing.usage import parse_usage


def ingest(export):
    rows = [r for r in export.splitlines() if r.strip()]
    return parse_usage(rows)
''',
    "vendor/__init__.py": "",
    "vendor/csvlite.py": '''"""csvlite 1.2 (vendored): split delimited rows."""


def split_row(row, sep=","):
    fields = row.split(sep)
    if len(fields) < 2:
        raise ValueError(f"not a delimited row: {row!r}")
    return [f.strip() for f in fields]


def join_row(fields, sep=","):
    return sep.join(str(f) for f in fields)
''',
    "inventory/importer.py": '''"""Import stock counts from a warehouse file (sku,count lines)."""

from vendor.csvlite import split_row


def import_counts(lines):
    counts = {}
    for line in lines:
        sku, qty = split_row(line)
        counts[sku] = int(qty)
    return counts
''',
    "tests/test_novel.py": '''from billing.ingest import ingest
from billing.invoice import build_invoice
from billing.report import report_total
from billing.usage import parse_usage
from inventory.importer import import_counts
from orders.api import payer_share

STORE = {"o1": {"id": "o1", "customer": {"name": "Ada"},
                "lines": [{"sku": "tea", "unit_cents": 250, "qty": 2},
                          {"sku": "mug", "unit_cents": 900}]}}


def test_payer_share():
    assert payer_share(STORE, "o1", ["ada", "bob"]) == 700


def test_report_total():
    invoice = build_invoice({"id": "acme", "region": "EU"},
                            [{"name": "cpu", "units": 10, "price": 3}])
    assert report_total(invoice) == 36


def test_ingest_skips_blank_lines():
    assert len(ingest("cpu, 10, 3\\n\\ndisk, 5, 2\\n")) == 2


def test_compact_rows():
    assert parse_usage(["gpu,2,30"])[0]["units"] == 2


def test_import_counts():
    assert import_counts(["tea,3", "mug,1"]) == {"tea": 3, "mug": 1}
''',
})


@dataclass(frozen=True, slots=True)
class Edit:
    path: str     # the file as first imported (renames are followed by the generator)
    old: str      # replaced exactly once
    new: str
    title: str    # the commit's title


@dataclass(frozen=True, slots=True)
class NovelFault:
    name: str
    shape: str
    files: tuple[str, ...]         # the files to fix (first imported paths), best first
    edits: tuple[Edit, ...]        # the regression, one commit each; all are suspects
    entry: str                     # Python statements that raise in production
    via_merge: bool = False        # the edits sit on a long-lived branch merged in range
    rename: tuple[str, str] | None = None  # a module renamed in the range, after the edits
    vendor_update: Edit | None = None      # a vendored library's update shipped alongside
    old_code: bool = False         # the raising line predates the range (new input)

    @property
    def paths(self) -> set[str]:
        return {e.path for e in self.edits} | set(self.files) | (
            {self.vendor_update.path} if self.vendor_update else set())


ORDERS = ('STORE = {"o1": {"id": "o1", "customer": {"name": "Ada"}, "lines": '
          '[{"sku": "tea", "unit_cents": 250, "qty": 2}]}}\n')
NOVEL: tuple[NovelFault, ...] = (
    NovelFault(
        "orders-allocate-bound", "deep-callee", ("orders/money.py",),
        (Edit("orders/money.py", "for _ in range(parts):", "for _ in range(parts - 1):",
              "Allocate the remainder share separately"),),
        "from orders.api import payer_share\n" + ORDERS +
        "payer_share(STORE, 'o1', ['ada', 'bob'])\n"),
    NovelFault(
        "inventory-default-site", "default-arg", ("inventory/locations.py",),
        (Edit("inventory/locations.py", 'def warehouse_for(level, default="main"):',
              "def warehouse_for(level, default=None):",
              "No implicit warehouse site"),),
        "from inventory.stock import reserve\n"
        "reserve({'pot': {'available': 1, 'reserved': 0}}, 'pot', 1)\n"),
    NovelFault(
        "billing-export-key", "serializer-key", ("billing/export.py",),
        (Edit("billing/export.py", '"net_cents": line["net"]', '"net": line["net"]',
              "Export: name the net amount like the ledger does"),),
        "from billing.invoice import build_invoice\nfrom billing.report import report_total\n"
        "report_total(build_invoice({'id': 'acme', 'region': 'EU'}, "
        "[{'name': 'cpu', 'units': 2, 'price': 5}]))\n"),
    NovelFault(
        "orders-order-id", "merge", ("orders/mapper.py",),
        (Edit("orders/mapper.py", '"id": order["id"],', '"id": order["order_id"],',
              "Read the order_id field of the new order store"),),
        "from orders.api import get_order\n" + ORDERS + "get_order(STORE, 'o1')\n",
        via_merge=True),
    NovelFault(
        "inventory-held-two-step", "two-commits", ("inventory/stock.py",),
        (Edit("inventory/stock.py", '{"available": 0, "reserved": 0, "site": "main"}',
              '{"available": 0, "held": 0, "site": "main"}',
              "Held stock, part 1: new records"),
         Edit("inventory/stock.py", 'level["reserved"] += qty', 'level["held"] += qty',
              "Held stock, part 2: reservations")),
        "from inventory.stock import reserve\n"
        "reserve({'tea': {'available': 5, 'reserved': 0, 'site': 'main'}}, 'tea', 1)\n"),
    NovelFault(
        "billing-ingest-blank-lines", "caller-input", ("billing/ingest.py", "billing/usage.py"),
        (Edit("billing/ingest.py", "rows = [r for r in export.splitlines() if r.strip()]",
              "rows = export.splitlines()", "Ingest: keep every line of the export"),),
        "from billing.ingest import ingest\ningest('cpu, 10, 3\\n\\ngpu, 1, 30\\n')\n",
        old_code=True),
    NovelFault(
        "billing-compact-rows", "renamed", ("billing/usage.py",),
        (Edit("billing/usage.py", 'name, units, price = row.split(",")',
              'name, units, price = row.split(", ")', "Parse the export's spaced columns"),),
        "from billing.usage import parse_usage\nparse_usage(['gpu,2,30'])\n",
        rename=("billing/usage.py", "billing/metering.py")),
    NovelFault(
        "inventory-import-separator", "vendored", ("inventory/importer.py",),
        (Edit("inventory/importer.py", "sku, qty = split_row(line)",
              'sku, qty = split_row(line, sep=";")',
              "Warehouse files are semicolon-separated"),),
        "from inventory.importer import import_counts\nimport_counts(['tea,3'])\n",
        vendor_update=Edit("vendor/csvlite.py",
                           'raise ValueError(f"not a delimited row: {row!r}")',
                           'raise ValueError(f"csvlite: not a delimited row: {row!r}")',
                           "Vendor csvlite 1.3")),
)
