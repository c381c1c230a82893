"""Evaluation output: a terminal table, a JSON file, and an HTML report with SVG charts."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

COLUMNS = [("acc@1", "acc@1"), ("acc@3", "acc@3"), ("acc@5", "acc@5"), ("avg@5", "Avg@5"),
           ("kind_acc@1", "kind@1"), ("abstention_recall", "abst.rec"),
           ("abstention_precision", "abst.prec"), ("ece", "ECE"), ("median_s", "med s"),
           ("p95_s", "p95 s"), ("queries_per_case", "queries")]
COLOURS = {"nightowl": "#3b5bdb", "BARO": "#f08c00", "NSigma": "#2f9e44", "random": "#868e96"}


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.0f}"
    return str(value)


def table(suite: str, figures: dict[str, dict[str, Any]]) -> str:
    width = max(10, *(len(m) for m in figures))
    head = f"{'method':<{width}} " + " ".join(f"{label:>9}" for _, label in COLUMNS)
    lines = [f"suite {suite}", head, "-" * len(head)]
    for method, f in figures.items():
        lines.append(f"{method:<{width}} " + " ".join(f"{_cell(f.get(k)):>9}"
                                                     for k, _ in COLUMNS))
    failures = [x for f in figures.values() for x in f.get("failures", [])]
    if failures:
        lines.append(f"failures: {len(failures)} (listed in the JSON and the report)")
    return "\n".join(lines)


def write_json(path: Path, suites: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(suites, indent=1, default=str))


def _bars(title: str, groups: list[str], series: dict[str, list[float | None]],
          height: int = 180) -> str:
    """A grouped bar chart, values in [0, 1]."""
    n_methods = max(1, len(series))
    group_w = 26 * n_methods + 20
    width = 60 + group_w * max(1, len(groups))
    parts = [f'<svg width="{width}" height="{height + 60}" role="img" '
             f'aria-label="{html.escape(title)}"><text x="4" y="14" font-weight="bold">'
             f'{html.escape(title)}</text>']
    for tick in (0, 0.5, 1.0):
        y = 20 + height * (1 - tick)
        parts.append(f'<line x1="40" x2="{width}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                     f'<text x="4" y="{y + 4}" font-size="11">{tick:.1f}</text>')
    for gi, group in enumerate(groups):
        x0 = 50 + gi * group_w
        for mi, (method, values) in enumerate(series.items()):
            value = values[gi] or 0.0
            bar_h = height * value
            colour = COLOURS.get(method, "#555")
            parts.append(f'<rect x="{x0 + mi * 26}" y="{20 + height - bar_h}" width="22" '
                         f'height="{bar_h}" fill="{colour}"><title>{html.escape(method)} '
                         f'{html.escape(group)}: {value:.2f}</title></rect>')
        parts.append(f'<text x="{x0}" y="{height + 36}" font-size="11">'
                     f'{html.escape(group[:18])}</text>')
    legend_x = 50
    for method in series:
        parts.append(f'<rect x="{legend_x}" y="{height + 46}" width="10" height="10" '
                     f'fill="{COLOURS.get(method, "#555")}"/><text x="{legend_x + 14}" '
                     f'y="{height + 55}" font-size="11">{html.escape(method)}</text>')
        legend_x += 90
    parts.append("</svg>")
    return "".join(parts)


def _reliability(rows: list[dict[str, float]], size: int = 200) -> str:
    parts = [f'<svg width="{size + 60}" height="{size + 50}" role="img" '
             'aria-label="reliability diagram"><text x="4" y="14" font-weight="bold">'
             'Reliability (nightowl)</text>',
             f'<line x1="40" y1="{20 + size}" x2="{40 + size}" y2="20" stroke="#aaa" '
             'stroke-dasharray="4"/>',
             f'<rect x="40" y="20" width="{size}" height="{size}" fill="none" stroke="#ccc"/>']
    for row in rows:
        x = 40 + row["bin"] * size
        h = row["accuracy"] * size
        parts.append(f'<rect x="{x + 2}" y="{20 + size - h}" width="{size / 10 - 4}" '
                     f'height="{h}" fill="#3b5bdb" opacity="0.75"><title>confidence '
                     f'{row["confidence"]:.2f}, accuracy {row["accuracy"]:.2f}, '
                     f'{row["count"]} cases</title></rect>')
    parts.append(f'<text x="40" y="{size + 40}" font-size="11">confidence →</text></svg>')
    return "".join(parts)


def html_report(path: Path, suites: list[dict[str, Any]]) -> None:
    body = ["<h1>nightowl evaluation</h1>"]
    for suite in suites:
        figures: dict[str, dict[str, Any]] = suite["methods"]
        body.append(f"<h2>{html.escape(suite['suite'])} ({suite['cases']} cases)</h2>")
        if suite.get("credit"):
            body.append(f"<p><em>Data: {html.escape(suite['credit'])}</em></p>")
        rows = "".join(
            "<tr><td>" + html.escape(m) + "</td>" +
            "".join(f"<td>{_cell(f.get(k))}</td>" for k, _ in COLUMNS) + "</tr>"
            for m, f in figures.items())
        body.append("<table><tr><th>method</th>" +
                    "".join(f"<th>{label}</th>" for _, label in COLUMNS) + f"</tr>{rows}</table>")
        body.append(_bars("Accuracy at k", ["acc@1", "acc@3", "acc@5"],
                          {m: [f.get("acc@1"), f.get("acc@3"), f.get("acc@5")]
                           for m, f in figures.items()}))
        groups = sorted(figures["nightowl"]["by_group"])
        body.append(_bars("Accuracy at 1 by group", groups,
                          {m: [f["by_group"].get(g, {}).get("acc@1") for g in groups]
                           for m, f in figures.items()}))
        body.append(_reliability(figures["nightowl"].get("reliability", [])))
        slowest = max((f.get("p95_s") or 0.0) for f in figures.values()) or 1.0
        body.append(_bars(f"Seconds per case: median and p95 (scale: {slowest:.2f} s)",
                          ["median", "p95"],
                          {m: [(f.get("median_s") or 0.0) / slowest,
                               (f.get("p95_s") or 0.0) / slowest]
                           for m, f in figures.items()}))
        failures = [x for f in figures.values() for x in f.get("failures", [])]
        if failures:
            body.append("<h3>Failures</h3><ul>" + "".join(
                f"<li>{html.escape(x['case'])}: {html.escape(str(x['error']))}</li>"
                for x in failures) + "</ul>")
    style = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;"
             "padding:4px 8px;text-align:right}td:first-child{text-align:left}svg{margin:1em}")
    path.write_text(f"<!doctype html><meta charset=utf-8><title>nightowl evaluation</title>"
                    f"<style>{style}</style>{''.join(body)}")
