"""Sinks that land topics in ClickHouse: verdicts (+ redacted messages), dead letters, alerts.

They run as one plain aiokafka consumer loop (its own consumer group) inside the worker, not as
Faust agents: fetch a batch, insert it (retrying while ClickHouse is down), and only then commit
its offsets; several batches insert at once, committed strictly in order. Faust 0.15.3's offset
bookkeeping lost sink batches across rebalances in our kill -9 test; this loop's commit rule is
simple enough to be obviously right. It reads read_committed: only what the stages'
transactions committed (`txloop`). Verdicts are inserted per fetched batch (at most one insert
per `sink_batch_window_s`); the redacted texts, dead letters and alerts of several batches share
one insert per `sink_deferred_window_s` (`insert_buffer`), and a batch is committed once both
hold its rows. While inserts are retried nothing more is fetched (at most `BATCHES_IN_FLIGHT`
full batches of records wait), so memory stays bounded and the partitions wait in Kafka."""

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
from .insert_buffer import BufferedTable
from .txloop import FETCH_MAX_WAIT_MS, fetch_window

log = logging.getLogger(__name__)

VERDICT_INSERTS_AT_ONCE = 2  # a slow insert must not hold back the next batch's verdicts
BATCHES_IN_FLIGHT = 4  # fetched records waiting for inserts: at most this many sink_batch_size


def attach(pipeline: Pipeline) -> None:
    import clickhouse_connect.driver  # noqa: F401 - loaded now, before the worker freezes its start-up objects

    settings, topics = pipeline.settings, pipeline.topics
    tables_of: dict[str, list[tuple[str, Callable[[Any], list[Any]]]]] = {
        "rai.verdicts": [("verdicts", verdict_row), ("messages", message_row)],
        "rai.dlq": [("dead_letters", dead_letter_row)],
        "rai.alerts": [("alerts", alert_row)],
    }
    physical = {settings.topic(name): name for name in tables_of}

    class SinkLoop:
        def __init__(self) -> None:
            # One ClickHouse client per concurrent insert (a client is not safe to share).
            self.verdict_clients: asyncio.Queue[ClickHouseSink] = asyncio.Queue()
            for _ in range(VERDICT_INSERTS_AT_ONCE):
                self.verdict_clients.put_nowait(ClickHouseSink(settings))
            self.buffered = {
                table: BufferedTable(table, columns, ClickHouseSink(settings), settings.sink_deferred_window_s,
                                     settings.sink_batch_size)
                for table, columns in (("messages", MESSAGE_COLUMNS), ("dead_letters", DEAD_LETTER_COLUMNS),
                                       ("alerts", ALERT_COLUMNS))
            }

        async def insert_verdicts(self, client: ClickHouseSink, rows: list[list[Any]]) -> None:
            try:
                if rows:
                    await client.write("verdicts", rows, VERDICT_COLUMNS)
            finally:
                self.verdict_clients.put_nowait(client)

        async def rows_of(self, records: list[Any], producer: Any) -> tuple[dict[str, list[list[Any]]], list[Any]]:
            """The rows per table of a fetched batch; undecodable records go to the DLQ (or, for
            the DLQ topic itself, straight into dead_letters, so nothing loops)."""
            rows: dict[str, list[list[Any]]] = {"verdicts": [], **{table: [] for table in self.buffered}}
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
            return rows, deliveries

        async def handle(self, records: list[Any], producer: Any, client: ClickHouseSink) -> None:
            """Insert one fetched batch, its verdicts with `client` (then given back); returns once
            every row of the batch is in ClickHouse."""
            try:
                rows, deliveries = await self.rows_of(records, producer)
            except BaseException:
                self.verdict_clients.put_nowait(client)
                raise
            await asyncio.gather(
                self.insert_verdicts(client, rows["verdicts"]),
                *(self.buffered[table].add(table_rows) for table, table_rows in rows.items() if table != "verdicts"),
                *deliveries,
            )

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
            in_flight: deque[tuple[asyncio.Task, dict[Any, int], int]] = deque()  # oldest first

            async def commit_finished(wait: bool) -> None:
                """Commit the offsets of finished inserts, oldest first (waiting for the oldest
                when `wait`); a later batch is committed only after every earlier one."""
                while in_flight and (wait or in_flight[0][0].done()):
                    task, offsets, _ = in_flight.popleft()
                    await task
                    wait = False
                    try:
                        await consumer.commit(offsets)
                    except (CommitFailedError, KafkaError) as exc:  # a rebalance: the batch is read again
                        log.warning("sink commit failed (%s); the batch will be re-read and deduplicated", exc)

            try:
                last_insert = 0.0
                while True:
                    records_in_flight = sum(count for _, _, count in in_flight)
                    await commit_finished(wait=records_in_flight >= BATCHES_IN_FLIGHT * settings.sink_batch_size)
                    # Fetch only once a verdicts insert can start: while inserts are slower than
                    # the window, records wait in Kafka and the next batch grows, instead of
                    # batches queueing here (measured: seconds of latency when they queued).
                    client = await self.verdict_clients.get()
                    records: list[Any] = []
                    try:
                        batches = await fetch_window(consumer, last_insert + settings.sink_batch_window_s,
                                                     settings.sink_batch_window_s, settings.sink_batch_size)
                        records = [r for partition_records in batches.values() for r in partition_records]
                    except KafkaError as exc:  # broker restarting: nothing fetched, nothing lost
                        log.warning("sink fetch failed (%s); retrying", exc)
                        await asyncio.sleep(1.0)
                    finally:
                        if not records:
                            self.verdict_clients.put_nowait(client)
                    if not records:
                        await commit_finished(wait=False)
                        continue
                    last_insert = time.monotonic()
                    task = asyncio.create_task(self.handle(records, producer, client))
                    in_flight.append((task, {tp: rs[-1].offset + 1 for tp, rs in batches.items()}, len(records)))
            finally:
                for task, _, _ in in_flight:
                    task.cancel()
                for table in self.buffered.values():
                    table.cancel()
                for client in (consumer, producer):
                    await client.stop()

    run_loop_task(pipeline, "clickhouse_sinks", SinkLoop)
