"""`raiwatch report`: what ClickHouse holds for a time window, as terminal tables, JSON, or one
self-contained HTML page with charts.

Numbers:
- every query reads `verdicts FINAL` (a judged request's judge revision replaces its screen row;
  a re-inserted row collapses), `messages FINAL`, `alerts FINAL`, `dead_letters FINAL`;
- the window (`--since`) is applied to every table's `event_time` through ClickHouse's
  `additional_table_filters` setting, so the demo summary's queries (`ops/summary.py`) run here
  unchanged: totals, per pillar, per category, per model version, dead letters, alerts. A
  verdict's `event_time` is the request's and the same in every revision, so filtering before
  the FINAL merge keeps or drops all revisions of a verdict together;
- rates are shares of requests: a pillar's violation (over-refusal) rate is the share of all
  requests that are violations (over-refusals) with a finding in that pillar (requests with no
  finding count as pillar `(none)`, where every over-refusal lands); a model version's rates are
  shares of that version's requests;
- latency is end to end, from the Kafka timestamp of the request's latest input message to the
  time its final verdict row was written (`input_published_at` → `written_at`, as
  `ops/bench/pipeline.py` measures it), exact quantiles; per stage from `stage_latency_ms`.

The trend charts bucket `event_time` into fixed steps chosen from the window's span (at most
`MAX_BUCKETS` buckets). The HTML page has no scripts and no external resources (a
Content-Security-Policy forbids both); charts are inline SVG drawn here, each mark carrying
`data-series`, `data-value` and friends so a test can read what was drawn.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..schemas.clickhouse import clickhouse_client
from .errors import ConfigurationError
from .settings import RaiwatchSettings
from .summary import QUERIES as SUMMARY_QUERIES

WINDOW_TABLES = ("verdicts", "messages", "alerts", "dead_letters")
# Bucket steps for the trends, smallest first; the first that gives at most MAX_BUCKETS is used.
BUCKET_STEPS_S = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800)
MAX_BUCKETS = 48
TOP_CATEGORIES = 12
QUANTILES = (0.5, 0.9, 0.99)
NO_PILLAR = "(none)"
TREND_QUERIES = ("bucket_totals", "pillar_trend", "model_trend", "dead_letter_trend", "latency_trend")

_BUCKET = "intDiv(toUnixTimestamp64Milli(event_time), {bucket_ms:Int64}) * {bucket_ms:Int64}"
_E2E_MS = "dateDiff('millisecond', input_published_at, written_at)"
_HAS_E2E = "toUnixTimestamp64Milli(input_published_at) > 0"
_QUANTILES = f"quantilesExact({', '.join(str(q) for q in QUANTILES)})"

# The report's own queries (the summary's are reused as they are); all read the window.
QUERIES = {
    "span": "SELECT count(), toUnixTimestamp64Milli(min(event_time)), toUnixTimestamp64Milli(max(event_time)) "
            "FROM (SELECT event_time FROM verdicts UNION ALL SELECT event_time FROM dead_letters)",
    "bucket_totals": f"SELECT {_BUCKET} AS t, count(), sum(violation), sum(over_refusal) FROM verdicts FINAL "
                     "GROUP BY t ORDER BY t",
    "pillar_trend": f"SELECT {_BUCKET} AS t, arrayJoin(if(empty(pillars), ['{NO_PILLAR}'], pillars)) AS pillar, "
                    "sum(violation), sum(over_refusal) FROM verdicts FINAL GROUP BY t, pillar ORDER BY t, pillar",
    "model_trend": f"SELECT {_BUCKET} AS t, model_name, model_version, count(), sum(violation), sum(over_refusal) "
                   "FROM verdicts FINAL GROUP BY t, model_name, model_version ORDER BY t, model_name, model_version",
    "dead_letter_trend": f"SELECT {_BUCKET} AS t, count() FROM dead_letters FINAL GROUP BY t ORDER BY t",
    "latency_trend": f"SELECT {_BUCKET} AS t, count(), {_QUANTILES}({_E2E_MS}) FROM verdicts FINAL "
                     f"WHERE {_HAS_E2E} GROUP BY t ORDER BY t",
    "latency": f"SELECT count(), {_QUANTILES}({_E2E_MS}) FROM verdicts FINAL WHERE {_HAS_E2E}",
    "stage_latency": f"SELECT stage_name, count(), {_QUANTILES}(ms) FROM verdicts FINAL "
                     "ARRAY JOIN mapKeys(stage_latency_ms) AS stage_name, mapValues(stage_latency_ms) AS ms "
                     "GROUP BY stage_name ORDER BY stage_name",
    "messages": "SELECT count() FROM messages FINAL",
    "alerts_by_kind": "SELECT kind, severity, count() FROM alerts FINAL GROUP BY kind, severity "
                      "ORDER BY count() DESC, kind, severity",
}


# --- the data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Point:
    """One bucket of a trend: `value` is `count / total` for rates, milliseconds for latency."""

    t_ms: int
    value: float
    count: int
    total: int


@dataclass(frozen=True)
class Series:
    name: str
    points: list[Point]


@dataclass(frozen=True)
class Report:
    """Everything the report shows; `as_dict()` is the `--json` output."""

    database: str
    generated_at: datetime
    since: datetime | None  # window start; None: everything stored
    start_ms: int  # the trend charts' time axis
    end_ms: int
    bucket_s: int
    totals: dict[str, int]
    by_pillar: list[tuple[str, int, int, int]]  # pillar, requests with a finding there, violations, over-refusals
    by_model: list[tuple[str, str, int, float, float]]  # name, version, requests, violation rate, over-refusal rate
    by_category: list[tuple[str, int, int]]  # category, requests, violations
    dead_letters: list[tuple[str, int]]  # reason, count
    alerts_by_kind: list[tuple[str, str, int]]  # kind, severity, count
    latency: list[tuple[str, int, float, float, float]]  # what, rows, p50, p90, p99 (ms)
    trends: dict[str, list[Series]] = field(default_factory=dict)

    def rate(self, count: int) -> float:
        return count / self.totals["verdicts"] if self.totals["verdicts"] else 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["generated_at"] = _iso(self.generated_at)
        data["since"] = _iso(self.since) if self.since else None
        data["trends"] = {name: [{"name": s.name, "points": [{"t": _iso_ms(p.t_ms), **asdict(p)} for p in s.points]}
                                 for s in series] for name, series in self.trends.items()}
        return data


CHARTS = {  # trend name -> (title, what the values are)
    "violation_rate_by_pillar": ("Violation rate by pillar", "share of all requests in the bucket"),
    "over_refusal_rate_by_pillar": ("Over-refusal rate by pillar", "share of all requests in the bucket"),
    "violation_rate_by_model": ("Violation rate by model version", "share of that version's requests"),
    "over_refusal_rate_by_model": ("Over-refusal rate by model version", "share of that version's requests"),
    "volume": ("Requests and dead letters", "count per bucket"),
    "latency_ms": ("End-to-end latency", "ms, input published to verdict stored"),
}


# --- reading ClickHouse ---------------------------------------------------------------------

def parse_since(text: str) -> timedelta | None:
    """`30m`, `24h`, `7d`, `2w`, `90s` → a duration; `all` → None (no window)."""
    text = text.strip().lower()
    if text == "all":
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text)
    if not match or float(match.group(1)) <= 0:
        raise ConfigurationError(f"--since {text!r}: use a duration such as 30m, 24h, 7d, 2w, or 'all'")
    unit = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return timedelta(seconds=float(match.group(1)) * unit)


def bucket_seconds(span_s: float) -> int:
    """The smallest step from BUCKET_STEPS_S that cuts `span_s` into at most MAX_BUCKETS buckets."""
    for step in BUCKET_STEPS_S:
        if span_s / step <= MAX_BUCKETS:
            return step
    return BUCKET_STEPS_S[-1]


def window_filters(since: datetime | None) -> dict[str, str]:
    """ClickHouse settings that restrict every report table to `event_time >= since`."""
    if since is None:
        return {}
    ms = int(since.timestamp() * 1000)
    condition = f"event_time >= fromUnixTimestamp64Milli(toInt64({ms}))"
    return {"additional_table_filters": "{" + ", ".join(f"'{t}': '{condition}'" for t in WINDOW_TABLES) + "}"}


def build_report(settings: RaiwatchSettings, since: timedelta | None = timedelta(hours=24),
                 now: datetime | None = None) -> Report:
    """Read the report for the window `[now - since, ...)` (everything when `since` is None)."""
    now = now or datetime.now(UTC)
    start = now - since if since is not None else None
    window = window_filters(start)
    client = clickhouse_client(settings)
    try:
        def rows(sql: str, **parameters: Any) -> list[tuple]:
            return [tuple(r) for r in client.query(sql, parameters=parameters or None, settings=window).result_rows]

        summary = {name: rows(sql) for name, sql in SUMMARY_QUERIES.items()}
        now_ms = int(now.timestamp() * 1000)
        if start is not None:
            start_ms, end_ms = int(start.timestamp() * 1000), now_ms
        else:
            count, first, last = rows(QUERIES["span"])[0]
            start_ms, end_ms = (first, last + 1) if count else (now_ms - 3600_000, now_ms)
        bucket_s = bucket_seconds((end_ms - start_ms) / 1000)
        b = bucket_s * 1000
        trend_rows = {name: rows(QUERIES[name], bucket_ms=b) for name in TREND_QUERIES}
        latency_total = rows(QUERIES["latency"])[0]
        stage_latency = rows(QUERIES["stage_latency"])
        messages = rows(QUERIES["messages"])[0][0]
        alerts_by_kind = rows(QUERIES["alerts_by_kind"])
    finally:
        client.close()

    (verdicts, violations, over_refusals, partial, judged), = summary["totals"]
    dead_letters = [(str(reason), int(n)) for reason, n in summary["dlq"]]
    totals = {"verdicts": int(verdicts), "violations": int(violations or 0), "over_refusals": int(over_refusals or 0),
              "partial": int(partial or 0), "judged": int(judged), "alerts": int(summary["alerts"][0][0]),
              "dead_letters": sum(n for _, n in dead_letters), "messages": int(messages)}
    latency = []
    if latency_total[0]:
        latency.append(("end_to_end", int(latency_total[0]), *(float(q) for q in latency_total[1])))
    latency += [(str(name), int(n), *(float(q) for q in qs)) for name, n, qs in stage_latency]
    # The time axis: the window, widened to whole buckets and to any row stamped after `now`.
    buckets = [int(t) for name in ("bucket_totals", "dead_letter_trend") for t, *_ in trend_rows[name]]
    axis_start = min([start_ms // b * b, *buckets])
    axis_end = max([end_ms, *(t + b for t in buckets)])
    axis_end = -(-axis_end // b) * b
    return Report(
        database=settings.clickhouse.database, generated_at=now, since=start, start_ms=axis_start, end_ms=axis_end,
        bucket_s=bucket_s, totals=totals,
        by_pillar=[(str(p), int(n), int(v), int(o)) for p, n, v, o in summary["by_pillar"]],
        by_model=[(str(m), str(v), int(n), float(vr), float(orr)) for m, v, n, vr, orr in summary["by_model"]],
        by_category=[(str(c), int(n), int(v)) for c, n, v in summary["by_category"]],
        dead_letters=dead_letters,
        alerts_by_kind=[(str(k), str(s), int(n)) for k, s, n in alerts_by_kind],
        latency=latency,
        trends=trends_from_rows(trend_rows),
    )


def model_label(name: str, version: str) -> str:
    return f"{name}@{version}" if version else name


def trends_from_rows(trend_rows: dict[str, list[tuple]]) -> dict[str, list[Series]]:
    """The chart series from the trend queries' rows.

    A series is drawn for each pillar (model version) with at least one violation (over-refusal)
    in the window. Pillar series have a point in every bucket that has requests (zero where the
    pillar had none); model series in every bucket where that version has requests.
    """
    totals = {int(t): int(n) for t, n, _, _ in trend_rows["bucket_totals"]}
    pillar_counts: dict[str, dict[int, tuple[int, int]]] = {}
    for t, pillar, v, o in trend_rows["pillar_trend"]:
        pillar_counts.setdefault(str(pillar), {})[int(t)] = (int(v), int(o))
    model_counts: dict[str, dict[int, tuple[int, int, int]]] = {}
    for t, name, version, n, v, o in trend_rows["model_trend"]:
        model_counts.setdefault(model_label(str(name), str(version)), {})[int(t)] = (int(n), int(v), int(o))

    def pillar_series(index: int) -> list[Series]:
        out = []
        for pillar, by_t in sorted(pillar_counts.items()):
            if sum(c[index] for c in by_t.values()):
                points = [Point(t, by_t.get(t, (0, 0))[index] / n, by_t.get(t, (0, 0))[index], n)
                          for t, n in sorted(totals.items()) if n]
                out.append(Series(pillar, points))
        return out

    def model_series(index: int) -> list[Series]:
        out = []
        for label, by_t in sorted(model_counts.items()):
            if sum(c[index] for c in by_t.values()):
                out.append(Series(label, [Point(t, c[index] / c[0], c[index], c[0])
                                          for t, c in sorted(by_t.items()) if c[0]]))
        return out

    volume = [Series(name, [Point(int(t), int(n), int(n), int(n)) for t, n, *_ in trend_rows[key] if n])
              for name, key in (("requests", "bucket_totals"), ("dead letters", "dead_letter_trend"))
              if trend_rows[key]]
    latency = [Series(f"p{round(q * 100)}", [Point(int(t), float(qs[i]), int(n), int(n))
                                             for t, n, qs in trend_rows["latency_trend"]])
               for i, q in enumerate(QUANTILES)] if trend_rows["latency_trend"] else []
    return {"violation_rate_by_pillar": pillar_series(0), "over_refusal_rate_by_pillar": pillar_series(1),
            "violation_rate_by_model": model_series(1), "over_refusal_rate_by_model": model_series(2),
            "volume": volume, "latency_ms": latency}


# --- formatting -----------------------------------------------------------------------------

def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_ms(ms: int) -> str:
    return _iso(datetime.fromtimestamp(ms / 1000, UTC))


def fmt_rate(rate: float) -> str:
    return f"{100 * rate:.2f}%"


def fmt_ms(ms: float) -> str:
    return f"{ms:,.0f}" if abs(ms) >= 100 else f"{ms:.1f}"


def fmt_duration(seconds: float) -> str:
    """24h, 30m, 7d, 2w: the largest unit that divides it (days from 2 days, weeks from 2 weeks)."""
    for unit, size in (("w", 604800), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= (2 * size if unit in "wd" else size) and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def window_text(report: Report) -> str:
    if report.since is None:
        return f"everything stored (up to {_iso(report.generated_at)})"
    span = (report.generated_at - report.since).total_seconds()
    return f"last {fmt_duration(span)}: {_iso(report.since)} to {_iso(report.generated_at)}"


TOTALS = [  # key, label, how to show it
    ("verdicts", "requests (verdicts)", None),
    ("violations", "violations", "violation rate"),
    ("over_refusals", "over-refusals", "over-refusal rate"),
    ("judged", "judged", None),
    ("partial", "partial", None),
    ("messages", "stored texts", None),
    ("alerts", "alerts", None),
    ("dead_letters", "dead letters", None),
]


# --- terminal -------------------------------------------------------------------------------

def print_report(report: Report, console: Any = None) -> None:
    """The report as rich tables."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    out = console or Console()
    out.print(f"[bold]raiwatch report[/bold] — database {escape(report.database)}, {window_text(report)}, "
              f"trend buckets {fmt_duration(report.bucket_s)}")

    def table(title: str, headers: list[str], rows: list[list[str]]) -> None:
        t = Table(*headers, title=title, title_justify="left")
        for col in t.columns[1:]:
            col.justify = "right"
        for row in rows:
            t.add_row(*(escape(cell) for cell in row))  # names are data, not rich markup
        if not rows:
            t.add_row("(none in this window)", *[""] * (len(headers) - 1))
        out.print(t)

    totals = []
    for key, label, rate in TOTALS:
        value = report.totals[key]
        totals.append([label, str(value), fmt_rate(report.rate(value)) if rate else ""])
    table("totals", ["", "count", "share of requests"], totals)
    table("by pillar (rates: share of all requests)",
          ["pillar", "requests", "violations", "violation rate", "over-refusals", "over-refusal rate"],
          [[p, str(n), str(v), fmt_rate(report.rate(v)), str(o), fmt_rate(report.rate(o))]
           for p, n, v, o in report.by_pillar])
    table("by model version (rates: share of that version's requests)",
          ["model", "version", "requests", "violation rate", "over-refusal rate"],
          [[m, v, str(n), fmt_rate(vr), fmt_rate(orr)] for m, v, n, vr, orr in report.by_model])
    more = len(report.by_category) - TOP_CATEGORIES
    table(f"top categories{f' ({more} more)' if more > 0 else ''}", ["category", "requests", "violations"],
          [[c, str(n), str(v)] for c, n, v in report.by_category[:TOP_CATEGORIES]])
    table("dead letters by reason", ["reason", "count"], [[r, str(n)] for r, n in report.dead_letters])
    table("alerts by kind", ["kind", "severity", "count"], [[k, s, str(n)] for k, s, n in report.alerts_by_kind])
    table("latency (ms)", ["", "rows", "p50", "p90", "p99"],
          [[_latency_label(w), str(n), fmt_ms(a), fmt_ms(b), fmt_ms(c)] for w, n, a, b, c in report.latency])


def _latency_label(what: str) -> str:
    return "end to end" if what == "end_to_end" else f"stage {what}"


# --- HTML -----------------------------------------------------------------------------------

PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac", "#1b9e77", "#7570b3"]
VOLUME_COLORS = {"requests": "#4e79a7", "dead letters": "#b07aa1"}
LATENCY_COLORS = {"p50": "#4e79a7", "p90": "#f28e2b", "p99": "#e15759"}
CSP = "default-src 'none'; style-src 'unsafe-inline'"
W, H = 640, 260  # chart size
ML, MR, MT, MB = 64, 18, 14, 34  # margins

CSS = """
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px; font: 14px/1.45 "DejaVu Sans", "Liberation Sans", Arial, sans-serif;
       color: #1f2933; background: #f5f7fa; }
h1 { margin: 0 0 4px; font-size: 24px; } h2 { font-size: 17px; margin: 28px 0 10px; }
.meta { color: #52606d; margin-bottom: 18px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 14px; min-width: 140px; }
.card .v { font-size: 22px; font-weight: bold; } .card .l { color: #52606d; font-size: 12px; }
.card .r { color: #52606d; font-size: 12px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
@media (max-width: 1000px) { .grid { grid-template-columns: minmax(0, 1fr); } }
figure { margin: 0; background: #fff; border: 1px solid #d9e2ec; border-radius: 6px; padding: 10px 10px 6px; }
figcaption { font-weight: bold; margin-bottom: 2px; } figcaption small { font-weight: normal; color: #52606d; }
svg { display: block; } svg.chart { width: 100%; height: auto; } svg text { font-size: 11px; fill: #52606d; }
svg .grid line { stroke: #e4e7eb; } svg .axis line { stroke: #9aa5b1; }
svg .empty { font-size: 14px; fill: #9aa5b1; }
.legend { list-style: none; margin: 4px 0 0; padding: 0 0 0 64px; display: flex; flex-wrap: wrap; gap: 4px 14px;
          font-size: 12px; }
.legend .sw { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
              vertical-align: -1px; }
table { border-collapse: collapse; background: #fff; border: 1px solid #d9e2ec; margin-bottom: 8px; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e4e7eb; text-align: left; }
th { background: #eef2f7; font-size: 12px; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.tables { display: flex; flex-wrap: wrap; gap: 8px 24px; align-items: flex-start; }
.tables h3 { font-size: 14px; margin: 8px 0 6px; }
.note { color: #52606d; font-size: 12px; max-width: 1100px; }
"""


def _e(value: Any) -> str:
    """Text or attribute value, escaped."""
    return html.escape(str(value), quote=True)


def _num(value: float) -> str:
    """A number for a data- attribute, exactly: an integer as one, a float as its shortest repr."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _attrs(**attrs: Any) -> str:
    return "".join(f' {k.rstrip("_").replace("_", "-")}="{_e(v)}"' for k, v in attrs.items() if v is not None)


def _nice_scale(value: float, floor: float) -> tuple[float, int]:
    """The top of a value axis at or above `value` (at least `floor`), and how many intervals to
    divide it into so that every tick is a round number."""
    value = max(value, floor)
    magnitude = 10 ** math.floor(math.log10(value))
    for step, intervals in ((1, 5), (2, 4), (2.5, 5), (5, 5), (10, 5)):
        if value <= step * magnitude * (1 + 1e-9):
            return step * magnitude, intervals
    return 10 * magnitude, 5


def _time_ticks(start_ms: int, end_ms: int) -> list[int]:
    span_s = (end_ms - start_ms) / 1000
    step = next((s for s in BUCKET_STEPS_S if span_s / s <= 8), BUCKET_STEPS_S[-1]) * 1000
    first = -(-start_ms // step) * step
    return list(range(first, end_ms + 1, step))


def _time_label(ms: int, span_ms: int) -> str:
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return dt.strftime("%H:%M") if span_ms <= 36 * 3600_000 else dt.strftime("%m-%d %H:%M")


def line_chart(chart_id: str, series: list[Series], colors: dict[str, str], report: Report, *, unit: str,
               empty_text: str) -> str:
    """An SVG line chart over the report's time axis: a circle per point, lines broken at gaps."""
    x0, x1, y0, y1 = ML, W - MR, H - MB, MT
    start, end, b = report.start_ms, report.end_ms, report.bucket_s * 1000
    ymax, intervals = _nice_scale(max((p.value for s in series for p in s.points), default=0.0),
                                  {"rate": 0.01, "count": 5.0}.get(unit, 10.0))

    def x(t_ms: int) -> float:
        return x0 + (t_ms + b / 2 - start) / max(end - start, 1) * (x1 - x0)

    def y(v: float) -> float:
        return y0 - v / ymax * (y0 - y1)

    def ylabel(v: float) -> str:
        return f"{round(100 * v, 6):g}%" if unit == "rate" else f"{round(v, 6):g}"

    parts = [f'<svg class="chart" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img"'
             + _attrs(data_chart=chart_id, data_unit=unit, data_bucket_ms=b, data_start_ms=start, data_end_ms=end,
                      data_series_count=len(series)) + ">"]
    parts.append('<g class="grid">')
    for i in range(intervals + 1):
        v = ymax * i / intervals
        parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text x="{x0 - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{_e(ylabel(v))}</text>')
    parts.append("</g><g class=\"axis\">")
    parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y0}" y2="{y0}"/>')
    for t in _time_ticks(start, end):
        tx = x0 + (t - start) / max(end - start, 1) * (x1 - x0)
        parts.append(f'<line x1="{tx:.1f}" x2="{tx:.1f}" y1="{y0}" y2="{y0 + 4}"/>'
                     f'<text x="{tx:.1f}" y="{y0 + 17}" text-anchor="middle">{_e(_time_label(t, end - start))}</text>')
    parts.append(f'<text x="{x1}" y="{H - 2}" text-anchor="end">UTC</text></g>')
    if not series:
        parts.append(f'<text class="empty" data-empty="true" x="{(x0 + x1) / 2}" y="{(y0 + y1) / 2}" '
                     f'text-anchor="middle">{_e(empty_text)}</text>')
    # Lines first, then the points of every series on top of all lines.
    for s in series:
        segments: list[list[Point]] = []
        for p in s.points:
            if segments and p.t_ms - segments[-1][-1].t_ms == b:
                segments[-1].append(p)
            else:
                segments.append([p])
        parts.append(f'<g class="series-line"{_attrs(data_series=s.name)}>')
        for seg in segments:
            if len(seg) > 1:
                coords = " ".join(f"{x(p.t_ms):.1f},{y(p.value):.1f}" for p in seg)
                parts.append(f'<polyline class="line" fill="none" stroke="{colors[s.name]}" stroke-width="2" '
                             f'points="{coords}"{_attrs(data_series=s.name)}/>')
        parts.append("</g>")
    for s in series:
        parts.append(f'<g class="series"{_attrs(data_series=s.name, data_points=len(s.points))}>')
        for p in s.points:
            if unit == "rate":
                shown, detail = fmt_rate(p.value), f" ({p.count} of {p.total})"
            elif unit == "ms":
                shown, detail = f"{fmt_ms(p.value)} ms", f" ({p.total} requests)"
            else:
                shown, detail = str(p.count), ""
            parts.append(
                f'<circle class="point" cx="{x(p.t_ms):.1f}" cy="{y(p.value):.1f}" r="3.5" fill="{colors[s.name]}"'
                + _attrs(data_series=s.name, data_t=_iso_ms(p.t_ms), data_t_ms=p.t_ms, data_value=_num(p.value),
                         data_count=p.count, data_total=p.total)
                + f"><title>{_e(s.name)} {_e(_iso_ms(p.t_ms))}: {_e(shown)}{_e(detail)}</title></circle>")
        parts.append("</g>")
    parts.append("</svg>")
    legend = "".join(f'<li{_attrs(data_series=s.name)}><span class="sw" style="background:{colors[s.name]}"></span>'
                     f"{_e(s.name)}</li>" for s in series)
    return "".join(parts) + f'<ul class="legend">{legend}</ul>'


def bar_chart(chart_id: str, bars: list[tuple[str, list[tuple[str, int]]]], colors: dict[str, str], *,
              empty_text: str) -> str:
    """Horizontal bars, one row per label; each row's series overlap (the first is the widest)."""
    row_h, label_w = 24, 190
    height = max(len(bars), 1) * row_h + 12

    def value_text(values: list[tuple[str, int]]) -> str:
        return str(values[0][1]) if len(values) == 1 else ", ".join(f"{v} {name}" for name, v in values)

    right = 12 + 7 * max((len(value_text(values)) for _, values in bars), default=4)  # room for the value text
    vmax = max((v for _, values in bars for _, v in values), default=0) or 1
    parts = [f'<svg class="chart" width="{W}" height="{height}" viewBox="0 0 {W} {height}" role="img"'
             f'{_attrs(data_chart=chart_id, data_bars=len(bars))}>']
    if not bars:
        parts.append(f'<text class="empty" data-empty="true" x="{W / 2}" y="22" text-anchor="middle">'
                     f"{_e(empty_text)}</text>")
    for i, (label, values) in enumerate(bars):
        top = 6 + i * row_h
        shown = label if len(label) <= 28 else label[:27] + "…"
        parts.append(f'<g class="row"{_attrs(data_label=label)}><text x="{label_w - 8}" y="{top + 15}" '
                     f'text-anchor="end">{_e(shown)}<title>{_e(label)}</title></text>')
        for name, value in values:
            width = value / vmax * (W - label_w - right)
            parts.append(f'<rect class="bar" x="{label_w}" y="{top + 3}" width="{width:.1f}" height="{row_h - 6}" '
                         f'fill="{colors[name]}"{_attrs(data_series=name, data_label=label, data_value=value)}>'
                         f"<title>{_e(label)}: {value} {_e(name)}</title></rect>")
        text = value_text(values)
        first = values[0][1] / vmax * (W - label_w - right)
        parts.append(f'<text x="{label_w + first + 6:.1f}" y="{top + 15}">{_e(text)}</text></g>')
    parts.append("</svg>")
    legend = "".join(f'<li{_attrs(data_series=name)}><span class="sw" style="background:{colors[name]}"></span>'
                     f"{_e(name)}</li>" for name in colors) if len(colors) > 1 else ""
    return "".join(parts) + (f'<ul class="legend">{legend}</ul>' if legend else "")


def _series_colors(names: list[str], order: list[str]) -> dict[str, str]:
    """Stable colours: a name keeps its colour across charts (its position in `order`)."""
    index = {name: i for i, name in enumerate(order)}
    return {name: PALETTE[index.get(name, 0) % len(PALETTE)] for name in names}


def _table(table_id: str, title: str, headers: list[tuple[str, str]], rows: list[tuple[str, list[Any]]]) -> str:
    """A table: headers are (column id, label); rows are (key, cells); numbers right-aligned with data-value."""
    head = "".join(f"<th{_attrs(data_col=c)}>{_e(label)}</th>" for c, label in headers)
    body = []
    for key, cells in rows:
        tds = []
        for (col, _), cell in zip(headers, cells, strict=True):
            if isinstance(cell, tuple):  # (value, shown)
                tds.append(f'<td class="n"{_attrs(data_col=col, data_value=_num(cell[0]))}>{_e(cell[1])}</td>')
            elif isinstance(cell, int | float):
                tds.append(f'<td class="n"{_attrs(data_col=col, data_value=_num(cell))}>{_e(cell)}</td>')
            else:
                tds.append(f"<td{_attrs(data_col=col)}>{_e(cell)}</td>")
        body.append(f"<tr{_attrs(data_key=key)}>{''.join(tds)}</tr>")
    if not rows:
        body.append(f'<tr class="none"><td colspan="{len(headers)}">none in this window</td></tr>')
    return (f'<div><h3>{_e(title)}</h3><table{_attrs(data_table=table_id)}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (inline CSS and SVG; no scripts, no URLs)."""
    pillar_order = sorted({p for p, *_ in report.by_pillar}
                          | {s.name for k in ("violation_rate_by_pillar", "over_refusal_rate_by_pillar")
                             for s in report.trends.get(k, [])})
    model_order = sorted({model_label(m, v) for m, v, *_ in report.by_model}
                         | {s.name for k in ("violation_rate_by_model", "over_refusal_rate_by_model")
                            for s in report.trends.get(k, [])})
    figures = []
    for name, (title, what) in CHARTS.items():
        series = report.trends.get(name, [])
        if name == "latency_ms":
            colors = {s.name: LATENCY_COLORS.get(s.name, PALETTE[0]) for s in series}
            svg = line_chart(name, series, colors, report, unit="ms", empty_text="no latency data in this window")
        elif name == "volume":
            colors = {s.name: VOLUME_COLORS.get(s.name, PALETTE[0]) for s in series}
            svg = line_chart(name, series, colors, report, unit="count", empty_text="nothing in this window")
        else:
            order = pillar_order if name.endswith("pillar") else model_order
            kind = "violations" if name.startswith("violation") else "over-refusals"
            svg = line_chart(name, series, _series_colors([s.name for s in series], order), report, unit="rate",
                             empty_text=f"no {kind} in this window")
        figures.append(f'<figure{_attrs(data_figure=name)}><figcaption>{_e(title)} '
                       f"<small>({_e(what)}; buckets of {_e(fmt_duration(report.bucket_s))})</small></figcaption>"
                       f"{svg}</figure>")
    top = report.by_category[:TOP_CATEGORIES]
    figures.append(
        '<figure data-figure="top_categories"><figcaption>Top categories <small>(requests with a finding; '
        "violations among them)</small></figcaption>"
        + bar_chart("top_categories", [(c, [("requests", n), ("violations", v)]) for c, n, v in top],
                    {"requests": "#9fb3c8", "violations": "#e15759"}, empty_text="no findings in this window")
        + "</figure>")
    figures.append(
        '<figure data-figure="dead_letter_reasons"><figcaption>Dead letters by reason</figcaption>'
        + bar_chart("dead_letter_reasons", [(r, [("dead letters", n)]) for r, n in report.dead_letters],
                    {"dead letters": "#b07aa1"}, empty_text="no dead letters in this window")
        + "</figure>")

    cards = []
    for key, label, rate in TOTALS:
        value = report.totals[key]
        extra = (f'<div class="r"{_attrs(data_rate=key, data_value=_num(report.rate(value)))}>'
                 f"{_e(fmt_rate(report.rate(value)))} {_e(rate)}</div>") if rate else ""
        cards.append(f'<div class="card"><div class="v"{_attrs(data_total=key, data_value=value)}>{value}</div>'
                     f'<div class="l">{_e(label)}</div>{extra}</div>')

    r = report.rate
    tables = [
        _table("by_pillar", "By pillar (rates: share of all requests)",
               [("pillar", "pillar"), ("requests", "requests"), ("violations", "violations"),
                ("violation_rate", "violation rate"), ("over_refusals", "over-refusals"),
                ("over_refusal_rate", "over-refusal rate")],
               [(p, [p, n, v, (r(v), fmt_rate(r(v))), o, (r(o), fmt_rate(r(o)))]) for p, n, v, o in report.by_pillar]),
        _table("by_model", "By model version (rates: share of that version's requests)",
               [("model", "model"), ("version", "version"), ("requests", "requests"),
                ("violation_rate", "violation rate"), ("over_refusal_rate", "over-refusal rate")],
               [(model_label(m, v), [m, v, n, (vr, fmt_rate(vr)), (orr, fmt_rate(orr))])
                for m, v, n, vr, orr in report.by_model]),
        _table("top_categories", f"Top categories ({len(top)} of {len(report.by_category)})",
               [("category", "category"), ("requests", "requests"), ("violations", "violations")],
               [(c, [c, n, v]) for c, n, v in top]),
        _table("dead_letters", "Dead letters by reason", [("reason", "reason"), ("count", "count")],
               [(reason, [reason, n]) for reason, n in report.dead_letters]),
        _table("alerts", "Alerts by kind", [("kind", "kind"), ("severity", "severity"), ("count", "count")],
               [(f"{k}/{s}", [k, s, n]) for k, s, n in report.alerts_by_kind]),
        _table("latency", "Latency (ms)",
               [("what", ""), ("rows", "rows"), ("p50", "p50"), ("p90", "p90"), ("p99", "p99")],
               [(w, [_latency_label(w), n, *((q, fmt_ms(q)) for q in (a, b, c))])
                for w, n, a, b, c in report.latency]),
    ]
    note = ("Read from ClickHouse with FINAL (one row per request: the judge's revision where there is one). "
            "A pillar's rates are shares of all requests (a request can count in several pillars; requests "
            "without a finding count as (none), where over-refusals land); a model version's rates are shares "
            "of its own requests. A trend line is drawn for each pillar or model version with at least one "
            "event of that kind in the window. Latency: from the Kafka timestamp of a request's latest input "
            "to its final verdict row in ClickHouse (exact quantiles); per stage from the verdict's stage "
            "timings. Times are UTC.")
    body = _attrs(data_database=report.database, data_generated_at=_iso(report.generated_at),
                  data_since=_iso(report.since) if report.since else "all", data_bucket_s=report.bucket_s)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">'
        f"<title>raiwatch report — {_e(report.database)}</title><style>{CSS}</style></head><body{body}>"
        f"<h1>raiwatch report</h1><div class=\"meta\">database <b>{_e(report.database)}</b> · "
        f"{_e(window_text(report))} · generated {_e(_iso(report.generated_at))}</div>"
        f'<div class="cards">{"".join(cards)}</div>'
        f'<h2>Trends</h2><div class="grid">{"".join(figures[:len(CHARTS)])}</div>'
        f'<h2>Categories and dead letters</h2><div class="grid">{"".join(figures[len(CHARTS):])}</div>'
        f'<h2>Numbers</h2><div class="tables">{"".join(tables)}</div>'
        f'<p class="note">{_e(note)}</p></body></html>\n'
    )


def report_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2)
