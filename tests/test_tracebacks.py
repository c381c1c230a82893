"""Stack traces out of error log lines (integrations/error_sources/tracebacks.py): a real Python
traceback produced by running code, and Java, Go and Node traces as their runtimes print
them; the error scan keeps such an example whole so the Dev agent gets its frames."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from integrations.error_sources.logs import MAX_EXAMPLE_CHARS, SignatureCounter, example_of
from integrations.error_sources.tracebacks import parse

JAVA = ("2026-11-28 10:02:11 ERROR [http-nio-8080-exec-3] o.a.c.c.C.[.[.[/].[dispatcherServlet] "
        ": Servlet.service() threw exception\n"
        "org.springframework.web.util.NestedServletException: Request processing failed; "
        "nested exception is java.lang.IllegalStateException: no price for sku tea\n") + """\
\tat org.springframework.web.servlet.FrameworkServlet.processRequest(FrameworkServlet.java:1014)
\tat javax.servlet.http.HttpServlet.service(HttpServlet.java:681)
Caused by: java.lang.IllegalStateException: no price for sku tea
\tat com.acme.orders.Pricing.priceOf(Pricing.java:42)
\tat com.acme.orders.OrderMapper.toDto(OrderMapper.java:27)
\tat com.acme.orders.OrderController.get(OrderController.java:19)
\tat java.base/jdk.internal.reflect.NativeMethodAccessorImpl.invoke0(Native Method)
\t... 48 common frames omitted
"""
GO = """panic: runtime error: index out of range [3] with length 3

goroutine 18 [running]:
github.com/acme/inventory/stock.(*Store).Reserve(0xc000124000, {0x6b2c1e, 0x3}, 0x1)
\t/app/stock/store.go:57 +0x1d4
github.com/acme/inventory/api.reserveHandler({0x7a1d40, 0xc0001c2000}, 0xc0001b8000)
\t/app/api/handlers.go:33 +0x8b
net/http.HandlerFunc.ServeHTTP(0xc0001a4000?, {0x7a1d40?, 0xc0001c2000?}, 0x0?)
\t/usr/local/go/src/net/http/server.go:2136 +0x29
"""
NODE = """TypeError: Cannot read properties of undefined (reading 'name')
    at toDto (/app/src/orders/mapper.js:12:31)
    at Array.map (<anonymous>)
    at listOrders (/app/src/orders/api.js:40:22)
    at Layer.handle [as handle_request] (/app/node_modules/express/lib/router/layer.js:95:5)
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)
"""


def real_python_traceback(tmp: Path) -> str:
    """Run code that fails through two modules and a chained exception; log it as Python's
    logging.exception does (message, then the traceback)."""
    (tmp / "shop").mkdir()
    (tmp / "shop" / "__init__.py").write_text("")
    (tmp / "shop" / "mapper.py").write_text(
        "def to_dto(order):\n    customer = order['customer']\n    return customer['name']\n")
    (tmp / "shop" / "api.py").write_text(
        "from shop.mapper import to_dto\n\n\ndef get(order):\n    try:\n"
        "        return to_dto(order)\n    except TypeError as exc:\n"
        "        raise LookupError('order unreadable') from exc\n")
    code = ("import logging, sys\nlogging.basicConfig(stream=sys.stdout, format='%(levelname)s "
            "%(name)s: %(message)s')\nfrom shop.api import get\ntry:\n    get({'customer': None})"
            "\nexcept Exception:\n    logging.getLogger('shop').exception('GET /orders/7 "
            "failed')\n")
    return subprocess.run([sys.executable, "-c", code], cwd=tmp, capture_output=True,
                          text=True, check=True).stdout


def test_a_real_python_traceback_gives_the_last_raised_exceptions_frames(tmp_path: Path) -> None:
    text = real_python_traceback(tmp_path)
    assert "The above exception was the direct cause" in text  # chained, as logged
    trace = parse(text)
    assert trace is not None
    assert (trace.type, trace.value) == ("LookupError", "order unreadable")
    assert [(Path(f.filename).name, f.function) for f in trace.frames] == [
        ("<string>", "<module>"), ("api.py", "get")]
    assert trace.frames[-1].context_line == "raise LookupError('order unreadable') from exc"
    assert not trace.frames[0].in_app and trace.frames[-1].in_app
    cause = parse(text.split("The above exception")[0])
    assert cause is not None and cause.type == "TypeError"
    assert [f.function for f in cause.frames][-2:] == ["get", "to_dto"]
    assert cause.frames[-1].lineno == 3 and cause.frames[-1].filename.endswith("shop/mapper.py")


def test_java_go_and_node_traces() -> None:
    java = parse(JAVA)
    assert java is not None and (java.type, java.value) == ("IllegalStateException",
                                                            "no price for sku tea")
    app = [(f.filename, f.lineno, f.function) for f in java.frames if f.in_app]
    assert app == [("com/acme/orders/OrderController.java", 19, "get"),
                   ("com/acme/orders/OrderMapper.java", 27, "toDto"),
                   ("com/acme/orders/Pricing.java", 42, "priceOf")]  # outermost first
    go = parse(GO)
    assert go is not None and go.type == "panic" and "index out of range" in go.value
    assert [(f.filename, f.lineno, f.in_app) for f in go.frames] == [
        ("/usr/local/go/src/net/http/server.go", 2136, False),
        ("/app/api/handlers.go", 33, True), ("/app/stock/store.go", 57, True)]
    node = parse(NODE)
    assert node is not None and node.type == "TypeError" and "reading 'name'" in node.value
    assert [(f.filename, f.function, f.in_app) for f in node.frames][-3:] == [
        ("/app/node_modules/express/lib/router/layer.js", "handle", False),
        ("/app/src/orders/api.js", "listOrders", True),
        ("/app/src/orders/mapper.js", "toDto", True)]
    for text in ("ERROR payment declined for order 7", "", "at noon (not a frame)",
                 "Traceback (most recent call last):\n"):
        assert parse(text) is None


def test_the_scan_keeps_a_traceback_example_whole(tmp_path: Path) -> None:
    text = real_python_traceback(tmp_path)
    counter = SignatureCounter("shop", split_ts=0.0)
    counter.add(10.0, text)
    [sig] = counter.counts()
    assert sig.example == text and parse(sig.example) is not None
    plain = "x" * 1000
    assert len(example_of(plain)) <= MAX_EXAMPLE_CHARS + 1
    long = "ERROR boom\n" + "\n".join(f'  File "/app/m{i}.py", line {i}, in f{i}\n    x()'
                                      for i in range(1, 400)) + "\nValueError: bad"
    kept = example_of(long)
    assert kept.startswith("ERROR boom") and kept.endswith("ValueError: bad")
    assert parse(kept) is not None and parse(kept).frames[-1].lineno == 399  # type: ignore[union-attr]


def test_a_structured_lines_trace_attribute_joins_its_example(tmp_path: Path) -> None:
    from integrations.error_sources.logs import attached_trace

    trace = real_python_traceback(tmp_path).split("\n", 1)[1]  # logging's own message first
    attributes: dict[str, object] = {"logger": "shop", "exc_info": trace}
    counter = SignatureCounter("shop", split_ts=0.0)
    counter.add(5.0, "GET /orders/7 failed", attached_trace(attributes))
    counter.add(6.0, "GET /orders/8 failed", attached_trace({"exc_info": 3}))
    [sig] = counter.counts()  # one signature: the trace is not part of it
    assert sig.recent == 2 and sig.example == "GET /orders/8 failed"
    counter.add(7.0, "GET /orders/9 failed", attached_trace(attributes))
    [sig] = counter.counts()
    parsed = parse(sig.example)
    assert sig.example.startswith("GET /orders/9 failed\n") and parsed is not None
    assert parsed.type == "LookupError"
