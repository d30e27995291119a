"""`BufferedTable`'s grouping rule, against a recording stand-in for the ClickHouse sink (the
real inserts are exercised by the pipeline's integration tests, including a ClickHouse outage)."""

from __future__ import annotations

import asyncio
import time

from raiwatch.streams.insert_buffer import BufferedTable


class RecordingSink:
    """Records each insert's rows; `delay_s` stands for the server's insert time."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.inserts: list[list[int]] = []
        self.running = 0
        self.most_running = 0

    async def write(self, table: str, rows: list[int], columns: list[str]) -> None:
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        await asyncio.sleep(self.delay_s)
        self.inserts.append(list(rows))
        self.running -= 1


def buffered(sink: RecordingSink, window_s: float = 0.2, max_rows: int = 100) -> BufferedTable:
    return BufferedTable("messages", ["x"], sink, window_s, max_rows)  # type: ignore[arg-type]


async def test_rows_added_within_a_window_share_one_insert_and_wait_for_it() -> None:
    sink = RecordingSink()
    table = buffered(sink)
    started = time.monotonic()
    done_at: list[float] = []

    async def add(rows: list[int], after_s: float) -> None:
        await asyncio.sleep(after_s)
        await table.add(rows)
        done_at.append(time.monotonic() - started)

    await asyncio.gather(add([1, 2], 0.0), add([3], 0.05), add([4], 0.1))
    assert sink.inserts == [[1, 2, 3, 4]]
    assert all(0.19 <= t < 0.4 for t in done_at)  # each add returned after the one insert


async def test_a_full_buffer_is_inserted_before_its_window_ends() -> None:
    sink = RecordingSink()
    table = buffered(sink, window_s=5.0, max_rows=3)
    started = time.monotonic()
    await table.add([1, 2, 3])
    assert sink.inserts == [[1, 2, 3]]
    assert time.monotonic() - started < 1.0


async def test_rows_arriving_during_a_slow_insert_go_into_the_next_one_never_two_at_once() -> None:
    sink = RecordingSink(delay_s=0.3)
    table = buffered(sink, window_s=0.05)

    async def add(rows: list[int], after_s: float) -> None:
        await asyncio.sleep(after_s)
        await table.add(rows)

    await asyncio.gather(add([1], 0.0), add([2], 0.1), add([3], 0.2))
    assert sink.inserts == [[1], [2, 3]]
    assert sink.most_running == 1
    assert table.inserts == 2


async def test_nothing_to_add_inserts_nothing() -> None:
    sink = RecordingSink()
    await buffered(sink).add([])
    assert sink.inserts == []


async def test_cancel_stops_a_pending_insert_and_the_buffer_starts_afresh() -> None:
    sink = RecordingSink()
    table = buffered(sink, window_s=0.2)
    waiter = asyncio.create_task(table.add([1]))
    await asyncio.sleep(0.05)
    table.cancel()
    await asyncio.sleep(0.01)
    assert waiter.done() and waiter.cancelled()
    await table.add([2])
    assert sink.inserts == [[2]]
