"""A small PNG chart for the digest: incidents per day (bars) and median time to resolve
(line), drawn with Pillow so the digest needs no plotting stack."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageFont

WIDTH, HEIGHT = 900, 360
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 60, 70, 50, 50
BAR = (74, 144, 226)
LINE = (230, 126, 34)
INK = (40, 40, 40)
GRID = (225, 225, 225)


@dataclass(frozen=True, slots=True)
class Day:
    label: str  # e.g. "11-21"
    incidents: int
    median_ttr_minutes: float | None


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: fixed bitmap font
        return ImageFont.load_default()


def render_history(days: Sequence[Day], *, title: str) -> bytes:
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    font, small = _font(16), _font(12)
    draw.text((MARGIN_L, 14), title, fill=INK, font=font)
    left, right = MARGIN_L, WIDTH - MARGIN_R
    top, bottom = MARGIN_T, HEIGHT - MARGIN_B
    peak = max([d.incidents for d in days] + [1])
    ttrs = [d.median_ttr_minutes for d in days if d.median_ttr_minutes is not None]
    ttr_peak = max([*ttrs, 1.0])
    for i in range(5):
        y = bottom - (bottom - top) * i / 4
        draw.line([(left, y), (right, y)], fill=GRID)
        draw.text((8, y - 7), f"{peak * i / 4:.0f}", fill=BAR, font=small)
        draw.text((right + 6, y - 7), f"{ttr_peak * i / 4:.0f}m", fill=LINE, font=small)
    slot = (right - left) / max(len(days), 1)
    points: list[tuple[float, float]] = []
    for i, day in enumerate(days):
        x0 = left + i * slot + slot * 0.15
        x1 = left + (i + 1) * slot - slot * 0.15
        height = (bottom - top) * day.incidents / peak
        if day.incidents:
            draw.rectangle([(x0, bottom - height), (x1, bottom)], fill=BAR)
        draw.text((x0, bottom + 6), day.label, fill=INK, font=small)
        if day.median_ttr_minutes is not None:
            points.append(((x0 + x1) / 2,
                           bottom - (bottom - top) * day.median_ttr_minutes / ttr_peak))
    if len(points) > 1:
        draw.line(points, fill=LINE, width=3)
    for x, y in points:
        draw.ellipse([(x - 4, y - 4), (x + 4, y + 4)], fill=LINE)
    legend_y = bottom + 30
    draw.rectangle([(left, legend_y), (left + 10, legend_y + 10)], fill=BAR)
    draw.text((left + 16, legend_y - 2), "incidents opened", fill=INK, font=small)
    draw.ellipse([(left + 160, legend_y), (left + 170, legend_y + 10)], fill=LINE)
    draw.text((left + 176, legend_y - 2), "median time to resolve", fill=INK, font=small)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
