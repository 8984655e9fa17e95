"""Response times per queue and ISO week, with a server-drawn SVG chart of the share answered within goal,
and the same figures as a CSV download (``/reports/weekly.csv``).

One list, :data:`CSV_COLUMNS`, names every figure of a row. The figures practices compare (first
response p50/p90 in business minutes — urgent: wall-clock —, the share waiting over 1 business hour and
over 1 business day beside the goals, tickets per owner) are a second table and ``/reports/figures.csv``,
cell for cell what ``python -m bot report --csv`` prints (:func:`bot.staff.responsetimes.figures_table`).
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any, Callable

from flask import Blueprint, Response, g, render_template, request
from markupsafe import Markup, escape

from bot.messaging.conversations import counts_per_channel
from bot.practice import get_practice, practice_zone
from bot.staff import responsetimes, routing
from web.auth import db, now
from web.inbox import CHANNEL_LABELS

bp = Blueprint("reports", __name__, url_prefix="/reports")

COLOURS = {"front_desk": "#1f77b4", "billing": "#2ca02c", "clinical": "#9467bd", "urgent": "#d62728"}


def share_chart_svg(rows: list[responsetimes.QueueWeek], weeks: list[str], queues: list[str],
                    names: dict[str, str]) -> Markup:
    """Grouped bars: for each week, one bar per queue with the share answered within goal."""
    width, height, left, bottom, top = 720, 260, 44, 36, 18
    plot_h = height - bottom - top
    by_key = {(r.queue, r.week): r for r in rows}
    group_w = (width - left - 10) / max(1, len(weeks))
    bar_w = min(40.0, max(4.0, (group_w - 10) / max(1, len(queues))))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height + 24}" '
             f'role="img" aria-label="Share answered within goal per week">']
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#ddd"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{pct}%</text>')
    for wi, week in enumerate(weeks):
        x0 = left + wi * group_w + (group_w - bar_w * len(queues)) / 2
        for qi, queue in enumerate(queues):
            row = by_key.get((queue, week))
            share = row.within_goal_share if row else None
            if share is None:
                continue
            bar_h = max(1.5, plot_h * share)  # a sliver, so 0% is seen as a bar, not as missing
            x = x0 + qi * bar_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
                f'fill="{COLOURS.get(queue, "#777")}"><title>{escape(names.get(queue, queue))} {escape(week)}: '
                f'{share:.0%} of {row.decided}</title></rect>'
                f'<text x="{x + (bar_w - 2) / 2:.1f}" y="{top + plot_h - bar_h - 3:.1f}" font-size="10" '
                f'text-anchor="middle">{share:.0%}</text>')
        parts.append(f'<text x="{left + wi * group_w + group_w / 2:.1f}" y="{height - bottom + 16}" font-size="11" '
                     f'text-anchor="middle">{escape(week[5:])}</text>')
    for qi, queue in enumerate(queues):
        x = left + qi * 130
        parts.append(f'<rect x="{x}" y="{height + 6}" width="12" height="12" fill="{COLOURS.get(queue, "#777")}"/>'
                     f'<text x="{x + 16}" y="{height + 16}" font-size="12">{escape(names.get(queue, queue))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _minutes(value: timedelta | None) -> str:
    return "" if value is None else f"{value.total_seconds() / 60:.1f}"


# (column, the figure of a QueueWeek); the queue's display name comes first in every row.
CSV_COLUMNS: list[tuple[str, Callable[[responsetimes.QueueWeek], Any]]] = [
    ("week", lambda r: r.week),
    ("tickets", lambda r: r.tickets),
    ("answered", lambda r: r.answered),
    ("resolved", lambda r: r.resolved),
    ("first_response_median_min", lambda r: _minutes(r.median_first_response)),
    ("first_response_p90_min", lambda r: _minutes(r.p90_first_response)),
    ("resolution_median_min", lambda r: _minutes(r.median_resolution)),
    ("resolution_p90_min", lambda r: _minutes(r.p90_resolution)),
    ("within_goal", lambda r: r.within_goal),
    ("decided", lambda r: r.decided),
    ("within_goal_share", lambda r: "" if r.within_goal_share is None else f"{r.within_goal_share:.3f}"),
]


def _weeks_back() -> int:
    return min(max(request.args.get("weeks", 8, type=int), 1), 52)


def _report(weeks_back: int):
    at = now()
    with db() as session:
        practice = get_practice(session)
        zone = practice_zone(practice)
        names = routing.queue_names(practice)
        queues = [q for q in g.staff.queues]
        rows = responsetimes.weekly_report(session, zone, at, weeks_back, tuple(queues))
    return rows, names, queues


@bp.get("/weekly.csv")
def weekly_csv():
    """The table as CSV for a spreadsheet: minutes as decimals, the share as a fraction, empty for none."""
    weeks_back = _weeks_back()
    rows, names, _ = _report(weeks_back)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["queue"] + [name for name, _ in CSV_COLUMNS])
    for row in rows:
        writer.writerow([_cell(names.get(row.queue, row.queue))] + [figure(row) for _, figure in CSV_COLUMNS])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="response-times-{weeks_back}-weeks.csv"'})


def _figures(weeks_back: int) -> list[tuple[str, ...]]:
    """The goal figures of the viewer's queues (queue names as the practice file gives them)."""
    with db() as session:
        practice = get_practice(session)
        names = routing.queue_names(practice)
        rows = responsetimes.queue_figures(session, now(), weeks_back, tuple(g.staff.queues))
        return [(cells[0], names.get(cells[1], cells[1]), *cells[2:]) for cells in responsetimes.figures_table(rows)]


@bp.get("/figures.csv")
def figures_csv():
    """The goal figures per queue and week, as `python -m bot report --csv` prints them."""
    weeks_back = _weeks_back()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(responsetimes.FIGURE_COLUMNS)
    for cells in _figures(weeks_back):
        writer.writerow([_cell(cell) for cell in cells])
    return Response(out.getvalue(), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="queue-goals-{weeks_back}-weeks.csv"'})


def _cell(text: str) -> str:
    """A spreadsheet never runs a cell as a formula (a queue's name comes from the practice file)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


@bp.get("/")
def index():
    weeks_back = _weeks_back()
    rows, names, queues = _report(weeks_back)
    weeks = sorted({r.week for r in rows})
    fmt = responsetimes.format_duration
    table = [{
        "queue": names.get(r.queue, r.queue), "week": r.week, "tickets": r.tickets, "answered": r.answered,
        "median_first": fmt(r.median_first_response), "p90_first": fmt(r.p90_first_response),
        "median_resolution": fmt(r.median_resolution), "p90_resolution": fmt(r.p90_resolution),
        "share": "—" if r.within_goal_share is None else f"{r.within_goal_share:.0%}",
        "decided": r.decided,
    } for r in rows]
    chart = share_chart_svg(rows, weeks, [q for q in queues if any(r.queue == q for r in rows)], names)
    return render_template("reports/index.html", table=table, chart=chart, weeks_back=weeks_back,
                           has_data=bool(rows), figures=_figures(weeks_back), figure_columns=FIGURE_HEADINGS,
                           channels=_channels(weeks_back))


def _channels(weeks_back: int) -> list[dict[str, Any]]:
    """Conversations, patients' messages and tickets per channel over the weeks shown."""
    at = now()
    with db() as session:
        counts = counts_per_channel(session, at - timedelta(weeks=weeks_back), at)
    return [{"channel": CHANNEL_LABELS.get(c.channel, c.channel.value), "conversations": c.conversations,
             "messages": c.messages, "tickets": c.tickets} for c in counts]


# The goal table's headings, one per responsetimes.FIGURE_COLUMNS entry.
FIGURE_HEADINGS = ("Week", "Queue", "Counted in", "Tickets", "Answered", "First response p50 (min)", "p90 (min)",
                   "Over 1 business hour", "Goal", "Over 1 business day", "Goal", "Tickets per owner")
