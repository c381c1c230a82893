"""Suspect commits for bug shapes beyond the fix suite's templates, on real git repositories
and real tracebacks: a vendored library frame, a changed default argument, a helper two calls
below the raising frame, one change spread over two commits, and old code meeting new input
from a changed caller."""

from __future__ import annotations

from pathlib import Path

from agents.dev.revert import revert_targets
from agents.dev.suspects import _path_names, collect, is_library, rank, rank_files
from agents.dev.types import DeployRange
from integrations.github.git import Git
from tests.test_dev_engine import commit
from tests.test_dev_offstack import traceback_frames

VENDOR = '''def split_row(row, sep=","):
    fields = row.split(sep)
    if len(fields) < 2:
        raise ValueError(f"not a delimited row: {row!r}")
    return fields
'''
IMPORTER = '''from vendor.csvlite import split_row


def import_counts(lines):
    out = {}
    for line in lines:
        sku, qty = split_row(line)
        out[sku] = int(qty)
    return out
'''


async def test_a_vendored_frame_is_not_blamed_its_caller_is(repo: Path) -> None:
    commit(repo, {"vendor/__init__.py": "", "vendor/csvlite.py": VENDOR,
                  "shop/__init__.py": "", "shop/importer.py": IMPORTER}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/importer.py": IMPORTER.replace(
        "split_row(line)", 'split_row(line, sep=";")')}, "semicolons", who="Bob",
        when=1_700_000_200)
    # The library's update in the same release rewrote the very line that raises.
    update = commit(repo, {"vendor/csvlite.py": VENDOR.replace(
        "not a delimited row", "csvlite: not a delimited row")}, "Vendor csvlite 1.3",
        who="Cy", when=1_700_000_300)
    error, frames = traceback_frames(repo, "from shop.importer import import_counts\n"
                                           "import_counts(['tea,3'])")
    assert frames[-1].filename == "vendor/csvlite.py"
    ev = await collect(await Git.open(repo), error, DeployRange(update, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == bad and case == "new_code"
    assert update not in [s.commit for s in suspects]
    assert [f.path for f in rank_files(ev, suspects)] == ["shop/importer.py"]
    assert any("vendor/csvlite.py:4" in n and "library code" in n for n in ev.notes)


def test_library_paths() -> None:
    assert is_library("vendor/csvlite.py")
    assert is_library("/usr/lib/python3/dist-packages/requests/api.py")
    assert is_library("app/_vendor/six.py")
    assert not is_library("vendors/api.py") and not is_library("shop/vendor.py")


LOCATIONS = '''SITES = {"main": "Dock A"}


def warehouse_for(level, default="main"):
    site = level.get("site", default)
    return SITES[site]
'''


async def test_a_changed_default_argument_is_on_the_path(repo: Path) -> None:
    commit(repo, {"shop/__init__.py": "", "shop/sites.py": LOCATIONS}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/sites.py": LOCATIONS.replace('default="main"', "default=None")},
                 "No implicit site", who="Bob", when=1_700_000_200)
    error, _ = traceback_frames(repo, "from shop.sites import warehouse_for\n"
                                      "warehouse_for({})")
    ev = await collect(await Git.open(repo), error, DeployRange(bad, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == bad and case == "new_code"
    assert "changed a line above it (" in suspects[0].why


def test_path_names_follow_bindings_up() -> None:
    names = _path_names("    return SITES[site]",
                        ["def f(level, default=None):", "    other = 1",
                         "    site = level.get('site', default)"])
    assert {"SITES", "site", "level", "default"} <= names and "other" not in names


MONEY = '''def allocate(cents, parts):
    shares = []
    for _ in range(parts):
        shares.append(cents // parts)
    return shares
'''
API = '''from shop.money import allocate


def plan_split(total, people):
    return dict(zip(people, allocate(total, len(people))))


def payer_share(total, people):
    shares = plan_split(total, people)
    return shares[people[-1]]
'''


async def test_a_helper_two_calls_below_the_raise_is_the_suspect(repo: Path) -> None:
    old = commit(repo, {"shop/__init__.py": "", "shop/money.py": MONEY, "shop/api.py": API},
                 "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/money.py": MONEY.replace("range(parts)", "range(parts - 1)")},
                 "Allocate the remainder apart", who="Bob", when=1_700_000_200)
    error, frames = traceback_frames(repo, "from shop.api import payer_share\n"
                                           "payer_share(100, ['ada', 'bob'])")
    assert [f.function for f in frames] == ["payer_share"]  # allocate has returned
    ev = await collect(await Git.open(repo), error, DeployRange(bad, start))
    suspects, case = rank(ev)
    assert [s.commit for s in suspects][:2] == [bad, old] and case == "new_code"
    assert "changed allocate(), called by plan_split() on the path" in suspects[0].why
    assert rank_files(ev, suspects)[0].path == "shop/money.py"


STOCK = '''def reserve(stock, sku, qty):
    level = stock[sku]
    level["reserved"] += qty
    return level


def restock(stock, sku, qty):
    level = stock.setdefault(sku, {"available": 0, "reserved": 0})
    level["available"] += qty
    return level
'''


async def test_one_change_over_two_commits_is_reverted_whole(repo: Path) -> None:
    commit(repo, {"shop/__init__.py": "", "shop/stock.py": STOCK}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    part1 = commit(repo, {"shop/stock.py": STOCK.replace('"reserved": 0}', '"held": 0}')},
                   "Held stock, part 1", who="Bob", when=1_700_000_200)
    noise = commit(repo, {"README": "shop\nmore\n"}, "docs", when=1_700_000_250)
    part2 = commit(repo, {"shop/stock.py": STOCK.replace('"reserved": 0}', '"held": 0}')
                          .replace('level["reserved"] += qty', 'level["held"] += qty')},
                   "Held stock, part 2", who="Bob", when=1_700_000_300)
    error, _ = traceback_frames(repo, "from shop.stock import reserve\n"
                                      "reserve({'t': {'available': 1, 'reserved': 0}}, 't', 1)")
    ev = await collect(await Git.open(repo), error, DeployRange(part2, start))
    suspects, _ = rank(ev)
    assert [s.commit for s in suspects][:2] == [part2, part1]
    assert "same change as" in suspects[1].why and "reserved → held" in suspects[1].why
    assert {s.commit for s in revert_targets(suspects)} == {part1, part2}
    assert noise not in {s.commit for s in revert_targets(suspects)}


INGEST = '''from shop.usage import parse_usage


def ingest(export):
    rows = [r for r in export.splitlines() if r.strip()]
    return parse_usage(rows)
'''
USAGE = '''def parse_usage(rows):
    out = []
    for row in rows:
        name, units = row.split(",")
        out.append((name, int(units)))
    return out
'''


async def test_old_code_meeting_new_input_from_a_changed_caller_is_said(repo: Path) -> None:
    commit(repo, {"shop/__init__.py": "", "shop/ingest.py": INGEST, "shop/usage.py": USAGE},
           "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/ingest.py": INGEST.replace(
        "[r for r in export.splitlines() if r.strip()]", "export.splitlines()")},
        "Keep every line", who="Bob", when=1_700_000_200)
    error, _ = traceback_frames(repo, "from shop.ingest import ingest\ningest('a,1\\n\\nb,2')")
    ev = await collect(await Git.open(repo), error, DeployRange(bad, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == bad and case == "new_code"
    assert "the raise itself is in older code (shop/usage.py:4" in suspects[0].why
    assert "old code meeting new input from this change" in suspects[0].why
    # A shipped change to the raising line itself is not "old code".
    direct = commit(repo, {"shop/usage.py": USAGE.replace('row.split(",")', 'row.split(";")')},
                    "semicolons", when=1_700_000_300)
    error, _ = traceback_frames(repo, "from shop.usage import parse_usage\n"
                                      "parse_usage(['a,1'])")
    ev = await collect(await Git.open(repo), error, DeployRange(direct, start))
    suspects, _ = rank(ev)
    assert suspects[0].commit == direct and "new input" not in suspects[0].why
