"""The checkpoint protocol's order, with stand-ins for the Kafka clients (their behaviour is the
integration tests' business): sinks are flushed before anything is committed; a sink that
refuses leaves the offsets uncommitted and the staged state dropped; under exactly-once the
offsets go into the transaction and the state's changelog with them."""

from __future__ import annotations

import asyncio

import pytest

from raiwatch.streams.runtime.checkpoint import Checkpoint
from raiwatch.streams.runtime.sink import Sink, SinkBackpressure, SinkRow
from raiwatch.streams.runtime.state_store import ChangelogStore


class Calls(list):
    pass


class FakeProducer:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def begin_transaction(self) -> None:
        self.calls.append("begin")

    async def send(self, topic, value, key=None, partition=None, headers=None):
        self.calls.append(f"send {topic}")
        return asyncio.sleep(0)

    async def send_offsets_to_transaction(self, offsets, group_id) -> None:
        self.calls.append("offsets in transaction")

    async def commit_transaction(self) -> None:
        self.calls.append("commit transaction")

    async def abort_transaction(self) -> None:
        self.calls.append("abort transaction")


class FakeConsumer:
    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    async def commit(self, offsets) -> None:
        self.calls.append("commit offsets")


class RecordingSink(Sink):
    name, topic = "table", "in"

    def __init__(self, calls: Calls, refuse: bool = False) -> None:
        self.calls, self.refuse = calls, refuse

    async def write(self, rows) -> None:
        if self.refuse:
            raise SinkBackpressure("down", retry_after=1.0)
        self.calls.append(f"write {len(rows)} rows")


def checkpoint(calls: Calls, exactly_once: bool, store: ChangelogStore | None = None) -> Checkpoint:
    return Checkpoint(FakeProducer(calls), FakeConsumer(calls), "group", exactly_once, store)


def test_at_least_once_writes_sinks_and_delivers_outputs_before_committing() -> None:
    calls = Calls()
    cp = checkpoint(calls, exactly_once=False)

    async def go() -> None:
        await cp.begin()
        await cp.send("dlq", b"x")
        cp.write(RecordingSink(calls), [SinkRow(0, 5, ["a"]), SinkRow(0, 6, ["b"])])
        await cp.commit({"tp": 7}, {})

    asyncio.run(go())
    assert calls == ["send dlq", "write 2 rows", "commit offsets"]


def test_a_refusing_sink_commits_nothing() -> None:
    calls = Calls()
    store = ChangelogStore(lambda **_: None, "changelog")
    cp = checkpoint(calls, exactly_once=True, store=store)

    async def go() -> None:
        await cp.begin()
        store.put(0, "k", {"v": 1})
        cp.write(RecordingSink(calls, refuse=True), [SinkRow(0, 5, ["a"])])
        with pytest.raises(SinkBackpressure):
            await cp.commit({"tp": 6}, {0: {"in": 6}})
        await cp.abort()

    asyncio.run(go())
    assert calls == ["begin", "abort transaction"]
    store.commit()
    assert store.get(0, "k") is None  # the staged state went with the aborted checkpoint


def test_exactly_once_puts_state_positions_and_offsets_in_the_transaction() -> None:
    calls = Calls()
    store = ChangelogStore(lambda **_: None, "changelog")
    cp = checkpoint(calls, exactly_once=True, store=store)

    async def go() -> None:
        await cp.begin()
        await cp.send("verdicts", b"v")
        store.put(0, "k", {"v": 1})
        await cp.commit({"tp": 6}, {0: {"in": 6}})

    asyncio.run(go())
    assert calls == ["begin", "send verdicts", "send changelog", "send changelog", "offsets in transaction",
                     "commit transaction"]
    assert store.get(0, "k") == {"v": 1}
