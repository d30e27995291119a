"""One job at a time from a request topic (rai.eval.requests, rai.train.requests): a consumer
in its own group fetches one record, the job runs to its stored outcome, and only then is the
record's offset committed. A worker killed mid-job gets the same request again on restart (the
jobs resume from what they wrote); a record that is not a request is logged and skipped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..ops.settings import RaiwatchSettings

log = logging.getLogger(__name__)
Request = TypeVar("Request", bound=BaseModel)


async def consume_jobs(settings: RaiwatchSettings, topic: str, worker: str, model: type[Request],
                       run: Callable[[RaiwatchSettings, Request], Any], stop: asyncio.Event,
                       max_jobs: int | None = None) -> int:
    """Run `run(settings, request)` (in a thread) for each request until `stop` is set or
    `max_jobs` are done; returns how many ran."""
    from ..ops import kafka_clients

    consumer = kafka_clients.consumer(settings, settings.topic(topic),
                                      group_id=f"{settings.kafka.topic_prefix}{settings.stages.app_id}-{worker}",
                                      enable_auto_commit=False, auto_offset_reset="earliest",
                                      isolation_level="read_committed", max_poll_records=1,
                                      max_poll_interval_ms=24 * 3600 * 1000)
    await consumer.start()
    done = 0
    try:
        while not stop.is_set() and (max_jobs is None or done < max_jobs):
            for tp, records in (await consumer.getmany(timeout_ms=1000, max_records=1)).items():
                for record in records:
                    try:
                        request = model.model_validate_json(record.value or b"")
                    except ValidationError as exc:
                        log.error("%s[%d]@%d is not a %s: %s", topic, tp.partition, record.offset, model.__name__, exc)
                    else:
                        await asyncio.to_thread(run, settings, request)
                        done += 1
                    await consumer.commit({tp: record.offset + 1})
    finally:
        await consumer.stop()
    return done
