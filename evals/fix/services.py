"""The small Python services the fix suite's repositories hold, and the faults put into them.

Three services (orders, billing, inventory) with their tests. A regression is an edit a
developer could plausibly make (a renamed key, a dropped guard, a changed call) that breaks
one of the existing tests; its `entry` is the production call that raises, run for real to
produce the error event. A latent fault is old code that only fails on input the deploy
started sending (`entry` uses that input); nothing in the deployed range caused it.

`kind` says how the change meets the stack: `line` (it changed the raising line), `above`
(a line above it in the same function), `deleted` (it only removed lines there), `caller`
(it changed an outer frame's line), `offstack` (it changed code that is not on the stack).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCES: dict[str, str] = {
    "orders/__init__.py": '"""Orders: storage shapes to API shapes, totals, bill splitting."""\n',
    "orders/mapper.py": '''"""Map stored orders to the API's shape."""

from orders.money import cents_to_str


def to_dto(order):
    items = [line_to_dto(line) for line in order["lines"]]
    return {
        "id": order["id"],
        "customer": order["customer"]["name"],
        "items": items,
        "total": cents_to_str(sum(i["amount"] for i in items)),
    }


def line_to_dto(line):
    qty = line.get("qty", 1)
    amount = line["unit_cents"] * qty
    return {"sku": line["sku"], "qty": qty, "amount": amount}
''',
    "orders/money.py": '''"""Money helpers; amounts are integer cents."""


def cents_to_str(cents):
    units, rest = divmod(int(cents), 100)
    return f"{units}.{rest:02d}"


def apply_discount(cents, percent):
    if percent is None:
        return cents
    return cents - cents * percent // 100


def split_evenly(cents, parts):
    share = cents // parts
    return [share] * parts
''',
    "orders/api.py": '''"""Request handlers of the orders service."""

from orders.mapper import to_dto
from orders.money import apply_discount, split_evenly


def get_order(store, order_id):
    order = store[order_id]
    return to_dto(order)


def order_total(store, order_id, coupon=None):
    order = store[order_id]
    cents = sum(li["unit_cents"] * li.get("qty", 1) for li in order["lines"])
    percent = coupon.get("percent") if coupon else None
    return apply_discount(cents, percent)


def split_bill(store, order_id, people):
    total = order_total(store, order_id)
    return split_evenly(total, len(people))
''',
    "billing/__init__.py": '"""Billing: usage files to invoices with tax."""\n',
    "billing/invoice.py": '''"""Invoices from metered usage."""

from billing.tax import tax_for


def build_invoice(account, usage):
    lines = []
    for item in usage:
        lines.append(invoice_line(item, account["region"]))
    subtotal = sum(line["net"] for line in lines)
    return {"account": account["id"], "lines": lines, "subtotal": subtotal,
            "tax": sum(line["tax"] for line in lines)}


def invoice_line(item, region):
    if item.get("free"):
        return {"name": item["name"], "net": 0, "tax": 0}
    net = item["units"] * item["price"]
    return {"name": item["name"], "net": net, "tax": tax_for(net, region)}
''',
    "billing/tax.py": '''"""Tax rates per region, in percent."""

RATES = {"eu": 20, "us": 7, "uk": 20}


def tax_for(net, region):
    rate = RATES[region.lower()]
    return net * rate // 100


def average_rate(regions):
    rates = [RATES[r] for r in regions]
    return sum(rates) / len(rates)
''',
    "billing/usage.py": '''"""Parse the metering export (name, units, unit price per line)."""


def parse_usage(rows):
    usage = []
    for row in rows:
        name, units, price = row.split(",")
        usage.append({"name": name.strip(), "units": int(units), "price": int(price)})
    return usage
''',
    "inventory/__init__.py": '"""Inventory: stock levels, reservations, warehouse sites."""\n',
    "inventory/stock.py": '''"""Stock levels and reservations."""

from inventory.locations import warehouse_for


def reserve(stock, sku, qty):
    level = stock[sku]
    if level["available"] < qty:
        raise ValueError(f"not enough {sku}")
    level["available"] -= qty
    level["reserved"] += qty
    return warehouse_for(level)


def restock(stock, sku, qty):
    level = stock.setdefault(sku, {"available": 0, "reserved": 0, "site": "main"})
    level["available"] += qty
    return level
''',
    "inventory/locations.py": '''"""Where stock physically sits."""

SITES = {"main": "Dock A", "north": "Dock B"}


def warehouse_for(level):
    site = level.get("site", "main")
    return SITES[site]


def label(level):
    return f"{warehouse_for(level)} / {level['available']}"
''',
    "tests/__init__.py": "",
    "tests/test_orders.py": '''from orders.api import get_order, order_total, split_bill

STORE = {"o1": {"id": "o1", "customer": {"name": "Ada"},
                "lines": [{"sku": "tea", "unit_cents": 250, "qty": 2},
                          {"sku": "mug", "unit_cents": 900}]}}


def test_get_order():
    dto = get_order(STORE, "o1")
    assert dto["customer"] == "Ada"
    assert dto["total"] == "14.00"


def test_total_without_coupon():
    assert order_total(STORE, "o1") == 1400


def test_total_with_coupon():
    assert order_total(STORE, "o1", {"percent": 10}) == 1260


def test_split_bill_alone():
    assert split_bill(STORE, "o1", ["ada"]) == [1400]
''',
    "tests/test_billing.py": '''from billing.invoice import build_invoice
from billing.usage import parse_usage

ACCOUNT = {"id": "acme", "region": "EU"}


def test_invoice():
    usage = parse_usage(["cpu, 10, 3", "disk, 5, 2"])
    invoice = build_invoice(ACCOUNT, usage)
    assert invoice["subtotal"] == 40
    assert invoice["tax"] == 8


def test_free_items():
    invoice = build_invoice(ACCOUNT, [{"name": "trial", "units": 3, "free": True}])
    assert invoice["subtotal"] == 0
''',
    "tests/test_inventory.py": '''from inventory.stock import reserve, restock


def test_reserve():
    stock = {"tea": {"available": 5, "reserved": 0, "site": "north"}}
    assert reserve(stock, "tea", 2) == "Dock B"
    assert stock["tea"]["reserved"] == 2


def test_restock_then_reserve():
    stock = {}
    restock(stock, "mug", 3)
    assert reserve(stock, "mug", 1) == "Dock A"


def test_default_site():
    stock = {"pot": {"available": 1, "reserved": 0}}
    assert reserve(stock, "pot", 1) == "Dock A"
''',
    "README.md": "# shop\n\nThree small services: orders, billing, inventory.\n",
}


@dataclass(frozen=True, slots=True)
class Fault:
    name: str
    kind: str                       # line | above | deleted | caller | offstack | latent
    path: str                       # the file the change is in (the file to fix)
    function: str                   # the function the change is in
    old: str                        # the text replaced (exactly once in the file)
    new: str
    title: str                      # the regression commit's title
    entry: str                      # Python statements that raise in production

    @property
    def latent(self) -> bool:
        return self.kind == "latent"


ORDERS = 'STORE = {"o1": {"id": "o1", "customer": {"name": "Ada"}, "lines": [{"sku": "tea", "unit_cents": 250, "qty": 2}]}}\n'  # noqa: E501
REGRESSIONS: tuple[Fault, ...] = (
    Fault("orders-full-name", "line", "orders/mapper.py", "to_dto",
          '"customer": order["customer"]["name"],', '"customer": order["customer"]["full_name"],',
          "Show customers' full names on orders",
          "from orders.api import get_order\n" + ORDERS + "get_order(STORE, 'o1')\n"),
    Fault("orders-discount-guard", "deleted", "orders/money.py", "apply_discount",
          "    if percent is None:\n        return cents\n", "",
          "Simplify apply_discount",
          "from orders.api import order_total\n" + ORDERS + "order_total(STORE, 'o1')\n"),
    Fault("orders-split-payer", "caller", "orders/api.py", "split_bill",
          "split_evenly(total, len(people))", "split_evenly(total, len(people) - 1)",
          "Do not charge the payer twice when splitting bills",
          "from orders.api import split_bill\n" + ORDERS + "split_bill(STORE, 'o1', ['ada'])\n"),
    Fault("orders-quantity-key", "above", "orders/mapper.py", "line_to_dto",
          'qty = line.get("qty", 1)', 'qty = line.get("quantity")',
          "Read the quantity field the new checkout sends",
          "from orders.api import get_order\n" + ORDERS + "get_order(STORE, 'o1')\n"),
    Fault("billing-region-case", "line", "billing/tax.py", "tax_for",
          "rate = RATES[region.lower()]", "rate = RATES[region]",
          "Look tax rates up directly",
          "from billing.invoice import build_invoice\n"
          "build_invoice({'id': 'acme', 'region': 'EU'}, [{'name': 'cpu', 'units': 2, "
          "'price': 5}])\n"),
    Fault("billing-separator", "line", "billing/usage.py", "parse_usage",
          'name, units, price = row.split(",")', 'name, units, price = row.split(";")',
          "Metering export: semicolon-separated rows",
          "from billing.usage import parse_usage\nparse_usage(['cpu, 10, 3'])\n"),
    Fault("billing-free-guard", "deleted", "billing/invoice.py", "invoice_line",
          '    if item.get("free"):\n        return {"name": item["name"], "net": 0, '
          '"tax": 0}\n', "", "Free items are billed through credits now",
          "from billing.invoice import build_invoice\n"
          "build_invoice({'id': 'acme', 'region': 'EU'}, [{'name': 'trial', 'units': 3, "
          "'free': True}])\n"),
    Fault("billing-region-field", "caller", "billing/invoice.py", "build_invoice",
          'invoice_line(item, account["region"])',
          'invoice_line(item, account.get("billing_region"))',
          "Invoice in the account's billing region",
          "from billing.invoice import build_invoice\n"
          "build_invoice({'id': 'acme', 'region': 'EU'}, [{'name': 'cpu', 'units': 2, "
          "'price': 5}])\n"),
    Fault("inventory-held", "line", "inventory/stock.py", "reserve",
          'level["reserved"] += qty', 'level["held"] += qty',
          "Rename reserved stock to held stock",
          "from inventory.stock import reserve\n"
          "reserve({'tea': {'available': 5, 'reserved': 0, 'site': 'main'}}, 'tea', 1)\n"),
    Fault("inventory-site-default", "above", "inventory/locations.py", "warehouse_for",
          'site = level.get("site", "main")', 'site = level.get("site")',
          "Sites must be explicit",
          "from inventory.stock import reserve\n"
          "reserve({'pot': {'available': 1, 'reserved': 0}}, 'pot', 1)\n"),
    Fault("inventory-restock-shape", "offstack", "inventory/stock.py", "restock",
          '{"available": 0, "reserved": 0, "site": "main"}', '{"available": 0, "site": "main"}',
          "Slimmer stock records",
          "from inventory.stock import reserve, restock\n"
          "stock = {}\nrestock(stock, 'mug', 3)\nreserve(stock, 'mug', 1)\n"),
)

LATENT: tuple[Fault, ...] = (
    Fault("orders-guest-checkout", "latent", "orders/mapper.py", "to_dto",
          '"customer": order["customer"]["name"],', "", "",
          "from orders.api import get_order\n"
          "get_order({'o2': {'id': 'o2', 'customer': None, 'lines': []}}, 'o2')\n"),
    Fault("billing-fractional-units", "latent", "billing/usage.py", "parse_usage",
          'usage.append({"name": name.strip(), "units": int(units), "price": int(price)})',
          "", "", "from billing.usage import parse_usage\nparse_usage(['gpu, 1.5, 30'])\n"),
    Fault("inventory-unknown-sku", "latent", "inventory/stock.py", "reserve",
          "level = stock[sku]", "", "",
          "from inventory.stock import reserve\nreserve({}, 'kettle', 1)\n"),
    Fault("billing-no-regions", "latent", "billing/tax.py", "average_rate",
          "return sum(rates) / len(rates)", "", "",
          "from billing.tax import average_rate\naverage_rate([])\n"),
)
