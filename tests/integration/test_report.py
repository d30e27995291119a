"""`raiwatch report` against the real ClickHouse and a real browser.

A small hand-made data set goes into a fresh database: two model versions, four pillars, a
judged request (screen row, then the judge's revision), a screen row inserted twice, a request
without an input timestamp, rows outside the window, messages, alerts and dead letters (one
inserted twice). The CLI writes the HTML page; headless Chromium (driven over the DevTools
protocol) loads it, and the test reads the rendered DOM, the bounding box of every chart mark,
the page's network requests and a full-page screenshot. What the page shows is compared with
ClickHouse, read independently (argMax by revision, not FINAL) and with hand-made expectations.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import math
import re
import shutil
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from raiwatch.schemas.clickhouse import clickhouse_client

from .chromium import CHROMIUM, DevTools, headless_chromium

pytestmark = pytest.mark.integration

SCREENSHOT_COPY = Path("/tmp/raiwatch-report.png")
BUCKET_MS = 30 * 60 * 1000  # --since 24h gives 30-minute buckets
XSS = "xss<script>document.title='pwned'</script>&co"
QUANTILES = (0.5, 0.9, 0.99)

# --- the data set --------------------------------------------------------------------------
# (request, bucket (None: 30 h ago, outside the window), minute in the bucket, model version,
#  pillars, categories, violation, over_refusal, partial, end-to-end latency in ms (None: no
#  input timestamp), stage latencies)
REQUESTS = [
    ("r01", 0, 3, "v1", [], [], 0, 0, 0, 120, {"join_wait": 1.5, "screen": 4.5}),
    ("r02", 0, 7, "v1", ["safety"], ["S1.violent_crimes"], 1, 0, 0, 250, {"join_wait": 2.5, "screen": 6.5}),
    ("r03", 0, 11, "v2", [], [], 0, 1, 0, 180, {"join_wait": 0.5, "screen": 3.5}),
    ("r04", 0, 19, "v2", ["privacy_security"], ["pii.email"], 0, 0, 0, 90, {"join_wait": 3.5, "screen": 5.5}),
    ("r05", 1, 2, "v1", ["safety"], ["S1.violent_crimes"], 0, 0, 0, 200, {"join_wait": 1.5, "screen": 7.5}),
    ("r06", 1, 8, "v2", ["fairness"], ["bias.gender"], 1, 0, 0, 300, {"join_wait": 4.5, "screen": 8.5}),
    ("r07", 1, 13, "v1", [], [], 0, 0, 0, 110, {"join_wait": 0.5, "screen": 2.5}),
    ("r08", 1, 21, "v2", [], [], 0, 1, 0, 160, {"join_wait": 2.5, "screen": 3.5}),
    ("r09", 1, 27, "v1", ["privacy_security"], ["injection", XSS], 1, 0, 0, 400, {"join_wait": 5.5, "screen": 9.5}),
    ("r10", 3, 4, "v2", ["safety"], ["S1.violent_crimes", "S9.weapons"], 1, 0, 0, 500,
     {"join_wait": 6.5, "screen": 10.5}),
    ("r11", 3, 9, "v1", [], [], 0, 0, 1, 130, {"join_wait": 9.5, "screen": 1.5}),
    ("r12", 3, 15, "v2", [], [], 0, 0, 0, None, {"join_wait": 0.5, "screen": 2.5}),
    ("r13", 3, 22, "v1", ["safety"], ["S1.violent_crimes"], 0, 0, 0, 220, {"join_wait": 1.5, "screen": 5.5}),
    ("r99", None, 0, "v1", ["safety"], ["S1.violent_crimes"], 1, 1, 0, 50, {"join_wait": 1.5, "screen": 1.5}),
]
JUDGED = {"r05": {"violation": 1, "latency_ms": 900, "judge": 850.5}}  # the judge's revision of r05
DUPLICATED = "r07"  # its screen row is inserted twice (a different source offset: not dropped at insert)
# (event id, bucket, reason)
DEAD_LETTERS = [("d1", 0, "invalid_json"), ("d2", 1, "invalid_json"), ("d3", 3, "invalid_json"),
                ("d4", 1, "oversize"), ("d5", 0, "key_mismatch"), ("d6", 3, "key_mismatch"),
                ("d7", None, "invalid_json")]
ALERTS = [("a1", 1, "violation", "high"), ("a2", 3, "violation", "medium"), ("a3", None, "violation", "high")]

VERDICT_COLUMNS = ["verdict_id", "request_id", "event_time", "written_at", "tenant", "model_name", "model_version",
                   "stage", "revision", "policy_id", "policy_version", "pillars", "categories", "violation",
                   "over_refusal", "partial", "severity", "input_published_at", "stage_latency_ms", "kafka_partition",
                   "kafka_offset"]


def _base(now: datetime) -> datetime:
    """Start of the first data bucket: bucket-aligned, about 6 h before now."""
    ms = int((now - timedelta(hours=6)).timestamp() * 1000) // BUCKET_MS * BUCKET_MS
    return datetime.fromtimestamp(ms / 1000, UTC)


def _when(base: datetime, now: datetime, bucket: int | None, minute: int) -> datetime:
    if bucket is None:
        return now - timedelta(hours=30, minutes=minute)
    return base + timedelta(milliseconds=bucket * BUCKET_MS, minutes=minute, seconds=17)


def seed(settings, now: datetime) -> None:
    client = clickhouse_client(settings)
    base, offset = _base(now), iter(range(1000))
    epoch = datetime.fromtimestamp(0, UTC)

    def verdict(rid, bucket, minute, version, pillars, categories, violation, over_refusal, partial, latency, stages,
                *, stage="screen", revision=1):
        event_time = _when(base, now, bucket, minute)
        published = event_time + timedelta(milliseconds=100)
        return [f"v-{rid}", rid, event_time, published + timedelta(milliseconds=latency or 40), "acme", "assistant",
                version, stage, revision, "default", 1, pillars, categories, violation, over_refusal, partial,
                "high" if violation else "info", published if latency is not None else epoch, stages, 0, next(offset)]

    rows = [verdict(*r) for r in REQUESTS]
    client.insert("verdicts", rows, column_names=VERDICT_COLUMNS)
    duplicate = next(list(row) for row in rows if row[1] == DUPLICATED)
    duplicate[-1] = next(offset)
    client.insert("verdicts", [duplicate], column_names=VERDICT_COLUMNS)
    for rid, change in JUDGED.items():
        r = next(r for r in REQUESTS if r[0] == rid)
        stages = {**r[10], "judge": change["judge"]}
        judged = verdict(*r[:6], change["violation"], *r[7:9], change["latency_ms"], stages, stage="judge", revision=2)
        client.insert("verdicts", [judged], column_names=VERDICT_COLUMNS)
    client.insert("messages", [[r[0], _when(base, now, r[1], r[2]), "acme", "assistant", r[3], f"prompt {r[0]}",
                                f"output {r[0]}", 0, next(offset)] for r in REQUESTS],
                  column_names=["request_id", "event_time", "tenant", "model_name", "model_version", "prompt_redacted",
                                "output_redacted", "kafka_partition", "kafka_offset"])
    dl_columns = ["event_id", "event_time", "source_topic", "source_partition", "source_offset", "reason", "detail",
                  "stage", "original", "kafka_partition", "kafka_offset"]
    dl_rows = [[eid, _when(base, now, bucket, 5), "rai.prompts", 0, i, reason, "", "decode", b"{", 0, next(offset)]
               for i, (eid, bucket, reason) in enumerate(DEAD_LETTERS)]
    client.insert("dead_letters", dl_rows, column_names=dl_columns)
    client.insert("dead_letters", [[*dl_rows[0][:-1], next(offset)]], column_names=dl_columns)  # a re-insert
    client.insert("alerts", [[aid, kind, f"{kind}:{aid}", _when(base, now, bucket, 0), _when(base, now, bucket, 1),
                              "acme", "assistant", "v1", "safety", "S1.violent_crimes", severity, "default", 1,
                              f"alert {aid}", [], {}, 0, next(offset)] for aid, bucket, kind, severity in ALERTS],
                  column_names=["alert_id", "kind", "dedup_key", "window_start", "event_time", "tenant", "model_name",
                                "model_version", "pillar", "category", "severity", "policy_id", "policy_version",
                                "summary", "verdict_ids", "details", "kafka_partition", "kafka_offset"])
    # The duplicates are really stored twice: only FINAL (or argMax) makes one row of them.
    assert client.query("SELECT count() FROM verdicts").result_rows[0][0] == len(REQUESTS) + 1 + len(JUDGED)
    assert client.query("SELECT count() FROM dead_letters").result_rows[0][0] == len(DEAD_LETTERS) + 1
    client.close()


# --- what ClickHouse says, read independently of the report --------------------------------

def expected_from_clickhouse(settings, since_ms: int) -> dict:
    client = clickhouse_client(settings)
    latest = ("SELECT verdict_id, argMax(model_version, revision) AS version, argMax(pillars, revision) AS pillars, "
              "argMax(categories, revision) AS categories, argMax(violation, revision) AS violation, "
              "argMax(over_refusal, revision) AS over_refusal, argMax(partial, revision) AS partial, "
              "argMax(stage, revision) AS stage, toUnixTimestamp64Milli(any(event_time)) AS t, "
              "argMax(toUnixTimestamp64Milli(input_published_at), revision) AS published, "
              "argMax(toUnixTimestamp64Milli(written_at), revision) AS written, "
              "argMax(stage_latency_ms, revision) AS stages "
              "FROM verdicts WHERE event_time >= fromUnixTimestamp64Milli(toInt64({since:Int64})) GROUP BY verdict_id")
    rows = [dict(zip(["id", "version", "pillars", "categories", "violation", "over_refusal", "partial", "stage", "t",
                      "published", "written", "stages"], r, strict=True))
            for r in client.query(latest, parameters={"since": since_ms}).result_rows]
    by_bucket_latency = {
        t: list(qs) for t, qs in client.query(
            f"SELECT intDiv(t, {BUCKET_MS}) * {BUCKET_MS} AS b, quantilesExact{QUANTILES}(written - published) "
            f"FROM ({latest}) WHERE published > 0 GROUP BY b", parameters={"since": since_ms}).result_rows}
    dead_by_bucket = dict(client.query(
        f"SELECT intDiv(toUnixTimestamp64Milli(event_time), {BUCKET_MS}) * {BUCKET_MS} AS b, uniqExact(event_id) "
        "FROM dead_letters WHERE event_time >= fromUnixTimestamp64Milli(toInt64({since:Int64})) GROUP BY b",
        parameters={"since": since_ms}).result_rows)
    dead = dict(client.query("SELECT reason, uniqExact(event_id) FROM dead_letters WHERE event_time >= "
                             "fromUnixTimestamp64Milli(toInt64({since:Int64})) GROUP BY reason",
                             parameters={"since": since_ms}).result_rows)
    alerts = client.query("SELECT kind, severity, uniqExact(alert_id) FROM alerts WHERE event_time >= "
                          "fromUnixTimestamp64Milli(toInt64({since:Int64})) GROUP BY kind, severity",
                          parameters={"since": since_ms}).result_rows
    messages = client.query("SELECT uniqExact(request_id) FROM messages WHERE event_time >= "
                            "fromUnixTimestamp64Milli(toInt64({since:Int64}))",
                            parameters={"since": since_ms}).result_rows[0][0]
    client.close()
    return {"rows": rows, "latency_by_bucket": by_bucket_latency, "dead": dead, "dead_by_bucket": dead_by_bucket,
            "messages": messages,
            "alerts": {f"{k}/{s}": n for k, s, n in alerts}}


def quantile_exact(values: list[float], level: float) -> float:
    """ClickHouse's quantileExact: the element at floor(level * n) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(int(level * len(ordered)), len(ordered) - 1)]


# --- the browser ---------------------------------------------------------------------------

MARKS_JS = """JSON.stringify({
  html: document.documentElement.outerHTML,
  width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
  marks: Array.from(document.querySelectorAll('svg.chart circle.point, svg.chart rect.bar')).map(e => {
    const r = e.getBoundingClientRect(), s = e.ownerSVGElement.getBoundingClientRect();
    return {chart: e.ownerSVGElement.dataset.chart, kind: e.tagName, series: e.dataset.series,
            label: e.dataset.label || null, t: e.dataset.tMs || null, value: Number(e.dataset.value),
            fill: getComputedStyle(e).fill, x: r.x + scrollX, y: r.y + scrollY, w: r.width, h: r.height,
            svg: [s.x + scrollX, s.y + scrollY, s.width, s.height]};
  })
})"""


async def _render(url: str, port: int, browser_path: str) -> tuple[dict, bytes, list]:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}{browser_path}", max_size=None) as ws:
        dt = DevTools(ws)
        target = (await dt.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await dt.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        for domain in ("Page", "Network", "Log", "Runtime"):
            await dt.call(f"{domain}.enable", session)
        await dt.call("Emulation.setDeviceMetricsOverride", session, width=1400, height=2400, deviceScaleFactor=1,
                      mobile=False)
        dt.events.clear()
        await dt.call("Page.navigate", session, url=url)
        await dt.wait_for("Page.loadEventFired")
        result = await dt.call("Runtime.evaluate", session, expression=MARKS_JS, returnByValue=True)
        page = json.loads(result["result"]["value"])
        shot = await dt.call("Page.captureScreenshot", session, format="png", captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": page["width"], "height": page["height"], "scale": 1})
        return page, base64.b64decode(shot["data"]), dt.events


def render_in_chromium(html_file: Path, work: Path) -> tuple[dict, bytes, list]:
    """Load the page in headless Chromium: the DOM and mark boxes, a full-page screenshot, and
    every protocol event (network requests, log entries) seen while loading."""
    with headless_chromium(work) as (port, path):
        return asyncio.run(_render(html_file.resolve().as_uri(), port, path))


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, attrs, parent, [], []

    def text(self) -> str:
        return "".join(t if isinstance(t, str) else t.text() for t in self.texts)

    def find(self, tag: str | None = None, **attrs: str) -> list[Node]:
        found = []
        for child in self.children:
            if (tag is None or child.tag == tag) and all(child.attrs.get(k.replace("_", "-")) == v
                                                         for k, v in attrs.items()):
                found.append(child)
            found.extend(child.find(tag, **attrs))
        return found

    def one(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find(tag, **attrs)
        assert len(found) == 1, f"expected one <{tag} {attrs}>, found {len(found)}"
        return found[0]


class DomParser(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "source", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)
        self.current.texts.append(node)
        if tag not in self.VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs}, self.current)
        self.current.children.append(node)

    def handle_endtag(self, tag):
        node = self.current
        while node.parent is not None and node.tag != tag:
            node = node.parent
        if node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.texts.append(data)


def parse_dom(html_text: str) -> Node:
    parser = DomParser()
    parser.feed(html_text)
    return parser.root


def number(text: str) -> float:
    match = re.fullmatch(r"\s*(-?[\d,]+(?:\.\d+)?)\s*(%|ms)?\s*", text)
    assert match, f"not a number as shown: {text!r}"
    return float(match.group(1).replace(",", ""))


def hex_rgb(color: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", color)
    assert match, color
    return tuple(int(v) for v in match.groups())


# --- the tests -------------------------------------------------------------------------------

@pytest.fixture
def report_page(fresh_settings, tmp_path, monkeypatch):
    """The data set seeded, `raiwatch report --since 24h --html FILE --json` and the terminal
    report run through the CLI, and ClickHouse's own answer for the page's window."""
    from typer.testing import CliRunner

    from raiwatch.ops.cli import app

    started = datetime.now(UTC)
    seed(fresh_settings, started)
    host, port = fresh_settings.clickhouse_address
    monkeypatch.setenv("RAIWATCH_CLICKHOUSE__HOST", host)
    monkeypatch.setenv("RAIWATCH_CLICKHOUSE__PORT", str(port))
    monkeypatch.setenv("RAIWATCH_CLICKHOUSE__DATABASE", fresh_settings.clickhouse.database)
    page_file = tmp_path / "report.html"
    result = CliRunner().invoke(app, ["report", "--since", "24h", "--html", str(page_file), "--json"])
    assert result.exit_code == 0, result.output
    terminal = CliRunner().invoke(app, ["report", "--since", "24h"], env={"COLUMNS": "160"})
    assert terminal.exit_code == 0, terminal.output
    source = page_file.read_text(encoding="utf-8")
    since = datetime.fromisoformat(parse_dom(source).one("body").attrs["data-since"].replace("Z", "+00:00"))
    assert abs((started - timedelta(hours=24) - since).total_seconds()) < 60
    expected = expected_from_clickhouse(fresh_settings, int(since.timestamp() * 1000))
    return SimpleNamespace(page_file=page_file, source=source, json=json.loads(result.stdout),
                           terminal=terminal.stdout, expected=expected)


def check_page(dom: Node, expected: dict) -> dict:
    """Everything the page shows, against ClickHouse and the hand-made expectations; returns the
    numbers it checked (for the JSON and terminal checks)."""
    body = dom.one("body")
    rows = expected["rows"]

    # Hand-made expectations first, so that ClickHouse and the report cannot agree on a wrong answer:
    # 13 requests in the window (r99 is 30 h old, r07's duplicate collapses), r05 judged into a violation.
    assert len(rows) == 13
    assert sorted(r["id"] for r in rows if r["violation"]) == ["v-r02", "v-r05", "v-r06", "v-r09", "v-r10"]
    assert [r["id"] for r in rows if r["stage"] == "judge"] == ["v-r05"]
    assert sum(n for n in expected["dead"].values()) == 6 and expected["messages"] == 13

    totals = {"verdicts": len(rows), "violations": sum(r["violation"] for r in rows),
              "over_refusals": sum(r["over_refusal"] for r in rows), "partial": sum(r["partial"] for r in rows),
              "judged": sum(r["stage"] == "judge" for r in rows), "messages": expected["messages"],
              "alerts": sum(expected["alerts"].values()), "dead_letters": sum(expected["dead"].values())}
    assert totals == {"verdicts": 13, "violations": 5, "over_refusals": 2, "partial": 1, "judged": 1,
                      "messages": 13, "alerts": 2, "dead_letters": 6}
    assert int(body.attrs["data-bucket-s"]) * 1000 == BUCKET_MS

    # --- the numbers ---
    for key, value in totals.items():
        card = dom.one(data_total=key)
        assert (int(card.attrs["data-value"]), card.text().strip()) == (value, str(value)), key
    for key in ("violations", "over_refusals"):
        shown = dom.one(data_rate=key)
        assert math.isclose(float(shown.attrs["data-value"]), totals[key] / totals["verdicts"])
        assert number(shown.text().split()[0]) == pytest.approx(100 * totals[key] / totals["verdicts"], abs=0.005)

    def cells(table: str) -> dict[str, dict[str, Node]]:
        out = {}
        for tr in dom.one("table", data_table=table).find("tr"):
            if "data-key" in tr.attrs:
                out[tr.attrs["data-key"]] = {td.attrs["data-col"]: td for td in tr.find("td")}
        return out

    def legend_colours(chart: str) -> dict[str, str]:
        legend = dom.one("figure", data_figure=chart).one("ul", **{"class": "legend"})
        return {li.attrs["data-series"]: re.search(r"background:\s*(#[0-9a-f]{6})", li.one("span").attrs["style"])[1]
                for li in legend.find("li")}

    pillars: dict[str, list[int]] = {}
    for r in rows:
        for p in r["pillars"] or ["(none)"]:
            counts = pillars.setdefault(p, [0, 0, 0])
            counts[0] += 1
            counts[1] += r["violation"]
            counts[2] += r["over_refusal"]
    assert pillars == {"(none)": [6, 0, 2], "safety": [4, 3, 0], "privacy_security": [2, 1, 0], "fairness": [1, 1, 0]}
    table = cells("by_pillar")
    assert set(table) == set(pillars)
    for p, (n, v, o) in pillars.items():
        row = table[p]
        assert row["pillar"].text() == p
        for col, value in (("requests", n), ("violations", v), ("over_refusals", o)):
            assert (int(row[col].attrs["data-value"]), row[col].text()) == (value, str(value)), (p, col)
        for col, value in (("violation_rate", v / len(rows)), ("over_refusal_rate", o / len(rows))):
            assert math.isclose(float(row[col].attrs["data-value"]), value, abs_tol=1e-12), (p, col)
            assert number(row[col].text()) == pytest.approx(100 * value, abs=0.005), (p, col)

    models: dict[str, list[int]] = {}
    for r in rows:
        counts = models.setdefault(r["version"], [0, 0, 0])
        counts[0] += 1
        counts[1] += r["violation"]
        counts[2] += r["over_refusal"]
    assert models == {"v1": [7, 3, 0], "v2": [6, 2, 2]}
    table = cells("by_model")
    assert set(table) == {f"assistant@{v}" for v in models}
    for version, (n, v, o) in models.items():
        row = table[f"assistant@{version}"]
        assert (row["model"].text(), row["version"].text(), row["requests"].text()) == ("assistant", version, str(n))
        for col, value in (("violation_rate", v / n), ("over_refusal_rate", o / n)):
            assert number(row[col].text()) == pytest.approx(100 * value, abs=0.005), (version, col)

    categories: dict[str, list[int]] = {}
    for r in rows:
        for c in r["categories"]:
            counts = categories.setdefault(c, [0, 0])
            counts[0] += 1
            counts[1] += r["violation"]
    assert categories["S1.violent_crimes"] == [4, 3] and categories[XSS] == [1, 1] and len(categories) == 6
    table = cells("top_categories")
    assert set(table) == set(categories)
    for c, (n, v) in categories.items():
        assert (table[c]["category"].text(), table[c]["requests"].text(), table[c]["violations"].text()) == (c, str(n),
                                                                                                             str(v))
    bars = dom.one("svg", data_chart="top_categories").find("rect", **{"class": "bar"})
    drawn = {(b.attrs["data-label"], b.attrs["data-series"]): int(b.attrs["data-value"]) for b in bars}
    assert len(bars) == 2 * len(categories)
    assert drawn == {**{(c, "requests"): n for c, (n, _) in categories.items()},
                     **{(c, "violations"): v for c, (_, v) in categories.items()}}
    colours = legend_colours("top_categories")
    assert set(colours) == {"requests", "violations"} and len(set(colours.values())) == 2
    assert all(b.attrs["fill"] == colours[b.attrs["data-series"]] for b in bars)
    # Ordered as a top list: most requests first.
    top_chart = dom.one("svg", data_chart="top_categories")
    labels = [row.attrs["data-label"] for row in top_chart.find("g", **{"class": "row"})]
    assert labels[0] == "S1.violent_crimes" and [categories[c][0] for c in labels] == sorted(
        (categories[c][0] for c in labels), reverse=True)

    table = cells("dead_letters")
    assert {k: int(v["count"].text()) for k, v in table.items()} == expected["dead"] == {
        "invalid_json": 3, "key_mismatch": 2, "oversize": 1}
    bars = dom.one("svg", data_chart="dead_letter_reasons").find("rect", **{"class": "bar"})
    assert {b.attrs["data-label"]: int(b.attrs["data-value"]) for b in bars} == expected["dead"]
    assert len(bars) == len(expected["dead"])
    assert {k: int(v["count"].text()) for k, v in cells("alerts").items()} == expected["alerts"] == {
        "violation/high": 1, "violation/medium": 1}

    # Latency: end to end over the 12 requests with an input timestamp (judged r05: the judge row's).
    e2e = [r["written"] - r["published"] for r in rows if r["published"] > 0]
    assert sorted(e2e) == [90, 110, 120, 130, 160, 180, 220, 250, 300, 400, 500, 900]
    table = cells("latency")
    assert int(table["end_to_end"]["rows"].text()) == 12
    for q in QUANTILES:
        col = f"p{round(q * 100)}"
        assert float(table["end_to_end"][col].attrs["data-value"]) == quantile_exact(e2e, q), col
        assert number(table["end_to_end"][col].text()) == quantile_exact(e2e, q), col
        for stage in ("join_wait", "screen", "judge"):
            values = [r["stages"][stage] for r in rows if stage in r["stages"]]
            assert int(table[stage]["rows"].text()) == len(values)
            assert float(table[stage][col].attrs["data-value"]) == pytest.approx(quantile_exact(values, q)), (stage, q)
    assert int(table["judge"]["rows"].text()) == 1

    # --- the charts ---
    buckets: dict[int, list[dict]] = {}
    for r in rows:
        buckets.setdefault(r["t"] // BUCKET_MS * BUCKET_MS, []).append(r)
    assert len(buckets) == 3  # buckets 0, 1 and 3 of the data set: a gap before the last

    def points(chart: str) -> dict[str, list[Node]]:
        svg = dom.one("svg", data_chart=chart)
        assert int(svg.attrs["data-bucket-ms"]) == BUCKET_MS
        out = {}
        for g in svg.find("g", **{"class": "series"}):
            out[g.attrs["data-series"]] = g.find("circle", **{"class": "point"})
            assert int(g.attrs["data-points"]) == len(out[g.attrs["data-series"]])
        # Each series in its legend's colour, and no two series of a chart alike.
        colours = legend_colours(chart)
        assert set(colours) == set(out) and len(set(colours.values())) == len(colours), chart
        for name, circles in out.items():
            assert {c.attrs["fill"] for c in circles} == {colours[name]}, (chart, name)
        return out

    def check_rates(chart: str, expected_series: dict[str, dict[int, tuple[int, int]]]) -> None:
        drawn = points(chart)
        assert set(drawn) == set(expected_series), chart
        for name, by_t in expected_series.items():
            got = {int(c.attrs["data-t-ms"]): c for c in drawn[name]}
            assert set(got) == set(by_t), (chart, name)
            for t, (count, total) in by_t.items():
                c = got[t]
                assert (int(c.attrs["data-count"]), int(c.attrs["data-total"])) == (count, total), (chart, name, t)
                assert math.isclose(float(c.attrs["data-value"]), count / total, abs_tol=1e-9), (chart, name, t)
        legend = dom.one("figure", data_figure=chart).one("ul", **{"class": "legend"})
        assert sorted(li.attrs["data-series"] for li in legend.find("li")) == sorted(expected_series), chart
        assert sorted(li.text() for li in legend.find("li")) == sorted(expected_series), chart

    for kind, chart in (("violation", "violation_rate_by_pillar"), ("over_refusal", "over_refusal_rate_by_pillar")):
        with_events = {p for r in rows if r[kind] for p in r["pillars"] or ["(none)"]}
        check_rates(chart, {p: {t: (sum(r[kind] and p in (r["pillars"] or ["(none)"]) for r in rs), len(rs))
                                for t, rs in buckets.items()} for p in with_events})
    for kind, chart in (("violation", "violation_rate_by_model"), ("over_refusal", "over_refusal_rate_by_model")):
        with_events = {r["version"] for r in rows if r[kind]}
        check_rates(chart, {f"assistant@{v}": {t: (sum(r[kind] for r in rs if r["version"] == v),
                                                   sum(r["version"] == v for r in rs))
                                               for t, rs in buckets.items() if any(r["version"] == v for r in rs)}
                            for v in with_events})
    assert set(points("over_refusal_rate_by_model")) == {"assistant@v2"}  # v1 never over-refused: no line
    assert set(points("violation_rate_by_pillar")) == {"safety", "privacy_security", "fairness"}
    # Lines join neighbouring buckets only: buckets 0 and 1 are joined, bucket 3 stands alone.
    for g in dom.one("svg", data_chart="violation_rate_by_pillar").find("g", **{"class": "series-line"}):
        lines = g.find("polyline")
        assert len(lines) == 1 and len(lines[0].attrs["points"].split()) == 2

    volume = points("volume")
    assert set(volume) == {"requests", "dead letters"}
    assert {int(c.attrs["data-t-ms"]): int(c.attrs["data-value"]) for c in volume["requests"]} == {
        t: len(rs) for t, rs in buckets.items()}
    assert {int(c.attrs["data-t-ms"]): int(c.attrs["data-value"]) for c in volume["dead letters"]} == expected[
        "dead_by_bucket"]
    assert sorted(expected["dead_by_bucket"].values()) == [2, 2, 2]

    latency = points("latency_ms")
    assert set(latency) == {"p50", "p90", "p99"}
    assert set(expected["latency_by_bucket"]) == set(buckets)
    for i, q in enumerate(QUANTILES):
        got = {int(c.attrs["data-t-ms"]): float(c.attrs["data-value"]) for c in latency[f"p{round(q * 100)}"]}
        hand = {t: quantile_exact([r["written"] - r["published"] for r in rs if r["published"] > 0], q)
                for t, rs in buckets.items()}
        assert got == {t: qs[i] for t, qs in expected["latency_by_bucket"].items()} == hand, q

    # --- escaping ---
    assert not dom.find("script")
    assert cells("top_categories")[XSS]["category"].text() == XSS
    assert top_chart.one("g", data_label=XSS).find("text")[0].text().startswith("xss<")
    for node in dom.find():
        for attr in ("src", "href", "xlink:href", "action", "poster"):
            assert attr not in node.attrs, (node.tag, node.attrs)
    return {"totals": totals, "pillars": pillars}


def test_report_page_shows_what_clickhouse_holds(report_page) -> None:
    """The page as written by `raiwatch report --html`, the JSON and the terminal tables."""
    shown = check_page(parse_dom(report_page.source), report_page.expected)
    assert report_page.json["totals"] == shown["totals"]
    assert report_page.json["bucket_s"] * 1000 == BUCKET_MS
    # Self-contained and escaped: nothing on the page names a resource to fetch, no markup from data.
    assert not re.search(r"https?:|url\(|@import", report_page.source.replace("http-equiv", ""))
    assert "<script" not in report_page.source

    # --- the terminal output shows the same numbers ---
    out = report_page.terminal
    for p, (n, v, o) in shown["pillars"].items():
        assert re.search(rf"{re.escape(p)}\s*│\s*{n}\s*│\s*{v}\s*│", out), p
    assert re.search(r"requests \(verdicts\)\s*│\s*13\s*│", out) and re.search(r"end to end\s*│\s*12\s*│", out)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium): "
                                                   "the page was not rendered in a browser")
def test_report_page_in_chromium(report_page, tmp_path) -> None:
    """The page rendered by headless Chromium: the same numbers in the rendered DOM, nothing
    fetched, every chart mark laid out inside its chart and visible in the screenshot."""
    page_file = report_page.page_file
    page, png, events = render_in_chromium(page_file, tmp_path)
    screenshot = tmp_path / "report.png"
    screenshot.write_bytes(png)
    shutil.copyfile(screenshot, SCREENSHOT_COPY)

    # Nothing but the page itself was requested, and the browser reported no error.
    requests = [e["params"]["request"]["url"] for e in events if e.get("method") == "Network.requestWillBeSent"]
    assert requests == [page_file.resolve().as_uri()]
    problems = [e["params"] for e in events
                if e.get("method") in ("Runtime.exceptionThrown", "Log.entryAdded")
                and (e["method"] == "Runtime.exceptionThrown" or e["params"]["entry"]["level"] == "error")]
    assert not problems

    # The rendered DOM shows what ClickHouse holds, with the same marks as the page as written.
    rendered = parse_dom(page["html"])
    check_page(rendered, report_page.expected)
    written_marks = [(c.attrs["data-chart"], n.tag, n.attrs.get("data-series"), n.attrs["data-value"])
                     for c in parse_dom(report_page.source).find("svg") if "data-chart" in c.attrs
                     for n in c.find() if n.attrs.get("class") in ("point", "bar")]
    assert len(page["marks"]) == len(written_marks) > 0
    assert sorted((m["chart"], m["kind"], m["series"], float(m["value"])) for m in page["marks"]) == sorted(
        (chart, tag, series, float(value)) for chart, tag, series, value in written_marks)

    # Every mark is laid out inside its chart, on the page; charts have a real size.
    for m in page["marks"]:
        sx, sy, sw, sh = m["svg"]
        assert sw > 300 and sh > 40, m
        assert sx - 1 <= m["x"] and m["x"] + m["w"] <= sx + sw + 1 and sy - 1 <= m["y"] <= sy + sh, m
        assert m["y"] + m["h"] <= page["height"], m
        assert m["h"] > 0 and (m["w"] > 0) == (m["kind"] == "circle" or m["value"] > 0), m
    # A higher rate or latency is drawn higher; a later bucket further right.
    for chart in {m["chart"] for m in page["marks"] if m["kind"] == "circle"}:
        marks = [m for m in page["marks"] if m["chart"] == chart]
        for a in marks:
            for b in marks:
                if a["value"] > b["value"]:
                    assert a["y"] < b["y"], (chart, a, b)
                if int(a["t"]) > int(b["t"]):
                    assert a["x"] > b["x"], (chart, a, b)
    # Longer bars for larger values within a bar chart.
    for chart in ("top_categories", "dead_letter_reasons"):
        marks = [m for m in page["marks"] if m["chart"] == chart]
        for a in marks:
            for b in marks:
                if a["value"] > b["value"]:
                    assert a["w"] > b["w"], (chart, a, b)

    # The screenshot shows the marks: the pixel at each mark's centre has the colour of the mark
    # drawn last at that spot.
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.size == (page["width"], page["height"]) and image.size[0] == 1400

    def covers(m: dict, x: float, y: float) -> bool:
        if m["kind"] == "circle":
            return math.hypot(x - (m["x"] + m["w"] / 2), y - (m["y"] + m["h"] / 2)) <= m["w"] / 2 - 0.5
        return m["x"] + 0.5 <= x <= m["x"] + m["w"] - 0.5 and m["y"] + 0.5 <= y <= m["y"] + m["h"] - 0.5

    checked = 0
    for m in page["marks"]:
        if m["w"] < 3:
            continue
        x = m["x"] + m["w"] / 2 if m["kind"] == "circle" else m["x"] + m["w"] - 1.5
        y = m["y"] + m["h"] / 2
        top = [o for o in page["marks"] if covers(o, x, y)][-1]
        pixel = image.getpixel((int(x), int(y)))
        want = hex_rgb(top["fill"])
        assert max(abs(a - b) for a, b in zip(pixel, want, strict=True)) <= 12, (m, pixel, want)
        checked += 1
    assert checked >= len(page["marks"]) - 2
