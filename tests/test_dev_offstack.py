"""Off-stack suspects on real git repositories: a shipped change that is not on the stack
(a constant in an imported module, a helper called earlier, a record built elsewhere) is
found when nothing shipped touched the frames' own code, and never outranks a direct hit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agents.dev.offstack import imported_paths, path_reads
from agents.dev.suspects import collect, rank, rank_files
from agents.dev.types import DeployRange, ErrorEvent, Frame
from integrations.github.git import Git
from tests.test_dev_engine import commit

API = '''from shop.config import LIMITS
from shop import pricing


def checkout(cart):
    total = pricing.subtotal(cart)
    cap = LIMITS["per_order"]
    return total / cap
'''
PRICING = '''def subtotal(cart):
    return sum(item["cents"] for item in cart)


def unrelated(x):
    return x
'''


def traceback_frames(repo: Path, code: str) -> tuple[ErrorEvent, tuple[Frame, ...]]:
    """Run `code` in the checkout and read the real traceback's in-app frames."""
    script = ("import sys, traceback\nsys.path.insert(0, '.')\ntry:\n" +
              "".join(f"    {ln}\n" for ln in code.splitlines()) +
              "except Exception as exc:\n"
              "    for f in traceback.extract_tb(exc.__traceback__)[1:]:\n"
              "        print(f.filename, f.lineno, f.name, sep='|')\n"
              "    print('!', type(exc).__name__, str(exc), sep='|')\n")
    out = subprocess.run([sys.executable, "-c", script], cwd=repo, check=True,
                         capture_output=True, text=True).stdout.splitlines()
    frames = tuple(Frame(str(Path(name).resolve().relative_to(repo.resolve())), int(no), fn)
                   for name, no, fn in (ln.split("|") for ln in out[:-1]))
    _, etype, value = out[-1].split("|")
    return ErrorEvent(f"{etype}: {value}", etype, value, frames=frames), frames


async def test_a_constant_changed_in_an_imported_module_is_the_suspect(repo: Path) -> None:
    old = commit(repo, {"shop/__init__.py": "", "shop/api.py": API,
                        "shop/pricing.py": PRICING,
                        "shop/config.py": 'LIMITS = {"per_order": 10, "per_day": 50}\n'},
                 "shop", who="Ann")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/config.py": 'LIMITS = {"per_order": 0, "per_day": 50}\n'},
                 "Orders are capped per day only", who="Bob", when=1_700_000_200)
    tip = commit(repo, {"shop/pricing.py": PRICING.replace("return x", "return x * 2")},
                 "unrelated helper", who="Cy", when=1_700_000_300)
    error, _ = traceback_frames(repo, "from shop.api import checkout\n"
                                      "checkout([{'cents': 5}])")
    assert error.type == "ZeroDivisionError"
    ev = await collect(await Git.open(repo), error, DeployRange(tip, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == bad and case == "new_code", suspects
    assert "redefined LIMITS" in suspects[0].why and "off the stack" in suspects[0].why
    assert old in [s.commit for s in suspects] and tip not in [s.commit for s in suspects]
    files = rank_files(ev, suspects)
    assert files[0].path == "shop/config.py" and files[0].line == 1


async def test_a_helper_called_on_the_path_is_the_suspect(repo: Path) -> None:
    commit(repo, {"shop/__init__.py": "", "shop/api.py": API, "shop/pricing.py": PRICING,
                  "shop/config.py": 'LIMITS = {"per_order": 10}\n'}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    bad = commit(repo, {"shop/pricing.py": PRICING.replace(
        'return sum(item["cents"] for item in cart)',
        'return str(sum(item["cents"] for item in cart))')},
        "Subtotals as strings for the new API", who="Bob", when=1_700_000_200)
    error, _ = traceback_frames(repo, "from shop.api import checkout\n"
                                      "checkout([{'cents': 5}])")
    assert error.type == "TypeError"
    ev = await collect(await Git.open(repo), error, DeployRange(bad, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == bad and case == "new_code"
    assert "changed subtotal(), called on the path" in suspects[0].why
    files = rank_files(ev, suspects)
    assert (files[0].path, files[0].function) == ("shop/pricing.py", "subtotal")


async def test_off_stack_changes_never_outrank_a_shipped_change_on_the_path(
        repo: Path) -> None:
    commit(repo, {"shop/__init__.py": "", "shop/api.py": API, "shop/pricing.py": PRICING,
                  "shop/config.py": 'LIMITS = {"per_order": 10}\n'}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    config = commit(repo, {"shop/config.py": 'LIMITS = {"per_order": 10, "x": 1}\n'},
                    "more limits", who="Bob", when=1_700_000_200)
    bad = commit(repo, {"shop/api.py": API.replace("total / cap", "total / (cap - 10)")},
                 "Leave headroom", who="Cy", when=1_700_000_300)
    error, _ = traceback_frames(repo, "from shop.api import checkout\n"
                                      "checkout([{'cents': 5}])")
    ev = await collect(await Git.open(repo), error, DeployRange(bad, start))
    suspects, _ = rank(ev)
    assert suspects[0].commit == bad
    assert config not in [s.commit for s in suspects]  # ignored: a direct hit exists


async def test_a_mere_mention_does_not_outrank_the_old_raising_line(repo: Path) -> None:
    old = commit(repo, {"shop/__init__.py": "", "shop/api.py": API,
                        "shop/pricing.py": PRICING,
                        "shop/config.py": 'LIMITS = {"per_order": 0}\n'}, "shop")
    start = commit(repo, {"README": "shop\n"}, "docs", when=1_700_000_100)
    mention = commit(repo, {"shop/pricing.py": PRICING + "\n\ndef describe():\n"
                                                       "    return 'per_order cap'\n"},
                     "describe the cap", who="Bob", when=1_700_000_200)
    error, _ = traceback_frames(repo, "from shop.api import checkout\n"
                                      "checkout([{'cents': 5}])")
    ev = await collect(await Git.open(repo), error, DeployRange(mention, start))
    suspects, case = rank(ev)
    assert suspects[0].commit == old and case == "old_code"
    assert next(s for s in suspects if s.commit == mention).score < suspects[0].score


def test_path_reads_leave_out_what_the_function_binds_itself() -> None:
    text = API
    reads = path_reads(text, (5, 8), 8, "checkout")
    # `total` and `cap` are the function's own; LIMITS/per_order feed `cap`, and subtotal
    # feeds `total`, both read by the raising line.
    assert {"LIMITS", "per_order", "subtotal", "pricing"} <= reads.names
    assert not {"total", "cap", "cart"} & reads.names
    assert "subtotal" in reads.callees
    listing = ["shop/__init__.py", "shop/api.py", "shop/config.py", "shop/pricing.py",
               "vendor/x.py"]
    assert imported_paths(text, "shop/api.py", listing) == ["shop/config.py",
                                                            "shop/__init__.py",
                                                            "shop/pricing.py"]
    assert imported_paths("from .config import LIMITS\n", "shop/api.py", listing) == \
        ["shop/config.py"]
    assert imported_paths("import (", "shop/api.py", listing) == []


def test_a_kept_key_is_not_a_redefinition() -> None:
    from agents.dev.offstack import Hunk, PathReads, match

    hunk = Hunk("inv/stock.py", 16, "def restock(stock, sku, qty):",
                removed=('    level = stock.setdefault(sku, {"available": 0, "reserved": 0})',),
                added=('    level = stock.setdefault(sku, {"available": 0})',))
    reads = PathReads(names={"available", "reserved"}, function="reserve")
    [item] = match("c0ffee", [hunk], reads, "inv/stock.py", said=set())
    assert (item.kind, item.function) == ("reads", "restock")
    assert item.detail == "removed reserved, which the raising line reads"
    assert match("c0ffee", [hunk], PathReads(names={"available"}, function="reserve"),
                 "inv/stock.py", said=set())[0].kind == "mentions"
