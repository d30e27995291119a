"""The changelog store's transaction semantics (staging, commit, rollback, write order).
Restoring from Kafka is covered by the pipeline's kill -9 test on the real broker."""

from __future__ import annotations

import asyncio

import orjson

from raiwatch.streams.state_store import ChangelogStore


def store() -> ChangelogStore:
    return ChangelogStore("unused:9092", "changelog")


def test_staged_writes_reach_the_committed_state_on_commit() -> None:
    s = store()
    s.put(1, "a", {"v": 1})
    assert s.get(1, "a") == {"v": 1}
    assert list(s.committed_items(1)) == []
    s.commit()
    assert list(s.committed_items(1)) == [("a", {"v": 1})] and s.owned() == [1]


def test_rollback_drops_staged_writes_and_deletes() -> None:
    s = store()
    s.put(0, "a", {"v": 1})
    s.commit()
    s.put(0, "a", {"v": 2})
    s.delete(0, "a")
    assert s.get(0, "a") is None
    s.rollback()
    assert s.get(0, "a") == {"v": 1}


def test_rewrites_move_to_the_end_and_deletes_remove() -> None:
    s = store()
    for key in "abc":
        s.put(0, key, {"k": key})
    s.commit()
    s.put(0, "a", {"k": "a2"})
    s.delete(0, "b")
    s.commit()
    assert [k for k, _ in s.committed_items(0)] == ["c", "a"]


def test_staged_changes_become_changelog_records() -> None:
    s = store()
    s.put(2, "a", {"v": 1})
    s.delete(3, "b")
    sent = []

    async def send(topic, value, key=None, partition=None):
        sent.append((topic, partition, key, value))
        return asyncio.sleep(0)

    futures = asyncio.run(_send(s, send))
    assert len(futures) == 2
    assert sent[0][:3] == ("changelog", 2, b"a") and orjson.loads(sent[0][3]) == {"v": 1}
    assert sent[1] == ("changelog", 3, b"b", None)  # a tombstone, compacted away


async def _send(s: ChangelogStore, send) -> list:
    futures = await s.send_staged(send)
    for future in futures:
        await future
    return futures


def test_drop_forgets_partitions() -> None:
    s = store()
    s.put(0, "a", 1)
    s.put(1, "b", 2)
    s.commit()
    s.drop({0})
    assert s.owned() == [1] and s.get(0, "a") is None
