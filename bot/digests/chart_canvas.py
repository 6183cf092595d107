"""The chart's matplotlib figure, built once per thread and reused for every digest made there.

Building a figure and drawing its text is most of a chart's cost (about 120 ms of a 5,000-rating digest's
330 ms), and most of that text is the same for every server: the suptitle, axis labels, tick labels and
panel titles. The figure therefore keeps two kinds of artists apart:

- the frame: every text outside the panels (suptitle, panel titles, the y label, the y tick labels and the
  left panel's date labels). It depends only on `frame_key` (the titles and the time axis' limits), is drawn
  alone onto the blank figure when that key changes, and kept as a pixel buffer;
- the rest: panel backgrounds, spines, tick marks, grid lines, every data artist, legends and the version
  labels under the right panel. Each chart restores the frame's pixels and draws the panels over them with
  matplotlib's ordinary `Axes.draw`.

The two sets never overlap on the canvas (frame texts sit outside the panels, padded away from the tick
marks), so the result is the same image, pixel for pixel, as drawing the whole figure at once
(`draw_whole`, which the tests compare against).

The tick positions of the axes whose labels are in the frame (both y axes, the time axis) depend only on
their limits, which the frame key holds: they are taken when the frame is drawn and given to those axes as
fixed positions, with no labels (theirs are in the frame), while the panels are drawn. Matplotlib's date and
number locators and formatters otherwise ran again on every chart (about 5 ms of it).

The left panel's legend is drawn after the panel, and its pixels are reused when it lies over the same pixels
as on an earlier chart (see `_draw_legend`).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.legend import Legend
from matplotlib.ticker import FixedLocator, NullFormatter
from matplotlib.transforms import Bbox
from numpy.typing import NDArray

from bot.digests.png import write_png

SIZE = (10, 4)  # inches
DPI = 100
TITLE = "Research digest: how well answers fit (members' ratings)"


class ChartCanvas:
    """The figure with its two panels, `over_time` and `by_version`; `clear`, add the digest's artists, `save`."""

    def __init__(self) -> None:
        self.figure = Figure(figsize=SIZE, dpi=DPI)
        # The Agg canvas, explicitly: no pyplot, no display. Typed Any: matplotlib's Agg backend has no type hints.
        self.canvas: Any = FigureCanvasAgg(self.figure)
        self.figure.subplots_adjust(left=0.07, right=0.98, bottom=0.15, top=0.83, wspace=0.2)
        axes = self.figure.subplots(1, 2, gridspec_kw={"width_ratios": [2.2, 1]})
        self.over_time: Axes = axes[0]
        self.by_version: Axes = axes[1]
        self.figure.suptitle(TITLE, fontsize=11)
        left, right = self.over_time, self.by_version
        left.set_ylim(0, 1)
        left.set_ylabel("mean fit (0 = does not fit, 1 = fits)", fontsize=9)
        left.grid(axis="y", alpha=0.3)
        left.xaxis_date()
        left.tick_params(axis="x", labelrotation=30, labelsize=8)
        right.set_ylim(0, 1.08)
        right.grid(axis="y", alpha=0.3)
        self._frame: Any = None  # the frame's pixels (a BufferRegion)
        self._frame_key: tuple[object, ...] | None = None
        self._ticks: list[tuple[Axis, FixedLocator]] = []  # the frame's tick positions of its labelled axes
        # Per legend look: the pixel area it covers, and the last few pixels it was drawn over with what it gave.
        self._legend_areas: dict[tuple[object, ...], tuple[slice, slice]] = {}
        self._legend_pixels: dict[tuple[object, ...], list[tuple[NDArray[np.uint8], NDArray[np.uint8]]]] = {}
        self._show_frame(False)

    def clear(self) -> None:
        """Remove the previous digest's artists and data limits, as on a new figure."""
        for axes in (self.over_time, self.by_version):
            for container in list(axes.containers):
                container.remove()
            for artist in _data_artists(axes):
                artist.remove()
            axes.dataLim.set_points(Bbox.null().get_points())
            axes.ignore_existing_data_limits = True
            axes.set_autoscalex_on(True)
        self.over_time.set_title("")
        self.by_version.set_title("")

    def frame_key(self) -> tuple[object, ...]:
        """What the frame's pixels depend on (everything else in it is fixed)."""
        left, right = self.over_time, self.by_version
        return (left.get_title(), left.get_xlim(), right.get_title())

    def save(self, path: Path) -> Path:
        """Draw the chart and write it as a PNG (the pixels `Figure.savefig` writes, encoded faster)."""
        key = self.frame_key()
        if key != self._frame_key:
            self._draw_frame()
            self._frame_key = key
            axes = (self.over_time.xaxis, self.over_time.yaxis, self.by_version.yaxis)
            self._ticks = [(axis, FixedLocator(axis.get_majorticklocs().tolist())) for axis in axes]
        self.canvas.restore_region(self._frame)
        legend = self.over_time.legend_
        if legend is not None:
            legend.set_visible(False)  # drawn last, after the panel (see _draw_legend)
        kept = [(axis.get_major_locator(), axis.get_major_formatter()) for axis, _ in self._ticks]
        for axis, fixed in self._ticks:
            # Set on the axis' ticker directly: Axis.set_major_locator would also mark it as no longer the
            # default, which matters to unit changes.
            axis.major.locator, axis.major.formatter = fixed, _NO_LABELS
            fixed.set_axis(axis)
        try:
            self.figure.draw_artist(self.over_time)
            self.figure.draw_artist(self.by_version)
        finally:
            for (axis, _), (locator, formatter) in zip(self._ticks, kept, strict=True):
                axis.major.locator, axis.major.formatter = locator, formatter
            if legend is not None:
                legend.set_visible(True)
        if legend is not None:
            self._draw_legend(legend)
        self._write(path)
        return path

    def _draw_legend(self, legend: Legend) -> None:
        """Draw the legend over the panel drawn without it, or paste the pixels it gave before.

        The legend is the panel's last artist (the highest zorder) and lies inside it, clear of the other panel,
        so drawing it after the panel gives the same pixels. Its entries and place are the same on most charts,
        and so, mostly, is what lies under it (grid lines, now and then a scope change's line): when the pixels
        under its area (padded by LEGEND_PAD) are ones it was drawn over before, with the same look, the pixels
        it made then are pasted. Drawing it (text layout, glyphs, offset boxes) took about 9 ms a chart.
        """
        key = _legend_key(legend)
        pixels = np.asarray(self.canvas.buffer_rgba())
        area = self._legend_areas.get(key)
        if area is not None:
            under = pixels[area]
            for before, after in self._legend_pixels[key]:
                if np.array_equal(under, before):
                    pixels[area] = after
                    return
        renderer = self.canvas.get_renderer()
        if area is None:
            box = legend.get_window_extent(renderer)
            height, width = pixels.shape[:2]
            area = (
                slice(max(0, int(height - box.y1) - LEGEND_PAD), min(height, int(height - box.y0) + 1 + LEGEND_PAD)),
                slice(max(0, int(box.x0) - LEGEND_PAD), min(width, int(box.x1) + 1 + LEGEND_PAD)),
            )
            self._legend_areas[key] = area
        before = pixels[area].copy()
        legend.draw(renderer)
        kept = self._legend_pixels.setdefault(key, [])
        kept.insert(0, (before, pixels[area].copy()))
        del kept[LEGEND_BACKGROUNDS:]

    def draw_whole(self) -> NDArray[np.uint8]:
        """The whole figure drawn at once, as matplotlib does without the frame kept (for comparison)."""
        self._show_frame(True)
        try:
            self.canvas.draw()
        finally:
            self._show_frame(False)
        self._frame_key = None  # the canvas no longer holds the frame alone
        return np.array(self.canvas.buffer_rgba())

    def pixels(self) -> NDArray[np.uint8]:
        return np.array(self.canvas.buffer_rgba())

    def _draw_frame(self) -> None:
        """Draw the frame alone on the blank figure and keep its pixels."""
        hidden = [artist for axes in (self.over_time, self.by_version) for artist in _panel_artists(axes)]
        self._show_frame(True)
        self._show_rest(False, hidden)
        try:
            self.canvas.draw()
        finally:
            self._show_rest(True, hidden)
            self._show_frame(False)
        self._frame = self.canvas.copy_from_bbox(self.figure.bbox)

    def _show_frame(self, visible: bool) -> None:
        left, right = self.over_time, self.by_version
        for axes in (left, right):
            axes.title.set_visible(visible)
            axes.tick_params(axis="y", labelleft=visible)
        left.yaxis.label.set_visible(visible)
        left.tick_params(axis="x", labelbottom=visible)

    def _show_rest(self, visible: bool, artists: list[Artist]) -> None:
        for artist in artists:
            artist.set_visible(visible)
        for axes in (self.over_time, self.by_version):
            axes.tick_params(tick1On=visible)
            axes.tick_params(axis="y", gridOn=visible)
        self.by_version.tick_params(axis="x", labelbottom=visible)  # the version labels change with every server

    def _write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_png(path, np.asarray(self.canvas.buffer_rgba()), DPI)


def _legend_key(legend: Legend) -> tuple[object, ...]:
    """What a legend's pixels depend on besides what lies under it: its texts, its handles' look, its place."""
    handles = tuple(
        (type(handle).__name__, *(repr(getattr(handle, name)()) for name in _HANDLE_LOOK if hasattr(handle, name)))
        for handle in legend.legend_handles
        if handle is not None
    )
    texts = tuple((text.get_text(), text.get_fontsize(), text.get_color()) for text in legend.texts)
    axes = legend.axes
    place = getattr(legend, "_loc", None)  # the code of loc="lower left" etc.; no public getter
    return (texts, handles, place, tuple(axes.bbox.bounds) if axes is not None else None)


# The handles' properties that show (lines, patches and collections each have some of them).
_HANDLE_LOOK = (
    "get_color",
    "get_facecolor",
    "get_edgecolor",
    "get_alpha",
    "get_linestyle",
    "get_linewidth",
    "get_marker",
    "get_markersize",
    "get_markerfacecolor",
    "get_markeredgecolor",
    "get_hatch",
)
LEGEND_PAD = 4  # pixels around the legend's box: antialiased edges may reach just beyond it
LEGEND_BACKGROUNDS = 8  # backgrounds kept per legend look (under 0.2 MB)


def _data_artists(axes: Axes) -> list[Artist]:
    artists: list[Artist] = [*axes.lines, *axes.collections, *axes.patches, *axes.texts]
    if axes.legend_ is not None:
        artists.append(axes.legend_)
    return artists


def _panel_artists(axes: Axes) -> list[Artist]:
    """What the frame is drawn without: the panel's background, spines and data artists."""
    return [axes.patch, *axes.spines.values(), *_data_artists(axes)]


_NO_LABELS = NullFormatter()  # for axes whose tick labels are in the frame (hidden while the panels are drawn)

_local = threading.local()


def shared_canvas() -> ChartCanvas:
    """This thread's canvas (a digest worker process has one thread; the bot may draw in several)."""
    canvas: ChartCanvas | None = getattr(_local, "canvas", None)
    if canvas is None:
        canvas = _local.canvas = ChartCanvas()
    return canvas
