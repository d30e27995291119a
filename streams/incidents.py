"""The incident feed's stage: rai.incidents (social posts, news, red-team reports) classified
to pillar and category, near-duplicates merged, stored in ClickHouse; a report with an example
prompt becomes a rai.redteam record (personal data masked); a burst in a category raises its
risk level (stored, published as a `risk` alert) and asks for re-evaluation (`triggers.py`).

An exactly-once loop (`runtime/loop.py`) with its state in a changelog store, so a crash or a
restart neither loses nor repeats a merge, a red-team record or a risk level:
- `dup|<category>`: the category's recent originals (id, time, word-3-gram shingles), at most
  `incidents.recent_per_category`, for the near-duplicate test (Jaccard >=
  `incidents.duplicate_threshold`, chosen on generated data: `ops/bench/incident_dedup.py`);
- `redteam|<pillar>`: how many red-team examples the pillar got; every
  `incidents.redteam_batch` of them ask for a re-evaluation (`triggers.py`);
- `burst|<category>`: the times of the category's reports within the baseline window and its
  risk level. A burst is at least `incidents.burst_min` reports in `incidents.burst_window_s`
  and `incidents.burst_factor` times the category's mean rate over the baseline window before
  it. Reposts count: a report going viral is a burst of attention too.
Event time (the incident's `ts`) drives the windows, so a replayed stream finds the same bursts.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from ..models.rules import mask_sensitive
from ..models.text_similarity import jaccard, normalise_text, shingles
from ..schemas.alerts import AlertV1
from ..schemas.common import Pillar, Severity
from ..schemas.dead_letters import DeadLetterReason
from ..schemas.decoder import describe_validation_error
from ..schemas.policies import IncidentV1
from ..schemas.redteam import RedteamExampleV1
from .clickhouse_sink import ClickHouseTable
from .incident_classify import classify_incident
from .runtime.checkpoint import Checkpoint
from .runtime.context import StageContext
from .runtime.dead_letters import dead_letter_for, send_dead_letter
from .policy_proposals import FEED_FETCH_WAIT_MS
from .runtime.loop import Handler, LoopSpec, StageLoop
from .risk_levels import risk_record, risk_topic
from .runtime.sink import SinkRow
from .triggers import TRIGGER_COLUMNS, TriggerSender, redteam_triggers, risk_triggers

log = logging.getLogger(__name__)

INCIDENT_COLUMNS = ["incident_id", "event_time", "source", "url", "text", "example_prompt_redacted", "model",
                    "pillar", "category", "duplicate_of", "similarity"]
RISK_COLUMNS = ["category", "event_time", "level", "pillar", "window_count", "baseline_per_window", "detail"]


def incidents_changelog(settings: Any) -> str:
    """The stage's changelog topic (created with the pipeline's internal topics, `topics.py`)."""
    return f"{settings.kafka.topic_prefix}{settings.stages.app_id}-incidents-changelog"


class IncidentHandler(Handler):
    def __init__(self, ctx: StageContext) -> None:
        settings = ctx.settings
        self.ctx, self.settings, self.config = ctx, settings, settings.incidents
        topic = settings.topic("rai.incidents")
        self.store = ctx.changelog_store(incidents_changelog(settings))
        self.incidents = ClickHouseTable(settings, "incidents", INCIDENT_COLUMNS, topic)
        self.risk_levels = ClickHouseTable(settings, "risk_levels", RISK_COLUMNS, topic)
        self.triggers = TriggerSender(settings, ClickHouseTable(settings, "triggers", TRIGGER_COLUMNS, topic))
        self.sinks = (self.incidents, self.risk_levels, self.triggers.log_table)
        self.redteam, self.alerts, self.dlq = (settings.topic("rai.redteam"), settings.topic("rai.alerts"),
                                               settings.topic("rai.dlq"))

    async def process(self, records: list[Any], checkpoint: Checkpoint) -> None:
        for record in records:
            try:
                incident = IncidentV1.model_validate_json(record.value or b"")
            except ValidationError as exc:
                await send_dead_letter(checkpoint, self.dlq, dead_letter_for(
                    record, DeadLetterReason.SCHEMA_VIOLATION, describe_validation_error(exc), "incidents"))
                continue
            await self._incident(record.partition, record.offset, incident, checkpoint)

    async def _incident(self, partition: int, offset: int, incident: IncidentV1, checkpoint: Checkpoint) -> None:
        pillar, category = classify_incident(incident.text, incident.example_prompt)
        at_ms = int(incident.ts.timestamp() * 1000)
        duplicate_of, similarity = self._merge(partition, category, incident, at_ms)
        prompt = _masked(incident.example_prompt)
        checkpoint.write(self.incidents, [SinkRow(partition, offset, [
            incident.event_id, incident.ts, incident.source, incident.url, mask_sensitive(incident.text), prompt,
            incident.model, pillar.value, category, duplicate_of, similarity])])
        if prompt and not duplicate_of:
            example = RedteamExampleV1(
                event_id=f"incident:{incident.event_id}", example_id=hashlib.sha256(normalise_text(prompt).encode()).hexdigest()[:24],
                source="incident", prompt_redacted=prompt, pillar=pillar, category=category)
            await checkpoint.send(self.redteam, example.model_dump_json().encode(), key=example.example_id.encode())
            await self._redteam_batch(partition, offset, pillar, checkpoint)
        await self._burst(partition, offset, pillar, category, at_ms, checkpoint)

    async def _redteam_batch(self, partition: int, offset: int, pillar: Pillar, checkpoint: Checkpoint) -> None:
        """Every `incidents.redteam_batch` new examples of a pillar ask for a re-evaluation."""
        key = f"redteam|{pillar.value}"
        count = (self.store.get(partition, key) or 0) + 1
        self.store.put(partition, key, count)
        if count % self.config.redteam_batch == 0:
            batch = count // self.config.redteam_batch
            await self.triggers.send(redteam_triggers(pillar, batch, self.triggers.recent_models()),
                                     f"redteam:{pillar.value}@", partition, offset, checkpoint)

    def _merge(self, partition: int, category: str, incident: IncidentV1, at_ms: int) -> tuple[str, float]:
        """(id of the original this reposts, similarity), ("", best) for a new original."""
        key = f"dup|{category}"
        recent = self.store.get(partition, key) or []
        grams = incident_shingles(incident)
        best_id, best = closest_original(grams, recent)
        if best >= self.config.duplicate_threshold:
            return best_id, round(best, 4)
        recent = [*recent, [incident.event_id, at_ms, sorted(grams)]][-self.config.recent_per_category:]
        self.store.put(partition, key, recent)
        return "", round(best, 4)

    async def _burst(self, partition: int, offset: int, pillar: Pillar, category: str, at_ms: int,
                     checkpoint: Checkpoint) -> None:
        config, key = self.config, f"burst|{category}"
        state = self.store.get(partition, key) or {"times": [], "level": "normal", "raised_ms": 0}
        window_ms, baseline_ms = config.burst_window_s * 1000, config.baseline_window_s * 1000
        times = sorted([t for t in state["times"] if t > at_ms - window_ms - baseline_ms] + [at_ms])
        in_window = sum(1 for t in times if t > at_ms - window_ms)
        before = len(times) - in_window
        expected = before * window_ms / baseline_ms  # the baseline's mean count per window
        threshold = max(config.burst_min, config.burst_factor * expected)
        level = state["level"]
        if level == "normal" and in_window >= threshold:
            level, raised_ms = "elevated", at_ms
            detail = f"{in_window} reports in {config.burst_window_s:g} s; baseline {expected:.2f} per window"
            await self._raise(partition, offset, pillar, category, at_ms, in_window, expected, detail, checkpoint)
            state["raised_ms"] = raised_ms
        elif level == "elevated" and in_window < threshold / 2 and at_ms - state["raised_ms"] >= baseline_ms / 4:
            level = "normal"
            await checkpoint.send(risk_topic(self.settings), risk_record(category, pillar, "normal", at_ms),
                                  key=category.encode())
            checkpoint.write(self.risk_levels, [SinkRow(partition, offset, [
                category, datetime.fromtimestamp(at_ms / 1000, UTC), "normal", pillar.value, in_window, expected,
                "back to its baseline"])])
        self.store.put(partition, key, {**state, "times": times, "level": level})

    async def _raise(self, partition: int, offset: int, pillar: Pillar, category: str, at_ms: int, in_window: int,
                     expected: float, detail: str, checkpoint: Checkpoint) -> None:
        at = datetime.fromtimestamp(at_ms / 1000, UTC)
        log.warning("risk level of %s raised: %s", category, detail)
        checkpoint.write(self.risk_levels, [SinkRow(partition, offset, [
            category, at, "elevated", pillar.value, in_window, expected, detail])])
        dedup_key = f"risk|{category}"
        alert = AlertV1(event_id=f"risk:{category}:{at_ms}", alert_id=hashlib.sha256(f"{dedup_key}\0{at_ms}".encode()).hexdigest()[:32],
                        kind="risk", dedup_key=dedup_key, window_start=at, pillar=pillar, category=category,
                        severity=Severity.HIGH, summary=f"incident burst in {category}: {detail}",
                        details={"window_count": float(in_window), "baseline_per_window": round(expected, 3)})
        await checkpoint.send(self.alerts, alert.model_dump_json().encode(), key=dedup_key.encode())
        await checkpoint.send(risk_topic(self.settings), risk_record(category, pillar, "elevated", at_ms),
                              key=category.encode())
        await self.triggers.send(risk_triggers(category, pillar, at_ms, self.triggers.recent_models()),
                                 f"risk:{category}@", partition, offset, checkpoint)


def incident_shingles(incident: IncidentV1) -> frozenset[int]:
    return shingles(f"{incident.text} {incident.example_prompt}")


def closest_original(grams: frozenset[int], recent: list) -> tuple[str, float]:
    """(id, Jaccard) of the most similar of `recent` ([id, time, shingles] each), ("", 0) if none."""
    best_id, best = "", 0.0
    for incident_id, _, other in recent:
        score = jaccard(grams, set(other))
        if score > best:
            best_id, best = incident_id, score
    return best_id, best


def _masked(prompt: str) -> str:
    """Personal data and secrets masked by the storage masker (names are not: no NER here)."""
    return mask_sensitive(prompt) if prompt else ""


def incidents_loop(ctx: StageContext) -> StageLoop:
    """The incident feed's loop (exactly-once)."""
    settings = ctx.settings
    topic = settings.topic("rai.incidents")
    spec = LoopSpec(name="incidents", topics=(topic,), group_id=ctx.group_id("incidents"), max_records=500,
                    window_s=0.5, dlq_topic=ctx.topics.dlq, transaction_timeout_s=settings.stages.transaction_timeout_s,
                    fetch_max_wait_ms=FEED_FETCH_WAIT_MS)
    return StageLoop(settings, spec, IncidentHandler(ctx), on_stall=ctx.on_stall, telemetry=ctx.telemetry)
