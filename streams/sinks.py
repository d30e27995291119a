"""Sinks that land topics in ClickHouse: verdicts (+ redacted messages), dead letters, alerts.

They run as one plain aiokafka consumer loop (its own consumer group) inside the worker, not as
Faust agents: fetch a batch, insert it (retrying while ClickHouse is down), and only then commit
its offsets; up to `IN_FLIGHT` batches insert at once, committed strictly in order. Faust
0.15.3's offset bookkeeping lost sink batches across rebalances in our kill -9 test; this
loop's commit rule is simple enough to be obviously right. It reads read_committed: only what
the stages' transactions committed (`txloop`). While inserts are retried nothing more is
fetched, so memory stays bounded and the sink's partitions wait in Kafka."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from ..schemas.decoder import DecodeFailure, decode
from ..schemas.registry import topic_spec
from .app import Pipeline, run_loop_task
from .clickhouse_sink import (
    ALERT_COLUMNS, DEAD_LETTER_COLUMNS, MESSAGE_COLUMNS, VERDICT_COLUMNS, ClickHouseSink, alert_row,
    dead_letter_row, message_row, verdict_row,
)
from .dlq import dead_letter_bytes, dead_letter_for
from .txloop import FETCH_MAX_WAIT_MS, fetch_window

log = logging.getLogger(__name__)

IN_FLIGHT = 2  # fetched batches being inserted at once



def attach(pipeline: Pipeline) -> None:
    settings, topics = pipeline.settings, pipeline.topics
    # One client per table and in-flight slot: a batch's inserts run concurrently, and so do two
    # consecutive batches (each insert takes tens of ms on this machine; waiting for them one
    # after another was most of the end-to-end latency).
    slots = [{table: ClickHouseSink(settings) for table in ("verdicts", "messages", "dead_letters", "alerts")}
             for _ in range(IN_FLIGHT)]
    columns = {"verdicts": VERDICT_COLUMNS, "messages": MESSAGE_COLUMNS, "dead_letters": DEAD_LETTER_COLUMNS,
               "alerts": ALERT_COLUMNS}
    tables_of: dict[str, list[tuple[str, Callable[[Any], list[Any]]]]] = {
        "rai.verdicts": [("verdicts", verdict_row), ("messages", message_row)],
        "rai.dlq": [("dead_letters", dead_letter_row)],
        "rai.alerts": [("alerts", alert_row)],
    }
    physical = {settings.topic(name): name for name in tables_of}

    async def handle(records: list[Any], producer: Any, sinks: dict[str, ClickHouseSink]) -> None:
        """Decode and insert one fetched batch; undecodable records go to the DLQ (or, for the
        DLQ topic itself, straight into dead_letters, so nothing loops)."""
        rows: dict[str, list[list[Any]]] = {table: [] for table in sinks}
        deliveries = []
        for record in records:
            name = physical[record.topic]
            value = decode(record.value or b"", topic_spec(name), settings.max_message_bytes)
            if isinstance(value, DecodeFailure):
                if name == "rai.dlq":
                    rows["dead_letters"].append(
                        dead_letter_row(dead_letter_for(record, value.reason, value.detail, "sink:rai.dlq")))
                else:
                    deliveries.append(await producer.send(topics["dlq"], dead_letter_bytes(
                        record, value.reason, value.detail, f"sink:{name}")))
                continue
            for table, to_row in tables_of[name]:
                rows[table].append(to_row(value))
        # Verdicts first, alone: they are what dashboards and alerts wait for, and an insert
        # running beside another one on this server takes up to twice as long. The other tables
        # (redacted texts, dead letters, alerts) follow together.
        await sinks["verdicts"].write("verdicts", rows["verdicts"], columns["verdicts"])
        await asyncio.gather(*(sinks[table].write(table, table_rows, columns[table])
                               for table, table_rows in rows.items() if table_rows and table != "verdicts"))
        await asyncio.gather(*deliveries)

    class SinkLoop:
        async def run(self) -> None:
            from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
            from aiokafka.errors import CommitFailedError, KafkaError

            producer = AIOKafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
            consumer = AIOKafkaConsumer(
                *physical, bootstrap_servers=settings.bootstrap_servers, group_id=pipeline.group_id("clickhouse-sink"),
                enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=settings.sink_batch_size,
                isolation_level="read_committed",  # only what the stages' transactions committed
                fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            )
            await producer.start()
            await consumer.start()
            in_flight: deque[tuple[asyncio.Task, dict[Any, int]]] = deque()  # oldest first
            batch_number = 0

            async def commit_finished(wait: bool) -> None:
                """Commit the offsets of finished inserts, oldest first (waiting for the oldest
                when `wait`); a later batch is committed only after every earlier one."""
                while in_flight and (wait or in_flight[0][0].done()):
                    task, offsets = in_flight.popleft()
                    await task
                    wait = False
                    try:
                        await consumer.commit(offsets)
                    except (CommitFailedError, KafkaError) as exc:  # a rebalance: the batch is read again
                        log.warning("sink commit failed (%s); the batch will be re-read and deduplicated", exc)

            try:
                last_insert = 0.0
                while True:
                    await commit_finished(wait=len(in_flight) >= IN_FLIGHT)  # bounded memory
                    try:
                        batches = await fetch_window(consumer, last_insert + settings.sink_batch_window_s,
                                                     settings.sink_batch_window_s, settings.sink_batch_size)
                    except KafkaError as exc:  # broker restarting: nothing fetched, nothing lost
                        log.warning("sink fetch failed (%s); retrying", exc)
                        await asyncio.sleep(1.0)
                        continue
                    records = [r for partition_records in batches.values() for r in partition_records]
                    if not records:
                        await commit_finished(wait=False)
                        continue
                    last_insert = time.monotonic()
                    # The slot of the batch IN_FLIGHT before this one, which has been awaited.
                    task = asyncio.create_task(handle(records, producer, slots[batch_number % IN_FLIGHT]))
                    batch_number += 1
                    in_flight.append((task, {tp: rs[-1].offset + 1 for tp, rs in batches.items()}))
            finally:
                for task, _ in in_flight:
                    task.cancel()
                for client in (consumer, producer):
                    await client.stop()

    run_loop_task(pipeline, "clickhouse_sinks", SinkLoop)
