"""The digest's PNG chart (matplotlib, Agg, no display): fit over time, and fit by scope version.

Left: mean fit (0..1) per day (per week when the periods span more than 35 days) with a cluster-bootstrap
95% band, over the history periods and this one; this period is shaded and scope changes are marked.
An answer counts on the day it was asked, on the server's clocks (`Digest.day_basis`). With just the digest's
two periods the line is the digest's own timeline, daily or weekly (no second bootstrap, and no rows needed: the
digest workers drop the previous period's rows before drawing).
Right: mean fit per scope version with 95% whiskers, from the digest's version comparison; each bar says how many
rated answers (the unit its interval resamples) and, where it is wide enough, ratings it rests on.
A point without an interval (one rated answer, or every answer alike) is drawn hollow, without a band, and named in
the legend; a version without one has no whisker. The report says which, next to the chart (sections.py).

The figure itself (panels, axes, fixed labels) is built once per thread and reused (`chart_canvas`); this
module adds one digest's artists to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes

from bot.digests.chart_canvas import ChartCanvas, shared_canvas
from bot.digests.groups import day_zone, fit_timeline, local_day, spans_weeks
from bot.digests.model import FEW_ANSWERS, NO_SPREAD, ONE_ANSWER, Digest, Estimate, GroupFit, TimePoint
from bot.digests.rows import DigestRows
from bot.wording import counted

LINE = "#1f6feb"
BAR = "#8250df"
CURRENT = "#fff8c5"
NO_RATINGS_NOW = "No ratings\nthis period"
SCOPE = "#bf3989"
MUTED = "#59636e"
INK = "#24292f"
BAND_STRIP = 5  # points: the width of the band of a point between two without one


def _day(timestamp: str, zone: ZoneInfo | None = None) -> date | None:
    """The day of a timestamp (or of a day as the timeline gives it) on the digest's clocks."""
    try:
        return date.fromisoformat(local_day(timestamp, zone))
    except ValueError:
        return None


def _points(periods: Sequence[DigestRows], digest: Digest) -> tuple[list[TimePoint], bool]:
    """The line's points and whether they are weekly (`spans_weeks`): the digest's own timeline when
    the chart shows just its two periods, whose rows it then does not read, else a timeline over all periods."""
    own = {(digest.start, digest.end)}
    if digest.previous is not None:
        own.add((digest.previous.start, digest.previous.end))
    weekly = spans_weeks(periods)
    if all((rows.start, rows.end) in own for rows in periods):
        if not weekly:
            return list(digest.timeline), False
        # Empty only when the digest's periods span fewer days than these (a digest made from other rows).
        if digest.weekly_timeline or not digest.timeline:
            return list(digest.weekly_timeline), True
    points = fit_timeline(
        periods, seed=digest.seed, bootstrap=digest.bootstrap, weekly=weekly, timezone=digest.day_basis
    )
    return list(points), weekly


def _over_time(axes: Axes, periods: Sequence[DigestRows], current: DigestRows, digest: Digest) -> None:
    points, weekly = _points(periods, digest)
    points = [point for point in points if point.mean_fit.value is not None and _day(point.day) is not None]
    x = np.array([point.day for point in points], dtype="datetime64[D]")
    means = np.array([np.nan if point.mean_fit.value is None else point.mean_fit.value for point in points])
    lows = np.array([np.nan if point.mean_fit.low is None else point.mean_fit.low for point in points])
    highs = np.array([np.nan if point.mean_fit.high is None else point.mean_fit.high for point in points])
    # Titles are placed where matplotlib would put them (y=1, its default pad of 6 points) instead of letting it
    # find the place, which lays out every tick label of the panel first: about 4 ms a panel, same picture.
    unit = "week" if weekly else "day"
    zone = day_zone(digest.day_basis)
    per = f"per UTC {unit}" if zone is None else f"per {unit} in {digest.day_basis}"
    title = f"Fit over time, {per} (95% CI band)"
    axes.set_title(title, fontsize=10, y=1.0, pad=6.0)
    start, end = _day(current.start, zone), _day(current.end, zone)
    if start is not None and end is not None:
        span = np.array([start, end], dtype="datetime64[D]")
        axes.fill_between(span, 0, 1, color=CURRENT, zorder=0, linewidth=0, label="this period")
    scope_days = sorted(
        {
            day
            for rows in periods
            for row in rows.audit
            if row.action.startswith("scope.") and (day := _day(row.created_at, zone))
        }
    )
    if scope_days:
        axes.vlines(
            np.array(scope_days, dtype="datetime64[D]"),
            0,
            1,
            colors=SCOPE,
            linestyles=":",
            linewidth=1,
            label="scope change",
        )
    if not points:
        axes.text(0.5, 0.5, "No ratings yet", transform=axes.transAxes, ha="center", va="center", color="#59636e")
    else:
        if digest.current.denominators.ratings == 0 and start is not None and end is not None:
            # The line is the previous period's alone: say so where this period's points would be.
            midday = datetime.combine(start, datetime.min.time()) + (end - start) / 2
            middle = mdates.date2num(midday)  # type: ignore[no-untyped-call]  # matplotlib's dates are untyped
            axes.text(middle, 0.5, NO_RATINGS_NOW, ha="center", va="center", color="#59636e", fontsize=8)
        axes.fill_between(x, lows, highs, color=LINE, alpha=0.18, linewidth=0)
        banded = np.isfinite(lows) & np.isfinite(highs)
        # A band between two points without one is a polygon of no width: drawn as a strip of the same colour, so
        # that every point drawn without a band has no interval.
        alone = banded & ~np.r_[False, banded[:-1]] & ~np.r_[banded[1:], False]
        if alone.any():
            axes.vlines(x[alone], lows[alone], highs[alone], colors=LINE, alpha=0.18, linewidth=BAND_STRIP)
        axes.plot(x, means, color=LINE, marker="o", markersize=3, linewidth=1.5, label="mean fit")
        if not banded.all():
            axes.plot(
                x[~banded],
                means[~banded],
                linestyle="none",
                color=LINE,
                marker="o",
                markersize=4,
                markerfacecolor="white",
                markeredgecolor=LINE,
                label=no_band_label([point.mean_fit for point, has in zip(points, banded, strict=True) if not has]),
            )
    axes.legend(loc="lower left", fontsize=8, frameon=False)


def no_band_label(estimates: Sequence[Estimate]) -> str:
    """The legend's entry for points drawn without a band, by why they have no interval."""
    reasons = {estimate.interval for estimate in estimates}
    few = reasons & {ONE_ANSWER, FEW_ANSWERS}
    if not reasons or reasons - {ONE_ANSWER, FEW_ANSWERS, NO_SPREAD}:
        return "no band: no interval"
    one = few == {ONE_ANSWER}
    if few and NO_SPREAD in reasons:
        return f"no band: {'one answer' if one else 'few answers'}, or all alike"
    if few:
        return f"no band: {'one rated answer' if one else 'under 5 rated answers'}"
    return "no band: answers all alike"


def _by_version(axes: Axes, digest: Digest) -> None:
    versions = [group for group in digest.versions.versions if group.mean_fit.value is not None]
    axes.set_title(f"Mean fit by scope version\n({digest.versions.window})", fontsize=10, y=1.0, pad=6.0)
    if not versions:
        axes.text(0.5, 0.5, "No rated versions", transform=axes.transAxes, ha="center", va="center", color="#59636e")
        axes.set_xticks([])
        return
    positions = np.arange(len(versions))
    values = np.array([group.mean_fit.value or 0.0 for group in versions])
    # No whisker (NaN: not drawn, not even its caps) for a version without an interval.
    below = np.array(
        [
            np.nan if group.mean_fit.low is None else max(0.0, (group.mean_fit.value or 0.0) - group.mean_fit.low)
            for group in versions
        ]
    )
    above = np.array(
        [
            np.nan if group.mean_fit.high is None else max(0.0, group.mean_fit.high - (group.mean_fit.value or 0.0))
            for group in versions
        ]
    )
    axes.bar(
        positions, values, color=BAR, alpha=0.8, yerr=np.vstack([below, above]), capsize=4, error_kw={"elinewidth": 1}
    )
    spelled = len(versions) <= SPELLED_OUT_VERSIONS
    tall_enough = COUNT_LINE_HEIGHT * (2 if spelled else 1) + 0.02  # for the count to sit inside the bar
    for position, group, value in zip(positions, versions, values.tolist(), strict=True):
        color = "white" if value >= tall_enough else INK  # a short bar's count overflows it onto the white
        axes.text(float(position), 0.02, bar_count(group, spelled), ha="center", va="bottom", fontsize=7, color=color)
    if not spelled:  # what "n=" counts, once, above the bars (a bar's whisker reaches 1.0 at most)
        axes.text(0.5, 0.99, BAR_COUNT_KEY, transform=axes.transAxes, ha="center", va="top", fontsize=7, color=MUTED)
    axes.set_xticks(positions, [group.label for group in versions])


SPELLED_OUT_VERSIONS = 3  # up to this many bars, each says "12 answers / 40 ratings" in full; more are narrower
BAR_COUNT_KEY = "n = rated answers"
COUNT_LINE_HEIGHT = 0.045  # a line of 7-point text, in mean fit (the panel's 0..1.08 is about 270 pixels high)


def bar_count(group: GroupFit, spelled: bool) -> str:
    """What a version's bar rests on: its rated answers (the unit its interval resamples), and, where the bar is
    wide enough, its ratings; "n=12" on narrower bars, with BAR_COUNT_KEY above them."""
    fit = group.mean_fit
    if spelled:
        return f"{counted(fit.answers, 'answer')}\n{counted(fit.ratings, 'rating')}"
    return f"n={fit.answers}"


def render_chart(
    current: DigestRows,
    history: Sequence[DigestRows] | None,
    digest: Digest,
    path: Path,
    *,
    canvas: ChartCanvas | None = None,
) -> Path:
    """Write the PNG to `path` and return it. `history`: earlier periods, oldest first (may be None).
    `canvas`: the figure to draw on, by default this thread's shared one."""
    seen = {(current.start, current.end)}
    periods: list[DigestRows] = []
    for rows in history or ():
        if (rows.start, rows.end) not in seen:
            seen.add((rows.start, rows.end))
            periods.append(rows)
    periods.append(current)
    canvas = canvas or shared_canvas()
    canvas.clear()
    _over_time(canvas.over_time, periods, current, digest)
    _by_version(canvas.by_version, digest)
    return canvas.save(path)
