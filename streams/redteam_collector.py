"""Red-team collection: every violation in traffic becomes a candidate model-breaking example.

Every `regression.interval_s` (a part of the feeds, like the regression watch) the collector
reads the violations stored since its cursor (`verdicts FINAL`: a violation the judge cleared
is not collected, once the revision is in; verdicts younger than `regression.lateness_s` wait a
round for it) with their redacted texts (`messages`: personal data already masked, and masked
again by the storage masker), normalises each prompt (case and whitespace folded), drops exact
repeats (the example id is a hash of the normalised prompt) and merges near-duplicates (word
3-gram Jaccard at or above `NEAR_DUPLICATE` with an example of the same category), and
publishes each new example to rai.redteam (compacted, keyed by example id). The deferred sink
stores them in the `redteam` table, which the `redteam_collected` suite reads
(`trainers/redteam_suite.py`): the data set's version is its size and a hash of its ids.

The cursor is stored beside the regression watch's state (`regression_state`, watch
`redteam`); a collector killed between publishing and storing it publishes the same examples
again with the same ids, which the compacted topic and the table keep once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta

from ..models.rules import mask_sensitive
from ..models.text_similarity import jaccard, normalise_text, shingles
from ..schemas.common import ModelRef, Pillar
from ..schemas.redteam import RedteamExampleV1
from .periodic_part import PeriodicPart
from .runtime.context import StageContext

log = logging.getLogger(__name__)

WATCH_ID = "redteam"
NEAR_DUPLICATE = 0.8
RECENT_PER_CATEGORY = 500
BATCH = 20000
MESSAGE_WAIT = timedelta(minutes=10)  # a violation whose texts are not stored after this is skipped
VIOLATIONS_SQL = (
    "SELECT v.verdict_id, v.written_at, v.model_name, v.model_version, v.model_adapter, v.pillars, v.categories, "
    "v.broken_policies, v.policies, m.prompt_redacted, m.output_redacted, m.request_id != '' AS has_message "
    "FROM (SELECT * FROM verdicts FINAL WHERE violation = 1 AND written_at > {after:DateTime64(3)} "
    "AND written_at <= {upto:DateTime64(3)}) AS v "
    "LEFT JOIN (SELECT request_id, any(prompt_redacted) AS prompt_redacted, any(output_redacted) AS output_redacted "
    "FROM messages WHERE request_id IN (SELECT request_id FROM verdicts WHERE violation = 1 "
    "AND written_at > {after:DateTime64(3)}) GROUP BY request_id) AS m ON m.request_id = v.request_id "
    "ORDER BY v.written_at LIMIT {limit:UInt32}"
)


def example_id(prompt: str) -> str:
    return hashlib.sha256(normalise_text(prompt).encode()).hexdigest()[:24]


class RedteamIndex:
    """The examples collected so far, per category, for exact and near-duplicate merging."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.recent: dict[str, list[frozenset[int]]] = {}

    def add(self, example: str, category: str, prompt: str) -> None:
        self.ids.add(example)
        grams = self.recent.setdefault(category, [])
        grams.append(shingles(prompt))
        del grams[:-RECENT_PER_CATEGORY]

    def is_new(self, example: str, category: str, prompt: str) -> bool:
        if example in self.ids:
            return False
        grams = shingles(prompt)
        return all(jaccard(grams, other) < NEAR_DUPLICATE for other in self.recent.get(category, ()))


def examples_from_rows(rows: list[tuple], index: RedteamIndex) -> list[RedteamExampleV1]:
    """New examples from violation rows (`VIOLATIONS_SQL`); updates `index`."""
    out = []
    for (verdict, _, model, version, adapter, pillars, categories, broken, policies, prompt, output, *_) in rows:
        prompt = mask_sensitive(prompt or "")
        if not prompt.strip():
            continue
        pillar = pillars[0] if pillars else "safety"
        category = categories[0] if categories else ""
        ident = example_id(prompt)
        if not index.is_new(ident, category, prompt):
            continue
        index.add(ident, category, prompt)
        policy_id = broken[0] if broken else ""
        versions = dict(ref.rsplit("@", 1) for ref in policies if "@" in ref)
        out.append(RedteamExampleV1(
            event_id=f"verdict:{verdict}", ts=datetime.now(UTC), example_id=ident, source="verdict",
            prompt_redacted=prompt, output_redacted=mask_sensitive(output or ""),
            model=ModelRef(name=model, version=version, adapter=adapter),
            pillar=Pillar(pillar) if pillar in Pillar._value2member_map_ else Pillar.SAFETY, category=category,
            policy_id=policy_id, policy_version=int(versions.get(policy_id, 0) or 0)))
    return out


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def ready_rows(rows: list[tuple], upto: datetime, full: bool) -> tuple[list[tuple], datetime]:
    """The rows to collect now and the cursor after them: up to the first violation whose texts
    the deferred sink has not stored yet (read again next round), unless it has waited
    `MESSAGE_WAIT` (then it is skipped). Rows share `written_at` (one per insert), so a cursor
    that stops inside a timestamp stops just before it: the rows read twice are known to the
    index and not published again."""
    ready = []
    for row in rows:
        if not row[-1]:  # no message yet
            if _utc(row[1]) > upto - MESSAGE_WAIT:
                return ready, _utc(row[1]) - timedelta(milliseconds=1)
            continue
        ready.append(row)
    if full:  # more rows than one query reads: go on from the last timestamp (unless it is all of them)
        first, last = _utc(rows[0][1]), _utc(rows[-1][1])
        return ready, last if first == last else last - timedelta(milliseconds=1)
    return ready, upto


class RedteamCollector(PeriodicPart):
    """A supervised part of the feeds (see the module docstring)."""

    def __init__(self, ctx: StageContext) -> None:
        super().__init__(ctx.settings, ctx.settings.regression.interval_s)
        self.ctx = ctx
        self.index = RedteamIndex()
        self.cursor: datetime | None = None
        self.collected = 0

    def load(self) -> None:
        state = self.load_state(WATCH_ID)
        if state:
            self.cursor = datetime.fromisoformat(state["cursor"])
        for ident, category, prompt in self.query(
                "SELECT example_id, category, prompt_redacted FROM redteam FINAL ORDER BY written_at DESC "
                "LIMIT {n:UInt32}", {"n": RECENT_PER_CATEGORY * 20}):
            self.index.add(ident, category, prompt)

    async def round(self) -> list[RedteamExampleV1]:
        upto = datetime.now(UTC) - timedelta(seconds=self.settings.regression.lateness_s)
        after = self.cursor or (upto - timedelta(hours=1))
        if upto <= after:
            return []
        rows = await asyncio.to_thread(self.query, VIOLATIONS_SQL, {"after": after, "upto": upto, "limit": BATCH})
        rows, cursor = ready_rows(rows, upto, len(rows) == BATCH)
        examples = examples_from_rows(rows, self.index)
        topic = self.settings.topic("rai.redteam")
        for example in examples:
            await self.publish(topic, example.model_dump_json().encode(), example.example_id.encode())
        self.cursor = max(cursor, after)
        await asyncio.to_thread(self.save_state, WATCH_ID, self.cursor, {"cursor": self.cursor.isoformat()})
        self.collected += len(examples)
        return examples
