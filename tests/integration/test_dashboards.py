"""The Grafana dashboards (deploy/grafana/dashboards/*.json) against the real ClickHouse.

Every query of every dashboard (each panel target and each template variable) is expanded the
way Grafana and the ClickHouse data source plugin (grafana-clickhouse-datasource, v4) expand it,
then run on a fresh database: first on empty tables (every panel must work on an empty result),
then on a small hand-made data set whose expected rows are written out below, per panel, for
two variable selections ("All" everywhere, and tenant acme with model version v2).

The data set has what the dashboards must get right: a judged request (a screen row and a judge
row with the same verdict_id, not merged; the judge row says what it replaces, as the sink
writes it, for the per-minute metrics view), the block of screen rows inserted twice (a sink's
retry: ClickHouse drops the repeat, in the metrics view too), a message, an alert and a dead
letter inserted twice, rows just outside the time range, two tenants, two model names and
versions, several pillars and categories, and known latencies. Merges are stopped, so the
duplicates and revisions stay physical rows for the whole test. Panels on `verdicts FINAL` and
panels on `verdict_metrics_1m` must give the same numbers.

A new panel needs an entry in EXPECTED, keyed by its title (titles are unique across dashboards).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from raiwatch.schemas.clickhouse import clickhouse_client

pytestmark = pytest.mark.integration

DASHBOARD_DIR = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
DATASOURCE = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
VARIABLES = ("tenant", "model_name", "model_version")
PANELS_WITHOUT_QUERIES = {"row", "text"}
QUERY_PANEL_TYPES = {"timeseries": "timeseries", "stat": "table", "table": "table", "bargauge": "table",
                     "barchart": "table", "piechart": "table", "gauge": "table"}
FORMATS = {"timeseries": 0, "table": 1}  # sqlds format codes the plugin sends with each queryType


# --- the dashboards -------------------------------------------------------------------------

def load_dashboards() -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted(DASHBOARD_DIR.glob("*.json"))}


def query_panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.extend([panel] if panel["type"] not in PANELS_WITHOUT_QUERIES else [])
        panels.extend(p for p in panel.get("panels", []) if p["type"] not in PANELS_WITHOUT_QUERIES)
    return panels


def target_key(panel: dict, target: dict) -> str:
    """The EXPECTED key of a target: the panel title, with the refId when a panel has several."""
    return panel["title"] if len(panel["targets"]) == 1 else f"{panel['title']} [{target['refId']}]"


def all_targets() -> list[tuple[str, dict, dict, dict]]:
    """(key, dashboard, panel, target) for every target of every dashboard."""
    return [(target_key(panel, target), board, panel, target)
            for board in load_dashboards().values() for panel in query_panels(board) for target in panel["targets"]]


# --- Grafana's and the plugin's expansion -------------------------------------------------------

ALL = "$__all"  # the value Grafana stores for "All"
# Grafana's variable syntax: $name, ${name}, ${name:format} ([[name]] is deprecated and not used here)
VARIABLE_REF = re.compile(r"\$\{(\w+)(?::([^}]+))?\}|\$(\w+)")
MACRO_NAME = re.compile(r"\$__(\w+)")


def grafana_format(values: Sequence[str], fmt: str | None, multi: bool) -> str:
    """Grafana's variable formats for the selected values (the plugin's own formatter when none)."""
    if fmt is None:  # the plugin's applyTemplateVariables: a multi-value variable's array as '...','...'
        return "'" + "','".join(values) + "'" if multi else values[0]
    if fmt == "singlequote":
        return ",".join("'" + v.replace("'", "\\'") + "'" for v in values)
    if fmt == "doublequote":
        return ",".join('"' + v.replace('"', '\\"') + '"' for v in values)
    if fmt == "sqlstring":
        return ",".join("'" + v.replace("'", "''") + "'" for v in values)
    if fmt in ("csv", "raw"):
        return ",".join(values)
    raise AssertionError(f"variable format {fmt!r} is not emulated by this test: add it to grafana_format")


class Expander:
    """Expands rawSql as Grafana + grafana-clickhouse-datasource v4 do for one time range,
    interval and variable selection: the frontend's $__conditionalAll and template variables
    (a custom "All" value is inserted unformatted; "All" without one means every option),
    then the backend's macros (pkg/macros/macros.go)."""

    def __init__(self, time_from: datetime, time_to: datetime, interval_s: int,
                 selection: Mapping[str, list[str]], definitions: Mapping[str, dict],
                 options: Callable[[str], list[str]]) -> None:
        self.time_from, self.time_to, self.interval_s = time_from, time_to, interval_s
        self.selection, self.definitions, self.options = selection, definitions, options

    def __call__(self, sql: str) -> str:
        return self.macros(self.variables(self.conditional_all(sql)))

    def conditional_all(self, sql: str) -> str:
        while (start := sql.rfind("$__conditionalAll(")) != -1:
            args, end = _macro_args(sql, start + len("$__conditionalAll"))
            assert len(args) == 2, f"$__conditionalAll takes 2 arguments: {sql[start:end]}"
            name = VARIABLE_REF.fullmatch(args[1].strip())
            value = self.selection.get((name.group(1) or name.group(3)) if name else "", None)
            sql = sql[:start] + ("1=1" if value in ([ALL], [""]) else args[0]) + sql[end:]
        return sql

    def variables(self, sql: str) -> str:
        def replace(match: re.Match) -> str:
            name, fmt = match.group(1) or match.group(3), match.group(2)
            if name in GLOBALS:
                return GLOBALS[name](self)
            if name not in self.definitions:
                assert match.group(3) is not None, f"unknown variable {match.group(0)}"
                return match.group(0)  # Grafana leaves unknown $names alone: the plugin's macros
            values = self.selection[name]
            if values == [ALL]:
                if self.definitions[name].get("allValue"):
                    return self.definitions[name]["allValue"] if fmt != "text" else "All"
                values = self.options(name)
            return grafana_format(values, fmt, bool(self.definitions[name].get("multi")))

        return VARIABLE_REF.sub(replace, sql)

    def macros(self, sql: str) -> str:
        out, pos = [], 0
        while (match := MACRO_NAME.search(sql, pos)) is not None:
            name = match.group(1)
            assert name in MACROS, f"$__{name} is not a macro of the ClickHouse plugin"
            args, end = _macro_args(sql, match.end()) if sql.startswith("(", match.end()) else ([], match.end())
            out.append(sql[pos:match.start()] + MACROS[name](self, [a.strip() for a in args]))
            pos = end
        return "".join(out) + sql[pos:]

    # the plugin's time expressions
    def seconds(self, t: datetime) -> str:
        return f"toDateTime({int(t.timestamp())})"

    def millis(self, t: datetime) -> str:
        return f"fromUnixTimestamp64Milli({int(t.timestamp() * 1000)})"

    def date(self, t: datetime) -> str:
        return f"toDate('{t.astimezone(UTC):%Y-%m-%d}')"


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at `open_paren`, split at top-level commas, and the
    index after its ')'."""
    assert sql[open_paren] == "(", sql[open_paren:open_paren + 40]
    depth, args, start = 0, [], open_paren + 1
    for pos in range(open_paren, len(sql)):
        char = sql[pos]
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                args.append(sql[start:pos])
                return args, pos + 1
        elif char == "," and depth == 1:
            args.append(sql[start:pos])
            start = pos + 1
    raise AssertionError(f"unbalanced macro call: {sql[open_paren:open_paren + 80]}")


def _one(args: list[str]) -> str:
    assert len(args) == 1, f"expected 1 argument, got {args}"
    return args[0]


MACROS: dict[str, Callable[[Expander, list[str]], str]] = {
    "fromTime": lambda e, a: e.seconds(e.time_from),
    "toTime": lambda e, a: e.seconds(e.time_to),
    "fromTime_ms": lambda e, a: e.millis(e.time_from),
    "toTime_ms": lambda e, a: e.millis(e.time_to),
    "timeFilter": lambda e, a: f"{_one(a)} >= {e.seconds(e.time_from)} AND {_one(a)} <= {e.seconds(e.time_to)}",
    "timeFilter_ms": lambda e, a: f"{_one(a)} >= {e.millis(e.time_from)} AND {_one(a)} <= {e.millis(e.time_to)}",
    "dateFilter": lambda e, a: f"{_one(a)} >= {e.date(e.time_from)} AND {_one(a)} <= {e.date(e.time_to)}",
    "dateTimeFilter": lambda e, a: (f"({a[0]} >= {e.date(e.time_from)} AND {a[0]} <= {e.date(e.time_to)}) AND "
                                    f"({a[1]} >= {e.seconds(e.time_from)} AND {a[1]} <= {e.seconds(e.time_to)})"),
    "timeInterval": lambda e, a: f"toStartOfInterval(toDateTime({_one(a)}), INTERVAL {max(e.interval_s, 1)} second)",
    "timeInterval_ms": lambda e, a: (f"toStartOfInterval(toDateTime64({_one(a)}, 3), "
                                     f"INTERVAL {max(e.interval_s * 1000, 1)} millisecond)"),
    "interval_s": lambda e, a: str(max(e.interval_s, 1)),
}
MACROS["dt"] = MACROS["dateTimeFilter"]
# Grafana's global variables, replaced by the frontend before the plugin sees the query
GLOBALS: dict[str, Callable[[Expander], str]] = {
    "__interval": lambda e: f"{e.interval_s}s",
    "__interval_ms": lambda e: str(e.interval_s * 1000),
    "__from": lambda e: str(int(e.time_from.timestamp() * 1000)),
    "__to": lambda e: str(int(e.time_to.timestamp() * 1000)),
    "__range_s": lambda e: str(int((e.time_to - e.time_from).total_seconds())),
}


# --- the data set -----------------------------------------------------------------------------

BASE = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
TIME_FROM, TIME_TO = BASE, BASE + timedelta(minutes=60)
INTERVAL_S = 1800  # two buckets: minutes [0, 30) and [30, 60]


def at(minute: float) -> datetime:
    return BASE + timedelta(minutes=minute)


B0, B1 = at(0), at(30)

# Screen rows (revision 1). Latency: publish (input_published_at) to row (written_at).
# request, tenant, model, version, minute, pillars, categories, violation, over_refusal, partial, latency_ms,
# join_wait_ms, screen_ms
SCREEN = [
    ("a1", "acme", "chat", "v1", 5, [], [], 0, 0, 0, 100, 4, 10),
    ("a2", "acme", "chat", "v1", 10, ["safety"], ["S1.violent_crimes"], 1, 0, 0, 200, 6, 20),
    ("a3", "acme", "chat", "v1", 35, [], [], 0, 1, 0, 300, 8, 30),
    ("a4", "acme", "chat", "v2", 6, ["privacy_security"], ["pii.email"], 1, 0, 0, 400, 2, 40),
    ("a5", "acme", "chat", "v2", 12, ["safety"], ["S2.nonviolent_crimes"], 1, 0, 0, 120, 5, 50),  # judge clears it
    ("a6", "acme", "chat", "v2", 33, ["privacy_security"], ["injection"], 0, 0, 0, 600, 3, 15),  # refused attack
    ("a7", "acme", "chat", "v2", 40, [], [], 0, 1, 0, 700, 7, 25),
    ("a8", "acme", "chat", "v2", 50, ["safety"], ["S1.violent_crimes"], 1, 0, 0, 130, 9, 35),  # judge unscored
    ("g1", "globex", "chat", "v2", 8, ["fairness"], ["bias"], 1, 0, 0, 250, 1, 12),
    ("g2", "globex", "chat", "v2", 20, [], [], 0, 0, 0, 150, 2, 14),
    ("g3", "globex", "assist", "v1", 38, [], [], 0, 0, 1, 10050, 10000, 16),  # partial (join timeout)
    ("g4", "globex", "assist", "v1", 55, ["safety", "privacy_security"], ["S1.violent_crimes", "pii.phone"],
     1, 0, 0, 350, 4, 18),  # judge confirms it
    ("g5", "globex", "assist", "v1", 25, ["privacy_security"], ["pii.email"], 0, 1, 0, 450, 6, 22),  # PII, refused
    ("x1", "acme", "chat", "v2", -5, ["safety"], ["S1.violent_crimes"], 1, 0, 0, 100, 1, 10),  # before the range
]
# Judge rows (revision 2, same verdict_id): request, violation, judge_score, latency (to the judge row), judge ms
JUDGE = [("a5", 0, 0.2, 1500, 900), ("a8", 1, None, 2000, 1800), ("g4", 1, 0.95, 1300, 1200)]
JUDGE_CHECK = "judge.safety@rubric2{backend='openai',model='llama-guard-3-1b',threshold=0.5}"
MESSAGES = {request: (f"prompt of {request}", f"output of {request}") for request, *_ in SCREEN}
MESSAGES["a4"] = ("Mail the report to <EMAIL_ADDRESS>", "Sent to <EMAIL_ADDRESS>.")

DRIFT_SUMMARY = "over-refusal rate of assist v1 drifted (PSI 0.31)"
REGRESSION_SUMMARY = "violation rate of chat v2 up from 0.1 to 0.4"
STALL_SUMMARY = "judge: rai.judge[2] has not moved for 130s with 7 records waiting; held at offset 41"
# alert_id kind min tenant model ver pillar category severity summary verdict_ids details
ALERTS = [
    ("al1", "violation", 6, "acme", "chat", "v2", "privacy_security", "pii.email", "high",
     "high violation from chat v2 (acme)", ["v-a4"], {}),  # inserted twice
    ("al2", "over_refusal", 25, "globex", "assist", "v1", "", "", "low",
     "low over-refusal from assist v1 (globex)", ["v-g5"], {}),
    ("al3", "stall", 40, "default", "", "", "", "", "high", STALL_SUMMARY, [],
     {"offset": 41.0, "lag": 7.0, "stalled_s": 130.0}),
    ("al4", "regression", 45, "acme", "chat", "v2", "safety", "S1.violent_crimes", "medium", REGRESSION_SUMMARY,
     ["v-a8"], {"current": 0.4, "baseline": 0.1, "p_value": 0.01}),
    ("al5", "drift", 50, "globex", "assist", "v1", "", "", "medium", DRIFT_SUMMARY, [], {"psi": 0.31}),
    ("al6", "violation", -30, "acme", "chat", "v2", "safety", "S1.violent_crimes", "high",
     "high violation from chat v2 (acme)", ["v-x1"], {}),  # before the range
]
# event_id min topic partition offset reason stage detail
DEAD_LETTERS = [
    ("d1", 3, "rai.prompts", 0, 11, "invalid_json", "decode", "Expecting value: line 1 column 1 (char 0)"),
    ("d2", 14, "rai.outputs", 1, 27, "invalid_json", "decode", "Unterminated string at char 12"),  # inserted twice
    ("d3", 20, "rai.prompts", 2, 5, "schema_violation", "decode", "model: Field required"),
    ("d4", 38, "rai.outputs", 3, 44, "late_arrival", "join", "output arrived 12.0 s after the prompt's join timeout"),
    ("d5", 52, "rai.prompts", 0, 60, "oversize", "decode", "2097152 bytes, limit 1048576"),
    ("d6", 80, "rai.prompts", 1, 70, "invalid_utf8", "decode", "byte 0xff at 3"),  # after the range
]


def published(minute: float) -> datetime:
    return at(minute) + timedelta(milliseconds=20)


def verdict_row(request: str, tenant: str, model: str, version: str, minute: float, pillars: list[str],
                categories: list[str], violation: int, over_refusal: int, partial: int, latency_ms: int,
                stages: dict[str, float], *, revision: int = 1, judge_score: float | None = None,
                unscored: Sequence[str] = (), offset: int = 0, replaces: dict[str, Any] | None = None) -> dict[str, Any]:
    severity = "high" if violation else ("low" if categories and not over_refusal else "info")
    findings = list(zip(pillars, categories, strict=True)) + ([("controllability", "over_refusal")] if over_refusal else [])
    previous: dict[str, Any] = {"prev_revision": 0, "prev_findings": [], "prev_violation": 0, "prev_over_refusal": 0,
                "prev_partial": 0}
    if replaces is not None:  # what the sink writes for a judge revision (VerdictV1.supersedes)
        previous = {"prev_revision": replaces["revision"], "prev_findings": replaces["findings"],
                    "prev_violation": replaces["violation"], "prev_over_refusal": replaces["over_refusal"],
                    "prev_partial": replaces["partial"]}
    return {
        "verdict_id": f"v-{request}", "request_id": request, "event_time": at(minute),
        "written_at": published(minute) + timedelta(milliseconds=latency_ms), "tenant": tenant,
        "model_name": model, "model_version": version, "model_adapter": "",
        "stage": "judge" if revision == 2 else "screen",
        "revision": revision, "policy_id": "default", "policy_version": 1, "pillars": pillars,
        "categories": categories, "violation": violation, "over_refusal": over_refusal, "partial": partial,
        "severity": severity, "scores": {}, "unscored": list(unscored), "judge_score": judge_score, "rationale": "",
        "evidence": "[]", "locale": "en", "input_published_at": published(minute), "stage_latency_ms": stages,
        "kafka_partition": 0, "kafka_offset": offset, "findings": findings, **previous,
    }


def seed(client: Any) -> None:
    screen = {row[0]: row for row in SCREEN}
    verdicts = [verdict_row(*row[:11], {"join_wait": row[11], "screen": row[12]}, offset=i)
                for i, row in enumerate(SCREEN)]
    judged = []
    by_request = {v["request_id"]: v for v in verdicts}
    for i, (request, violation, score, latency, judge_ms) in enumerate(JUDGE):
        row = screen[request]
        judged.append(verdict_row(
            *row[:7], violation, *row[8:10], latency, {"join_wait": row[11], "screen": row[12], "judge": judge_ms},
            revision=2, judge_score=score, unscored=[JUDGE_CHECK] if score is None else [], offset=100 + i,
            replaces=by_request[request]))
    for rows in (verdicts, judged, verdicts):  # the screen block twice: a retry (dropped); two parts, never merged
        _insert(client, "verdicts", rows)

    messages = [{"request_id": r[0], "event_time": at(r[4]), "tenant": r[1], "model_name": r[2], "model_version": r[3],
                 "prompt_redacted": MESSAGES[r[0]][0], "output_redacted": MESSAGES[r[0]][1],
                 "kafka_partition": 0, "kafka_offset": i} for i, r in enumerate(SCREEN)]
    _insert(client, "messages", messages)
    _insert(client, "messages", [m for m in messages if m["request_id"] == "a4"])

    alerts = [{"alert_id": a[0], "kind": a[1], "dedup_key": f"{a[1]}|{a[3]}|{a[4]}", "window_start": at(a[2]),
               "event_time": at(a[2]) + timedelta(seconds=1), "tenant": a[3], "model_name": a[4],
               "model_version": a[5], "pillar": a[6], "category": a[7], "severity": a[8], "policy_id": "default",
               "policy_version": 1, "summary": a[9], "verdict_ids": a[10], "details": a[11],
               "kafka_partition": 0, "kafka_offset": i} for i, a in enumerate(ALERTS)]
    _insert(client, "alerts", alerts)
    _insert(client, "alerts", alerts[:1])

    dead = [{"event_id": d[0], "event_time": at(d[1]), "source_topic": d[2], "source_partition": d[3],
             "source_offset": d[4], "reason": d[5], "stage": d[6], "detail": d[7], "original": f"<{d[0]} bytes>",
             "original_size": 1000 + d[4], "original_sha256": "", "original_truncated": 0,
             "kafka_partition": 0, "kafka_offset": i} for i, d in enumerate(DEAD_LETTERS)]
    _insert(client, "dead_letters", dead)
    _insert(client, "dead_letters", [d for d in dead if d["event_id"] == "d2"])


def _insert(client: Any, table: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    client.insert(table, [[row[c] for c in columns] for row in rows], column_names=columns)


# --- what every panel must show, computed by hand from the data set ------------------------------
# In range, the final verdicts are 13 requests: bucket B0 (minutes 0-29) a1 a2 a4 a5 g1 g2 g5 (7),
# bucket B1 (30-60) a3 a6 a7 a8 g3 g4 (6); a5 is a violation on its screen row only (the judge
# cleared it), x1 is outside the range. Selection "acme_v2": a4 a5 | a6 a7 a8.

SAME = "same rows as with All"  # a panel the tenant and model variables do not filter
SELECTIONS = {
    "all": {"tenant": [ALL], "model_name": [ALL], "model_version": [ALL]},
    "acme_v2": {"tenant": ["acme"], "model_name": [ALL], "model_version": ["v2"]},
}

EXPECTED_VARIABLES = {
    "tenant": {"all": [("acme",), ("globex",)], "acme_v2": [("acme",), ("globex",)]},
    "model_name": {"all": [("assist",), ("chat",)], "acme_v2": [("chat",)]},
    "model_version": {"all": [("v1",), ("v2",)], "acme_v2": [("v1",), ("v2",)]},
}

ALERT_ROWS = {  # window_start, kind, severity, tenant, model, pillar, category, summary
    "al1": (at(6), "violation", "high", "acme", "chat v2", "privacy_security", "pii.email",
            "high violation from chat v2 (acme)"),
    "al2": (at(25), "over_refusal", "low", "globex", "assist v1", "", "", "low over-refusal from assist v1 (globex)"),
    "al3": (at(40), "stall", "high", "default", "", "", "", STALL_SUMMARY),
    "al4": (at(45), "regression", "medium", "acme", "chat v2", "safety", "S1.violent_crimes", REGRESSION_SUMMARY),
    "al5": (at(50), "drift", "medium", "globex", "assist v1", "", "", DRIFT_SUMMARY),
}


def violation_row(request: str, tenant: str, model: str, pillars: str, categories: str) -> tuple:
    minute = next(r[4] for r in SCREEN if r[0] == request)
    return (at(minute), tenant, model, "high", pillars, categories, *MESSAGES[request], request)


def dead_letter_row(event_id: str) -> tuple:
    d = next(d for d in DEAD_LETTERS if d[0] == event_id)
    return (at(d[1]), d[5], d[6], d[2], d[3], d[4], d[7], 1000 + d[4])


EXPECTED: dict[str, dict[str, list[tuple] | str]] = {
    # raiwatch-overview
    "Requests": {"all": [(13,)], "acme_v2": [(5,)]},
    "Violation rate": {"all": [(5 / 13,)], "acme_v2": [(2 / 5,)]},  # a2 a4 a8 g1 g4 | a4 a8
    "Over-refusal rate": {"all": [(3 / 13,)], "acme_v2": [(1 / 5,)]},  # a3 a7 g5 | a7
    "Alerts raised": {"all": [(5,)], "acme_v2": [(3,)]},  # al1 (twice) .. al5 | al1 al3 (stall) al4
    "Violation rate by pillar": {
        "all": [(B0, "fairness", 1 / 7), (B0, "privacy_security", 1 / 7), (B0, "safety", 1 / 7),
                (B1, "privacy_security", 1 / 6), (B1, "safety", 2 / 6)],
        "acme_v2": [(B0, "privacy_security", 1 / 2), (B1, "safety", 1 / 3)],
    },
    "Over-refusal rate by pillar": {
        "all": [(B0, "privacy_security", 1 / 7), (B1, "(none)", 2 / 6)],
        "acme_v2": [(B1, "(none)", 1 / 3)],
    },
    "Violation rate by category": {
        "all": [(B0, "S1.violent_crimes", 1 / 7), (B0, "bias", 1 / 7), (B0, "pii.email", 1 / 7),
                (B1, "S1.violent_crimes", 2 / 6), (B1, "pii.phone", 1 / 6)],
        "acme_v2": [(B0, "pii.email", 1 / 2), (B1, "S1.violent_crimes", 1 / 3)],
    },
    "Over-refusal rate by category": {
        "all": [(B0, "pii.email", 1 / 7), (B1, "(none)", 2 / 6)],
        "acme_v2": [(B1, "(none)", 1 / 3)],
    },
    "Violation rate by model version": {
        "all": [(B0, "assist v1", 0 / 1), (B0, "chat v1", 1 / 2), (B0, "chat v2", 2 / 4),
                (B1, "assist v1", 1 / 2), (B1, "chat v1", 0 / 1), (B1, "chat v2", 1 / 3)],
        "acme_v2": [(B0, "chat v2", 1 / 2), (B1, "chat v2", 1 / 3)],
    },
    "Over-refusal rate by model version": {
        "all": [(B0, "assist v1", 1 / 1), (B0, "chat v1", 0 / 2), (B0, "chat v2", 0 / 4),
                (B1, "assist v1", 0 / 2), (B1, "chat v1", 1 / 1), (B1, "chat v2", 1 / 3)],
        "acme_v2": [(B0, "chat v2", 0 / 2), (B1, "chat v2", 1 / 3)],
    },
    "Top categories": {  # category, requests, violations, over-refusals
        "all": [("S1.violent_crimes", 3, 3, 0), ("pii.email", 2, 1, 1), ("bias", 1, 1, 0), ("pii.phone", 1, 1, 0),
                ("S2.nonviolent_crimes", 1, 0, 0), ("injection", 1, 0, 0)],
        "acme_v2": [("S1.violent_crimes", 1, 1, 0), ("pii.email", 1, 1, 0), ("S2.nonviolent_crimes", 1, 0, 0),
                    ("injection", 1, 0, 0)],
    },
    "Alerts": {  # + number of verdicts behind the alert
        "all": [(*ALERT_ROWS["al5"], 0), (*ALERT_ROWS["al4"], 1), (*ALERT_ROWS["al3"], 0), (*ALERT_ROWS["al2"], 1),
                (*ALERT_ROWS["al1"], 1)],
        "acme_v2": [(*ALERT_ROWS["al4"], 1), (*ALERT_ROWS["al3"], 0), (*ALERT_ROWS["al1"], 1)],
    },
    "Regressions and drift": {  # + the alert's numbers
        "all": [(*ALERT_ROWS["al5"], "psi=0.31"), (*ALERT_ROWS["al4"], "baseline=0.1, current=0.4, p_value=0.01")],
        "acme_v2": [(*ALERT_ROWS["al4"], "baseline=0.1, current=0.4, p_value=0.01")],
    },
    "Recent violations": {
        "all": [violation_row("g4", "globex", "assist v1", "safety, privacy_security", "S1.violent_crimes, pii.phone"),
                violation_row("a8", "acme", "chat v2", "safety", "S1.violent_crimes"),
                violation_row("a2", "acme", "chat v1", "safety", "S1.violent_crimes"),
                violation_row("g1", "globex", "chat v2", "fairness", "bias"),
                violation_row("a4", "acme", "chat v2", "privacy_security", "pii.email")],
        "acme_v2": [violation_row("a8", "acme", "chat v2", "safety", "S1.violent_crimes"),
                    violation_row("a4", "acme", "chat v2", "privacy_security", "pii.email")],
    },
    # raiwatch-operations
    "Dead letters": {"all": [(5,)], "acme_v2": SAME},  # d1..d5, d2 stored twice, d6 after the range
    "Dead letters by reason": {
        "all": [(B0, "invalid_json", 2), (B0, "schema_violation", 1), (B1, "late_arrival", 1), (B1, "oversize", 1)],
        "acme_v2": SAME,
    },
    "Latest dead letters": {"all": [dead_letter_row(d) for d in ("d5", "d4", "d3", "d2", "d1")], "acme_v2": SAME},
    # quantiles interpolate linearly: p at position q * (n - 1) of the sorted values
    "Publish-to-verdict latency (p50 / p90 / p99)": {
        # B0: 100 150 200 250 400 450 1500 (a5's judge row); B1: 300 600 700 1300 2000 10050
        "all": [(B0, 250, 450 + 0.4 * 1050, 450 + 0.94 * 1050), (B1, 1000, 2000 + 0.5 * 8050, 2000 + 0.95 * 8050)],
        # B0: 400 1500; B1: 600 700 2000
        "acme_v2": [(B0, 950, 400 + 0.9 * 1100, 400 + 0.99 * 1100), (B1, 700, 700 + 0.8 * 1300, 700 + 0.98 * 1300)],
    },
    "Stage latency p90 by stage": {
        # B0 join_wait 1 2 2 4 5 6 6, judge 900, screen 10 12 14 20 22 40 50
        # B1 join_wait 3 4 7 8 9 10000, judge 1200 1800, screen 15 16 18 25 30 35
        "all": [(B0, "join_wait", 6), (B0, "judge", 900), (B0, "screen", 40 + 0.4 * 10),
                (B1, "join_wait", 9 + 0.5 * 9991), (B1, "judge", 1200 + 0.9 * 600), (B1, "screen", 30 + 0.5 * 5)],
        "acme_v2": [(B0, "join_wait", 2 + 0.9 * 3), (B0, "judge", 900), (B0, "screen", 40 + 0.9 * 10),
                    (B1, "join_wait", 7 + 0.8 * 2), (B1, "judge", 1800), (B1, "screen", 25 + 0.8 * 10)],
    },
    "Judged verdicts per minute": {  # per 30-minute bucket: a5 | a8 g4
        "all": [(B0, 1 / 30), (B1, 2 / 30)],
        "acme_v2": [(B0, 1 / 30), (B1, 1 / 30)],
    },
    "Judge stage latency (p50 / p90 / p99)": {
        "all": [(B0, 900, 900, 900), (B1, 1500, 1200 + 0.9 * 600, 1200 + 0.99 * 600)],
        "acme_v2": [(B0, 900, 900, 900), (B1, 1800, 1800, 1800)],
    },
    "Share of verdicts judged": {"all": [(B0, 1 / 7), (B1, 2 / 6)], "acme_v2": [(B0, 1 / 2), (B1, 1 / 3)]},
    "Unscored judge rows": {"all": [(B0, 0), (B1, 1)], "acme_v2": [(B0, 0), (B1, 1)]},  # a8
    "Partial verdicts share": {"all": [(B0, 0), (B1, 1 / 6)], "acme_v2": [(B0, 0), (B1, 0)]},  # g3
}


# --- comparing rows -----------------------------------------------------------------------------

def normalise(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def same_value(actual: Any, expected: Any) -> bool:
    if isinstance(actual, float) or isinstance(expected, float):
        if not isinstance(actual, int | float) or not isinstance(expected, int | float) or isinstance(actual, bool):
            return False
        return math.isclose(actual, expected, rel_tol=1e-6, abs_tol=1e-9)
    return normalise(actual) == normalise(expected)


def row_differences(actual: Sequence[Sequence], expected: Sequence[Sequence]) -> list[str]:
    if len(actual) != len(expected):
        return [f"{len(actual)} rows, expected {len(expected)}"]
    return [f"row {i}: {tuple(a)} != expected {tuple(e)}" for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            if len(a) != len(e) or not all(same_value(x, y) for x, y in zip(a, e, strict=True))]


def has_nan(rows: Sequence[Sequence]) -> bool:
    return any(isinstance(v, float) and math.isnan(v) for row in rows for v in row)


# --- the tests ------------------------------------------------------------------------------------

def test_every_dashboard_is_grafana_dashboard_json() -> None:
    boards = load_dashboards()
    assert set(boards) >= {"raiwatch-overview.json"}, "the overview dashboard is missing"
    uids, titles = set(), []
    for name, board in boards.items():
        assert isinstance(board.get("title"), str) and board["title"], name
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", board.get("uid", "")), f"{name}: uid"
        assert board["uid"] not in uids, f"{name}: uid {board['uid']} used twice"
        uids.add(board["uid"])
        assert isinstance(board.get("schemaVersion"), int), name
        assert {"from", "to"} <= set(board.get("time", {})), name
        variables = {v["name"]: v for v in board["templating"]["list"]}
        for var in VARIABLES:
            v = variables.get(var)
            assert v is not None, f"{name}: template variable {var} is missing"
            assert v["type"] == "query" and v["datasource"] == DATASOURCE and v["includeAll"], f"{name}: {var}"
            assert isinstance(v["query"], str) and v["query"].strip(), f"{name}: {var} has no query"
            # a custom "All" value reaches the SQL unformatted, so it must be an SQL literal itself
            assert "allValue" not in v or re.fullmatch(r"'[^']*'", v["allValue"]), f"{name}: {var} allValue"
        ids, occupied = set(), {}
        nested = [p for row in board["panels"] for p in row.get("panels", [])]  # inside collapsed rows
        for panel in board["panels"] + nested:
            where = f"{name}: panel {panel.get('title')!r}"
            assert isinstance(panel.get("id"), int) and panel["id"] not in ids, f"{where}: id"
            ids.add(panel["id"])
            assert isinstance(panel.get("title"), str) and panel["title"], f"{where}: title"
            grid = panel.get("gridPos", {})
            assert all(isinstance(grid.get(k), int) for k in "hwxy"), f"{where}: gridPos {grid}"
            assert grid["w"] >= 1 and grid["h"] >= 1 and grid["x"] >= 0 and grid["y"] >= 0, f"{where}: {grid}"
            assert grid["x"] + grid["w"] <= 24, f"{where}: wider than the grid"
            if panel not in nested:
                for x in range(grid["x"], grid["x"] + grid["w"]):
                    for y in range(grid["y"], grid["y"] + grid["h"]):
                        assert (x, y) not in occupied, f"{where} overlaps {occupied[(x, y)]!r}"
                        occupied[(x, y)] = panel["title"]
            if panel["type"] in PANELS_WITHOUT_QUERIES:
                continue
            assert panel["type"] in QUERY_PANEL_TYPES, f"{where}: panel type {panel['type']} not checked here"
            assert panel.get("datasource") == DATASOURCE, f"{where}: datasource"
            targets = panel.get("targets") or []
            assert targets, f"{where}: no targets"
            assert len({t.get("refId") for t in targets}) == len(targets), f"{where}: refIds"
            titles.append(panel["title"])
            for t in targets:
                assert t.get("refId"), f"{where}: target without refId"
                assert t.get("datasource") == DATASOURCE, f"{where}: target datasource"
                assert t.get("editorType") == "sql" and t.get("rawSql", "").strip(), f"{where}: not an SQL query"
                # the plugin migrates a query without pluginVersion >= 4 as a v3 query
                assert int(t.get("pluginVersion", "0").split(".")[0]) >= 4, f"{where}: pluginVersion"
                assert t.get("queryType") == QUERY_PANEL_TYPES[panel["type"]], f"{where}: queryType"
                assert t.get("format") == FORMATS[t["queryType"]], f"{where}: format"
    assert len(titles) == len(set(titles)), f"panel titles must be unique across dashboards: {sorted(titles)}"


def test_every_panel_has_an_expectation() -> None:
    keys = {key for key, *_ in all_targets()}
    assert not keys - set(EXPECTED), f"panels without an expectation in EXPECTED: {sorted(keys - set(EXPECTED))}"
    assert not set(EXPECTED) - keys, f"expectations for panels that no longer exist: {sorted(set(EXPECTED) - keys)}"
    for key, expectation in EXPECTED.items():
        assert set(expectation) == set(SELECTIONS), f"{key}: one expectation per selection {sorted(SELECTIONS)}"
    assert set(EXPECTED_VARIABLES) == set(VARIABLES)


def test_every_panel_shows_the_expected_numbers(fresh_settings) -> None:
    client = clickhouse_client(fresh_settings)
    for table in ("verdicts", "messages", "alerts", "dead_letters"):
        client.command(f"SYSTEM STOP MERGES {table}")  # keep revisions and duplicates as separate rows
    boards, targets = load_dashboards(), all_targets()
    failures: list[str] = []

    def run(sql: str, where: str) -> tuple[list[str], list[tuple]] | None:
        try:
            result = client.query(sql)
        except Exception as exc:  # noqa: BLE001 - report every broken query at once
            failures.append(f"{where}: the query fails: {str(exc).splitlines()[0]}\n{sql}")
            return None
        return list(result.column_names), [tuple(row) for row in result.result_rows]

    def expanders(board: dict) -> dict[str, Expander]:
        definitions = {v["name"]: v for v in board["templating"]["list"]}
        out: dict[str, Expander] = {}
        for selection_name, selection in SELECTIONS.items():
            def options(name: str, _selection_name: str = selection_name) -> list[str]:
                got = run(out[_selection_name](definitions[name]["query"]), f"variable {name}")
                return [str(row[0]) for row in got[1]] if got else []
            out[selection_name] = Expander(TIME_FROM, TIME_TO, INTERVAL_S, selection, definitions, options)
        return out

    def check_all(seeded: bool) -> None:
        state = "seeded" if seeded else "empty tables"
        expand_for = {board["uid"]: expanders(board) for board in boards.values()}
        for board in boards.values():
            expand = expand_for[board["uid"]]
            for selection_name in SELECTIONS if seeded else ["all"]:
                for v in board["templating"]["list"]:
                    got = run(expand[selection_name](v["query"]), f"{board['uid']} variable {v['name']} ({state})")
                    if got and seeded and v["name"] in EXPECTED_VARIABLES:
                        for diff in row_differences(got[1], EXPECTED_VARIABLES[v["name"]][selection_name]):
                            failures.append(f"variable {v['name']} ({selection_name}): {diff}")
        for key, board, panel, target in targets:
            for selection_name in SELECTIONS if seeded else ["all"]:
                where = f"{board['uid']} / {key} ({selection_name}, {state})"
                got = run(expand_for[board["uid"]][selection_name](target["rawSql"]), where)
                if got is None:
                    continue
                columns, rows = got
                if has_nan(rows):
                    failures.append(f"{where}: NaN in {rows}")
                if target["queryType"] == "timeseries":  # the plugin needs a time column, ascending
                    times = [row[0] for row in rows]
                    if rows and (columns[0] != "time" or not all(isinstance(t, datetime) for t in times)
                                 or times != sorted(times)):
                        failures.append(f"{where}: the first column must be 'time', ascending; got {columns} {rows}")
                if not seeded:  # an empty result: no rows, or one row of zeros and NULLs
                    if len(rows) > 1 or any(v not in (0, None) for row in rows for v in row):
                        failures.append(f"{where}: on empty tables got {rows}")
                    continue
                expected = EXPECTED.get(key, {}).get(selection_name)
                if expected is None:
                    failures.append(f"{where}: no expectation in EXPECTED")
                    continue
                if expected == SAME:
                    expected = EXPECTED[key]["all"]
                failures.extend(f"{where}: {diff}\n  columns {columns}" for diff in row_differences(rows, expected))

    check_all(seeded=False)
    seed(client)
    # the seed holds what the dashboards must see through: the judge revisions and the re-inserted
    # rows are stored as separate rows (the retried block of verdicts was dropped, as a sink's is)
    stored = {t: client.query(f"SELECT count() FROM {t}").result_rows[0][0]
              for t in ("verdicts", "messages", "alerts", "dead_letters")}
    assert stored == {"verdicts": len(SCREEN) + len(JUDGE), "messages": len(SCREEN) + 1,
                      "alerts": len(ALERTS) + 1, "dead_letters": len(DEAD_LETTERS) + 1}, stored
    check_all(seeded=True)
    if failures:
        pytest.fail(f"{len(failures)} dashboard queries are wrong:\n" + "\n".join(failures), pytrace=False)


@pytest.mark.parametrize(("sql", "selection", "expanded"), [
    ("WHERE $__timeFilter(event_time)", {},
     f"WHERE event_time >= toDateTime({int(TIME_FROM.timestamp())}) "
     f"AND event_time <= toDateTime({int(TIME_TO.timestamp())})"),
    ("SELECT $__timeInterval(t) AS time, $__interval_s", {},
     f"SELECT toStartOfInterval(toDateTime(t), INTERVAL {INTERVAL_S} second) AS time, {INTERVAL_S}"),
    ("$__fromTime, $__toTime_ms", {},
     f"toDateTime({int(TIME_FROM.timestamp())}), fromUnixTimestamp64Milli({int(TIME_TO.timestamp() * 1000)})"),
    ("tenant IN (${tenant:singlequote})", {"tenant": ["a", "o'b"]}, "tenant IN ('a','o\\'b')"),
    ("tenant IN (${tenant:singlequote})", {"tenant": [ALL]}, "tenant IN ('__all')"),
    ("tenant IN ($tenant) AND m = ${model}", {"tenant": ["a", "b"], "model": ["x"]}, "tenant IN ('a','b') AND m = x"),
    ("m IN (${model:singlequote})", {"model": [ALL]}, "m IN ('x','y')"),  # All without a custom value
    ("$__conditionalAll(m IN ($model), $model)", {"model": [ALL]}, "1=1"),
    ("$__conditionalAll(m IN ($model), $model)", {"model": ["x"]}, "m IN (x)"),
])
def test_expander_follows_grafana_and_the_plugin(sql: str, selection: dict, expanded: str) -> None:
    definitions = {"tenant": {"allValue": "'__all'", "multi": True}, "model": {}}
    expand = Expander(TIME_FROM, TIME_TO, INTERVAL_S, selection, definitions, lambda name: ["x", "y"])
    assert expand(sql) == expanded
