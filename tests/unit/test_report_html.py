"""The report's HTML from fixed data (no ClickHouse): self-contained, escaped, and the charts
carry what the data says. Also the window parsing, bucket choice and trend series rules."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from raiwatch.ops.errors import ConfigurationError
from raiwatch.ops.report import Report, bucket_seconds, parse_since, print_report, render_html, trends_from_rows

H = 3600_000
T0 = 1_790_000_000_000 // H * H  # an hour boundary
SCRIPT = '<script>alert("pwned")</script>'
IMG = '<img src="https://evil.example/x.png" onerror="alert(1)">'
QUOTES = 'model "v2" & \'friends\''
RICH = "[/oops] [bold]loud[/bold]"  # rich markup in a name: printed as it is

TREND_ROWS = {
    # bucket, requests, violations, over-refusals
    "bucket_totals": [(T0, 4, 1, 1), (T0 + H, 5, 2, 0), (T0 + 3 * H, 2, 0, 1)],
    # bucket, pillar, violations, over-refusals (a pillar with findings but no event gets no line)
    "pillar_trend": [(T0, "(none)", 0, 1), (T0, "safety", 1, 0), (T0 + H, "safety", 1, 0),
                     (T0 + H, "privacy_security", 1, 0), (T0 + 3 * H, "(none)", 0, 1), (T0 + 3 * H, "fairness", 0, 0)],
    # bucket, model, version, requests, violations, over-refusals
    "model_trend": [(T0, "m", "v1", 3, 1, 0), (T0, "m", QUOTES, 1, 0, 1), (T0 + H, "m", "v1", 5, 2, 0),
                    (T0 + 3 * H, "m", QUOTES, 2, 0, 1)],
    "dead_letter_trend": [(T0 + H, 3)],
    # bucket, rows, [p50, p90, p99]
    "latency_trend": [(T0, 4, [100.0, 200.0, 250.0]), (T0 + H, 5, [110.0, 300.0, 900.0])],
}


def fixed_report(**changes) -> Report:
    data = dict(
        database="db<x>", generated_at=datetime.fromtimestamp((T0 + 5 * H) / 1000, UTC),
        since=datetime.fromtimestamp((T0 - 19 * H) / 1000, UTC), start_ms=T0 - 19 * H, end_ms=T0 + 5 * H,
        bucket_s=3600,
        totals={"verdicts": 11, "violations": 3, "over_refusals": 2, "partial": 1, "judged": 1, "alerts": 2,
                "dead_letters": 3, "messages": 11},
        by_pillar=[("(none)", 6, 0, 2), ("safety", 2, 2, 0), ("privacy_security", 1, 1, 0), ("fairness", 1, 0, 0)],
        by_model=[("m", "v1", 8, 0.375, 0.0), ("m", QUOTES, 3, 0.0, 0.6667)],
        by_category=[("S1.violent_crimes", 2, 2), (SCRIPT, 1, 1), (IMG, 1, 0), (RICH, 1, 0)],
        dead_letters=[("invalid_json", 2), ("oversize", 1)],
        alerts_by_kind=[("violation", "high", 2)],
        latency=[("end_to_end", 9, 110.0, 300.0, 900.0), ("screen", 11, 2.5, 6.5, 9.5)],
        trends=trends_from_rows(TREND_ROWS),
    )
    data.update(changes)
    return Report(**data)


class Element:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children, self.text_parts = tag, dict(attrs), parent, [], []

    def text(self) -> str:
        return "".join(p if isinstance(p, str) else p.text() for p in self.text_parts)

    def all(self):
        for child in self.children:
            yield child
            yield from child.all()

    def find(self, tag=None, **attrs):
        return [e for e in self.all() if (tag is None or e.tag == tag)
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]


class Parser(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#root", {}, None)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, [(k, v or "") for k, v in attrs], self.current)
        self.current.children.append(element)
        self.current.text_parts.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, [(k, v or "") for k, v in attrs], self.current))

    def handle_endtag(self, tag):
        element = self.current
        while element.parent is not None and element.tag != tag:
            element = element.parent
        if element.parent is not None:
            self.current = element.parent

    def handle_data(self, data):
        self.current.text_parts.append(data)


def parse(html_text: str) -> Element:
    parser = Parser()
    parser.feed(html_text)
    return parser.root


def test_parse_since_and_bucket_choice() -> None:
    assert parse_since("24h") == timedelta(hours=24)
    assert parse_since("30m") == timedelta(minutes=30)
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("2w") == timedelta(weeks=2)
    assert parse_since(" ALL ") is None
    for bad in ("", "24", "h", "-1h", "0h", "1y", "1h30m"):
        with pytest.raises(ConfigurationError):
            parse_since(bad)
    assert [bucket_seconds(s) for s in (600, 3600, 86400, 7 * 86400, 365 * 86400)] == [60, 300, 1800, 21600, 604800]


def test_trend_series_follow_the_rows() -> None:
    trends = trends_from_rows(TREND_ROWS)
    # Violation lines for pillars with a violation; a point per bucket with requests, zero included.
    vio = {s.name: [(p.t_ms, p.count, p.total) for p in s.points] for s in trends["violation_rate_by_pillar"]}
    assert vio == {"privacy_security": [(T0, 0, 4), (T0 + H, 1, 5), (T0 + 3 * H, 0, 2)],
                   "safety": [(T0, 1, 4), (T0 + H, 1, 5), (T0 + 3 * H, 0, 2)]}
    assert [(s.name, [p.value for p in s.points]) for s in trends["over_refusal_rate_by_pillar"]] == [
        ("(none)", [0.25, 0.0, 0.5])]
    # Model lines: a point where the version has requests; the version's own share.
    assert {s.name: [(p.t_ms, p.value) for p in s.points] for s in trends["violation_rate_by_model"]} == {
        "m@v1": [(T0, 1 / 3), (T0 + H, 0.4)]}
    assert {s.name: [(p.t_ms, p.value) for p in s.points] for s in trends["over_refusal_rate_by_model"]} == {
        f"m@{QUOTES}": [(T0, 1.0), (T0 + 3 * H, 0.5)]}
    assert {s.name: [(p.t_ms, p.value) for p in s.points] for s in trends["latency_ms"]} == {
        "p50": [(T0, 100.0), (T0 + H, 110.0)], "p90": [(T0, 200.0), (T0 + H, 300.0)],
        "p99": [(T0, 250.0), (T0 + H, 900.0)]}
    assert {s.name: [(p.t_ms, p.value) for p in s.points] for s in trends["volume"]} == {
        "requests": [(T0, 4), (T0 + H, 5), (T0 + 3 * H, 2)], "dead letters": [(T0 + H, 3)]}


def test_page_is_self_contained_and_escaped() -> None:
    page = render_html(fixed_report())
    dom = parse(page)
    # No script, no external anything: no element loads a resource, no CSS fetches one.
    assert not dom.find("script") and not dom.find("img") and not dom.find("link") and not dom.find("iframe")
    for element in dom.all():
        for attr in ("src", "href", "xlink:href", "srcset", "action", "poster", "data", "onerror", "onload"):
            assert attr not in element.attrs, (element.tag, element.attrs)
        assert not any(k.startswith("on") for k in element.attrs), (element.tag, element.attrs)
    assert not re.search(r"url\(|@import|@font-face", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    csp = dom.find("meta", http_equiv="Content-Security-Policy")
    assert len(csp) == 1 and "default-src 'none'" in csp[0].attrs["content"] and "script-src" not in csp[0].attrs[
        "content"]
    # Hostile names are shown as text, in the tables and on the charts, and run nothing.
    assert "<script" not in page and "<img" not in page
    categories = [td.text() for td in dom.find("td", data_col="category")]
    assert categories == ["S1.violent_crimes", SCRIPT, IMG, RICH]
    labels = [g.attrs["data-label"] for g in dom.find("g", **{"class": "row"})]
    assert SCRIPT in labels and IMG in labels
    assert [td.text() for td in dom.find("td", data_col="version")] == ["v1", QUOTES]
    assert [tr.attrs["data-key"] for tr in dom.find("table", data_table="by_model")[0].find("tr") if
            "data-key" in tr.attrs] == ["m@v1", f"m@{QUOTES}"]
    assert dom.find("title")[0].text() == "raiwatch report — db<x>"


def test_charts_carry_the_data() -> None:
    report = fixed_report()
    dom = parse(render_html(report))

    def series(chart: str) -> dict[str, list[tuple[int, float]]]:
        svg = dom.find("svg", data_chart=chart)
        assert len(svg) == 1, chart
        return {g.attrs["data-series"]: [(int(c.attrs["data-t-ms"]), float(c.attrs["data-value"]))
                                         for c in g.find("circle", **{"class": "point"})]
                for g in svg[0].find("g", **{"class": "series"})}

    for name, drawn in report.trends.items():
        assert series(name) == {s.name: [(p.t_ms, p.value) for p in s.points] for s in drawn}, name
    assert set(series("violation_rate_by_pillar")) == {"safety", "privacy_security"}
    # Points in their legend's colour; series of a chart told apart; a pillar keeps its colour across charts.
    swatches = {}
    for name in report.trends:
        figure = dom.find("figure", data_figure=name)[0]
        legend = {li.attrs["data-series"]: re.search(r"background:(#[0-9a-f]{6})", li.find("span")[0].attrs["style"])[1]
                  for li in figure.find("li")}
        assert len(set(legend.values())) == len(legend) == len(report.trends[name]), name
        for c in figure.find("circle"):
            assert c.attrs["fill"] == legend[c.attrs["data-series"]], name
        swatches[name] = legend
    assert swatches["over_refusal_rate_by_pillar"]["(none)"] not in swatches["violation_rate_by_pillar"].values()
    assert len(series("latency_ms")["p99"]) == 2
    # Lines join neighbouring buckets only: T0 and T0+1h are joined, T0+3h stands alone.
    svg = dom.find("svg", data_chart="violation_rate_by_pillar")[0]
    lines = [len(p.attrs["points"].split()) for p in svg.find("polyline")]
    assert lines == [2, 2]
    # A higher value is drawn higher.
    points = svg.find("circle", **{"class": "point"})
    by_value = sorted(points, key=lambda c: float(c.attrs["data-value"]))
    assert float(by_value[0].attrs["cy"]) > float(by_value[-1].attrs["cy"])
    # Bars: one per reason; per category one for requests and one for violations.
    bars = dom.find("svg", data_chart="dead_letter_reasons")[0].find("rect", **{"class": "bar"})
    assert [(b.attrs["data-label"], int(b.attrs["data-value"])) for b in bars] == [("invalid_json", 2), ("oversize", 1)]
    assert float(bars[0].attrs["width"]) == pytest.approx(2 * float(bars[1].attrs["width"]))
    bars = dom.find("svg", data_chart="top_categories")[0].find("rect", **{"class": "bar"})
    assert [(b.attrs["data-label"], b.attrs["data-series"], int(b.attrs["data-value"])) for b in bars] == [
        ("S1.violent_crimes", "requests", 2), ("S1.violent_crimes", "violations", 2), (SCRIPT, "requests", 1),
        (SCRIPT, "violations", 1), (IMG, "requests", 1), (IMG, "violations", 0), (RICH, "requests", 1),
        (RICH, "violations", 0)]
    # Numbers: totals, rates as shown.
    assert dom.find(data_total="violations")[0].text() == "3"
    assert dom.find(data_rate="violations")[0].text().startswith("27.27%")
    safety = [tr for tr in dom.find("tr") if tr.attrs.get("data-key") == "safety"][0]
    assert [td.text() for td in safety.find("td")] == ["safety", "2", "2", "18.18%", "0", "0.00%"]
    p99 = [tr for tr in dom.find("tr") if tr.attrs.get("data-key") == "end_to_end"][0].find("td", data_col="p99")[0]
    assert (p99.text(), p99.attrs["data-value"]) == ("900", "900")


def test_empty_report_says_so() -> None:
    empty = fixed_report(totals=dict.fromkeys(fixed_report().totals, 0), by_pillar=[], by_model=[], by_category=[],
                         dead_letters=[], alerts_by_kind=[], latency=[],
                         trends=trends_from_rows({k: [] for k in TREND_ROWS}))
    dom = parse(render_html(empty))
    assert len(dom.find("svg", **{"class": "chart"})) == 8
    assert not dom.find("circle") and not dom.find("rect")
    assert {e.text() for e in dom.find(data_empty="true")} == {
        "no violations in this window", "no over-refusals in this window", "nothing in this window",
        "no latency data in this window", "no findings in this window", "no dead letters in this window"}
    assert len(dom.find("tr", **{"class": "none"})) == 6
    assert dom.find(data_rate="violations")[0].text().startswith("0.00%")


def test_terminal_and_json() -> None:
    from rich.console import Console

    report = fixed_report()
    console = Console(record=True, width=160)
    print_report(report, console)
    text = console.export_text()
    assert re.search(r"safety\s*│\s*2\s*│\s*2\s*│\s*18\.18%\s*│\s*0\s*│\s*0\.00%", text)
    assert re.search(r"invalid_json\s*│\s*2", text)
    assert re.search(r"end to end\s*│\s*9\s*│\s*110\s*│\s*300\s*│\s*900", text)
    assert SCRIPT in text and RICH in text and "last 24h" in text
    data = json.loads(json.dumps(report.as_dict()))
    since = datetime.fromtimestamp((T0 - 19 * H) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert data["totals"]["violations"] == 3 and data["since"] == since and data["bucket_s"] == 3600
    assert [p["value"] for p in data["trends"]["over_refusal_rate_by_pillar"][0]["points"]] == [0.25, 0.0, 0.5]
