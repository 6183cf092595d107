"""The digest's PNG chart, drawn with Pillow: fit over time, and fit by scope version.

Left: mean fit (0..1) per day (per week when the periods span more than 35 days) with a cluster-bootstrap
95% band, over the history periods and this one; this period is shaded and scope changes are marked.
An answer counts on the day it was asked (UTC). With just the digest's two periods the line is the digest's
own timeline (no second bootstrap).
Right: mean fit per scope version with 95% whiskers, from the digest's version comparison.

Drawn with Pillow rather than a plotting library: a chart is made for every server and period, and
matplotlib 3.11 needs over 50 ms to draw even a bare two-panel figure (its text is rendered glyph by glyph in
Python), where this takes a few milliseconds. Everything is drawn at twice the size and then scaled down,
which smooths lines, markers and edges. Text uses the font bundled with Pillow, so the chart looks the same
on every machine.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from math import isfinite
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from bot.digests.groups import fit_timeline
from bot.digests.model import Digest, GroupFit, TimePoint
from bot.digests.rows import DigestRows

WEEKLY_AFTER_DAYS = 35
LINE = "#1f6feb"
BAR = "#8250df"
CURRENT = "#fff8c5"
SCOPE = "#bf3989"
MUTED = "#59636e"
GRID = "#e7e7e7"  # light grey lines behind the data
INK = "#000000"
BAND = (0x1F, 0x6F, 0xEB, 46)  # LINE at 18% opacity
BARS = (0x82, 0x50, 0xDF, 204)  # BAR at 80% opacity

WIDTH, HEIGHT = 1000, 400  # pixels of the PNG
SCALE = 2  # drawn at twice the size, then reduced: antialiased lines and edges
PT = 100 / 72  # pixels per typographic point (the chart is laid out at 100 dpi)
TICK = 3.5 * PT  # tick mark length
PAD = 3.5 * PT  # between a tick mark and its label
MAX_DATE_TICKS = 8
TICK_STEPS = (1, 2, 3, 7, 14, 28, 56, 91, 182, 364, 728)  # days between date ticks
FIT_TICKS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

Fill = str | tuple[int, int, int, int]  # a colour, or red, green, blue and opacity 0..255


def _day(timestamp: str) -> date | None:
    try:
        return date.fromisoformat(timestamp[:10])
    except ValueError:
        return None


def _points(periods: Sequence[DigestRows], digest: Digest) -> tuple[list[TimePoint], bool]:
    """The line's points and whether they are weekly: the digest's own daily timeline when the chart shows
    just its two periods, else a timeline over all periods (weekly beyond WEEKLY_AFTER_DAYS)."""
    own = {(digest.start, digest.end)}
    if digest.previous is not None:
        own.add((digest.previous.start, digest.previous.end))
    days = [day for rows in periods for day in (_day(rows.start), _day(rows.end)) if day is not None]
    weekly = bool(days) and (max(days) - min(days)).days > WEEKLY_AFTER_DAYS
    if not weekly and all((rows.start, rows.end) in own for rows in periods):
        return list(digest.timeline), False
    return list(fit_timeline(periods, seed=digest.seed, bootstrap=digest.bootstrap, weekly=weekly)), weekly


@cache
def _font(points: float) -> ImageFont.FreeTypeFont:
    font = ImageFont.load_default(round(points * PT * SCALE))
    if not isinstance(font, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow's wheels include FreeType
        raise RuntimeError("the digest chart needs Pillow with FreeType support")
    return font


@dataclass(frozen=True, slots=True)
class Panel:
    """A plot area in chart pixels and the data ranges it shows."""

    left: float
    top: float
    right: float
    bottom: float
    x0: float = 0.0
    x1: float = 1.0
    y0: float = 0.0
    y1: float = 1.0

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


class Canvas:
    """Drawing in chart pixels (floats) on an image SCALE times larger.

    Horizontal and vertical lines are snapped to whole chart pixels, so axes, ticks and grid stay crisp.
    """

    def __init__(self) -> None:
        self.image = Image.new("RGB", (WIDTH * SCALE, HEIGHT * SCALE), "white")
        self.draw = ImageDraw.Draw(self.image, "RGBA")  # RGBA: translucent fills blend with what is below

    def line(self, points: Sequence[tuple[float, float]], color: str, width: float) -> None:
        """A polyline with round joints (for the data; use `hline` and `vline` for axes and ticks)."""
        xy = [(x * SCALE, y * SCALE) for x, y in points]
        self.draw.line(xy, fill=color, width=max(1, round(width * SCALE)), joint="curve")

    def _fill(self, left: int, top: int, right: int, bottom: int, fill: Fill) -> None:
        """Whole pixels of the large image, right and bottom exclusive."""
        if right > left and bottom > top:
            self.draw.rectangle((left, top, right - 1, bottom - 1), fill=fill)

    def hline(self, x0: float, x1: float, y: float, color: str, width: float = 1.0) -> None:
        thickness = max(1, round(width))
        top = round(y - thickness / 2)
        self._fill(round(x0 * SCALE), top * SCALE, round(x1 * SCALE), (top + thickness) * SCALE, color)

    def vline(self, x: float, y0: float, y1: float, color: str, width: float = 1.0) -> None:
        thickness = max(1, round(width))
        left = round(x - thickness / 2)
        self._fill(left * SCALE, round(y0 * SCALE), (left + thickness) * SCALE, round(y1 * SCALE), color)

    def dotted(self, x0: float, x1: float, y0: float, y1: float, color: str) -> None:
        """A one-pixel dotted line, horizontal (y0 == y1) or vertical (x0 == x1), as matplotlib's ':' style."""
        dot, gap = PT, 1.65 * PT
        position = 0.0
        length = max(x1 - x0, y1 - y0)
        while position < length:
            stop = min(position + dot, length)
            if y0 == y1:
                self.hline(x0 + position, x0 + stop, y0, color)
            else:
                self.vline(x0, y0 + position, y0 + stop, color)
            position += dot + gap

    def rectangle(self, left: float, top: float, right: float, bottom: float, fill: Fill) -> None:
        self._fill(round(left * SCALE), round(top * SCALE), round(right * SCALE), round(bottom * SCALE), fill)

    def polygon(self, points: Sequence[tuple[float, float]], fill: Fill) -> None:
        self.draw.polygon([(x * SCALE, y * SCALE) for x, y in points], fill=fill)

    def dot(self, x: float, y: float, diameter: float, color: str) -> None:
        r = diameter * SCALE / 2
        self.draw.ellipse((x * SCALE - r, y * SCALE - r, x * SCALE + r, y * SCALE + r), fill=color)

    def text(self, x: float, y: float, text: str, points: float, anchor: str, color: str = INK) -> None:
        """Text at (x, y); `anchor` as Pillow's: l/m/r horizontally, a/m/s/d (ascender, middle, baseline,
        descender) vertically."""
        self.draw.text((x * SCALE, y * SCALE), text, font=_font(points), fill=color, anchor=anchor)

    def turned_text(self, x: float, y: float, text: str, points: float, angle: int, *, top: bool) -> None:
        """Text turned counter-clockwise by `angle` degrees; its bounding box is centred on x, with its top at
        y (`top`) or centred on y."""
        font = _font(points)
        left, upper, right, lower = font.getbbox(text)
        mask = Image.new("L", (int(right - left) + 2, int(lower - upper) + 2))
        ImageDraw.Draw(mask).text((1 - left, 1 - upper), text, font=font, fill=255)
        if angle == 90:
            turned = mask.transpose(Image.Transpose.ROTATE_90)
        else:
            turned = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
        column = round(x * SCALE - turned.width / 2)
        row = round(y * SCALE) if top else round(y * SCALE - turned.height / 2)
        self.image.paste(INK, (column, row), turned)

    def frame(self, panel: Panel) -> None:
        """The panel's outline, drawn over what reaches its edges."""
        self.hline(panel.left, panel.right + 1, panel.top, INK)
        self.hline(panel.left, panel.right + 1, panel.bottom, INK)
        self.vline(panel.left, panel.top, panel.bottom + 1, INK)
        self.vline(panel.right, panel.top, panel.bottom + 1, INK)

    def save(self, path: Path) -> None:
        _write_png(self.image.reduce(SCALE), path)


def _write_png(image: Image.Image, path: Path) -> None:
    """An RGB image as a PNG: every row filtered as "up" (the difference from the row above) and deflated at
    level 1. A third of the time of Pillow's encoder, which tries every filter on every row, and the file is
    as small (about 50 KB): the chart is made for every server and period."""
    pixels = np.asarray(image, dtype=np.uint8).reshape(image.height, -1)
    rows = np.empty((image.height, pixels.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = 2  # the filter type "up"; above the first row PNG counts zeros
    rows[0, 1:] = pixels[0]
    np.subtract(pixels[1:], pixels[:-1], out=rows[1:, 1:])  # uint8 wraps modulo 256, as PNG's arithmetic does

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", image.width, image.height, 8, 2, 0, 0, 0)  # 8-bit RGB, not interlaced
    path.write_bytes(
        PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + chunk(b"IEND", b"")
    )


def _fit_axis(canvas: Canvas, panel: Panel) -> None:
    """Grid lines, ticks and labels of the fit scale on the left edge."""
    for value in FIT_TICKS:
        y = panel.y(value)
        canvas.hline(panel.left, panel.right, y, GRID)
        canvas.hline(panel.left - TICK, panel.left, y, INK)
        canvas.text(panel.left - TICK - PAD, y, f"{value:.1f}", 10, "rm")


def _title(canvas: Canvas, panel: Panel, lines: Sequence[str]) -> None:
    """Centred above the panel, the last line 6 points above it."""
    centre = (panel.left + panel.right) / 2
    for index, line in enumerate(reversed(lines)):
        canvas.text(centre, panel.top - 6 * PT - index * 10 * PT * 1.2, line, 10, "md")


def _date_ticks(first: float, last: float) -> list[int]:
    """Days (ordinals) to label between first and last: at most MAX_DATE_TICKS, weekly steps on Mondays."""
    span = max(last - first, 1.0)
    step = next((step for step in TICK_STEPS if span / step <= MAX_DATE_TICKS), TICK_STEPS[-1])
    # Weekly and longer steps start on a Monday (ordinal 1, 0001-01-01, was one), as the weekly points do.
    start = int(first) + ((1 - int(first)) % 7 if step >= 7 else -int(first) % step)
    return [day for day in range(start, int(last) + 1, step) if first <= day <= last]


def _bands(points: Sequence[tuple[float, TimePoint]]) -> list[list[tuple[float, float, float]]]:
    """Runs of consecutive points that have an interval: (x, low, high) each; a point without one breaks the
    band, as NaN does in matplotlib's fill_between."""
    runs: list[list[tuple[float, float, float]]] = [[]]
    for x, point in points:
        low, high = point.mean_fit.low, point.mean_fit.high
        if low is not None and high is not None and isfinite(low) and isfinite(high):
            runs[-1].append((x, low, high))
        elif runs[-1]:
            runs.append([])
    return [run for run in runs if len(run) >= 2]


def _over_time(canvas: Canvas, box: Panel, periods: Sequence[DigestRows], current: DigestRows, digest: Digest) -> None:
    points, weekly = _points(periods, digest)
    shown = [
        (float(asked.toordinal()), point)
        for point in points
        if point.mean_fit.value is not None and (asked := _day(point.day)) is not None
    ]
    start, end = _day(current.start), _day(current.end)
    scope_days = sorted(
        {
            changed.toordinal()
            for rows in periods
            for row in rows.audit
            if row.action.startswith("scope.") and (changed := _day(row.created_at)) is not None
        }
    )
    days = [x for x, _ in shown] + scope_days
    if start is not None and end is not None:
        days += [start.toordinal(), end.toordinal()]
    first, last = (min(days), max(days)) if days else (0.0, 1.0)
    margin = (last - first) * 0.05 or 1.0  # matplotlib's default margins
    panel = replace(box, x0=first - margin, x1=last + margin)

    if start is not None and end is not None:
        canvas.rectangle(panel.x(start.toordinal()), panel.top, panel.x(end.toordinal()), panel.bottom, CURRENT)
    _fit_axis(canvas, panel)
    for tick in _date_ticks(panel.x0, panel.x1) if days else []:
        x = panel.x(tick)
        canvas.vline(x, panel.bottom, panel.bottom + TICK, INK)
        canvas.turned_text(x, panel.bottom + TICK + PAD, date.fromordinal(tick).isoformat(), 8, 30, top=True)
    for changed_on in scope_days:
        canvas.dotted(panel.x(changed_on), panel.x(changed_on), panel.top, panel.bottom, SCOPE)
    for run in _bands(shown):
        outline = [(panel.x(x), panel.y(high)) for x, _, high in run]
        outline += [(panel.x(x), panel.y(low)) for x, low, _ in reversed(run)]
        canvas.polygon(outline, BAND)
    line = [(panel.x(x), panel.y(point.mean_fit.value or 0.0)) for x, point in shown]
    if len(line) >= 2:
        canvas.line(line, LINE, 1.5 * PT)
    for x, y in line:
        canvas.dot(x, y, 3 * PT, LINE)
    if not shown:
        canvas.text(panel.centre[0], panel.centre[1], "No ratings yet", 10, "mm", MUTED)
    canvas.frame(panel)
    _title(canvas, panel, ["Fit over time, per " + ("week" if weekly else "day") + " (95% CI band)"])
    label = "mean fit (0 = does not fit, 1 = fits)"
    canvas.turned_text(panel.left - TICK - PAD - 24 * PT, panel.centre[1], label, 9, 90, top=False)
    _legend(canvas, panel, start is not None and end is not None, bool(scope_days), bool(shown))


def _legend(canvas: Canvas, panel: Panel, period: bool, scope: bool, line: bool) -> None:
    """Lower left inside the panel, no frame, as matplotlib's legend(loc="lower left", fontsize=8)."""
    entries = [name for name, shown in (("this period", period), ("scope change", scope), ("mean fit", line)) if shown]
    size = 8 * PT
    x = panel.left + 0.9 * size
    y = panel.bottom - 0.9 * size - (len(entries) - 1) * 1.5 * size - size / 2
    for name in entries:
        handle = (x, x + 2 * size)
        if name == "this period":
            canvas.rectangle(handle[0], y - 0.35 * size, handle[1], y + 0.35 * size, CURRENT)
        elif name == "scope change":
            canvas.dotted(handle[0], handle[1], y, y, SCOPE)
        else:
            canvas.line([(handle[0], y), (handle[1], y)], LINE, 1.5 * PT)
            canvas.dot((handle[0] + handle[1]) / 2, y, 3 * PT, LINE)
        canvas.text(handle[1] + 0.8 * size, y, name, 8, "lm")
        y += 1.5 * size


def _by_version(canvas: Canvas, box: Panel, digest: Digest) -> None:
    versions: list[GroupFit] = [group for group in digest.versions.versions if group.mean_fit.value is not None]
    count = len(versions)
    margin = 0.05 * (max(count, 1) - 0.2)  # bars of width 0.8 at 0, 1, ...: from -0.4 to count - 0.6
    panel = replace(box, x0=-0.4 - margin, x1=count - 0.6 + margin, y1=1.08)
    _fit_axis(canvas, panel)
    _title(canvas, panel, ["Mean fit by scope version", f"({digest.versions.window})"])
    if not versions:
        canvas.text(panel.centre[0], panel.centre[1], "No rated versions", 10, "mm", MUTED)
    cap = 4 * PT
    for position, group in enumerate(versions):
        estimate = group.mean_fit
        value = estimate.value or 0.0
        left, right = panel.x(position - 0.4), panel.x(position + 0.4)
        canvas.rectangle(left, panel.y(value), right, panel.bottom, BARS)
        centre = panel.x(position)
        low = value if estimate.low is None else min(value, estimate.low)
        high = value if estimate.high is None else max(value, estimate.high)
        if estimate.low is not None or estimate.high is not None:
            canvas.vline(centre, panel.y(high), panel.y(low), INK, PT)
            for end in (low, high):
                canvas.hline(centre - cap, centre + cap, panel.y(end), INK, PT)
        canvas.text(centre, panel.y(0.02), f"n={estimate.ratings}", 7, "md", "white")
        canvas.vline(centre, panel.bottom, panel.bottom + TICK, INK)
        canvas.text(centre, panel.bottom + TICK + PAD, group.label, 10, "ma")
    canvas.frame(panel)


def render_chart(current: DigestRows, history: Sequence[DigestRows] | None, digest: Digest, path: Path) -> Path:
    """Write the PNG to `path` and return it. `history`: earlier periods, oldest first (may be None)."""
    seen = {(current.start, current.end)}
    periods: list[DigestRows] = []
    for rows in history or ():
        if (rows.start, rows.end) not in seen:
            seen.add((rows.start, rows.end))
            periods.append(rows)
    periods.append(current)
    canvas = Canvas()
    # The layout of the matplotlib figure this replaced: two panels, widths 2.2 : 1, the title above.
    _over_time(canvas, Panel(70, 68, 639, 340), periods, current, digest)
    _by_version(canvas, Panel(722, 68, 980, 340), digest)
    canvas.text(WIDTH / 2, 8, "Research digest: how well answers fit (members' ratings)", 11, "ma")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
