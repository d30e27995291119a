"""Is the pipeline caught up with an input partition? The join's timeout needs to know.

"The output never arrived" may only be concluded when the worker has read everything the
broker holds for that partition, and has stayed caught up for the whole timeout. Quiet is not
enough: after a crash, a rebalance or a broker restart the worker receives nothing for a while
although the counterpart sits in the backlog. So this asks the broker for the log-end offsets
(a failed request means "unknown": nothing expires) and compares them with the join loop's
positions: the next offset no committed transaction has consumed (`state_store`). Not what the
join has merely read (a batch read and then aborted is read again), and not the group's
committed offsets (an offset fetch may return offsets a pending transaction will still change).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..ops import kafka_clients
from ..ops.settings import RaiwatchSettings

log = logging.getLogger(__name__)


class InputProgress:
    """Tracks per topic-partition read positions and how long each has been caught up."""

    def __init__(self, settings: RaiwatchSettings, position: Callable[[str, int], int | None]) -> None:
        self.settings = settings
        self.position = position  # (topic, partition) -> the loop's committed next offset, None if unknown
        self.caught_up_since: dict[tuple[str, int], float] = {}
        self._consumer = None

    async def refresh(self, partitions: Iterable[tuple[str, int]], now_s: float) -> None:
        """Update `caught_up_since` for `partitions`; on any broker error forget them all."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in partitions]
        if not tps:
            return
        try:
            await self._connect()
            end = await self._consumer.end_offsets(tps)
        except Exception as exc:  # noqa: BLE001 - unknown progress: nothing may time out
            log.info("cannot read input progress (%s); join timeouts wait", exc)
            self.caught_up_since.clear()
            await self.close()
            return
        for tp in tps:
            key = (tp.topic, tp.partition)
            position = self.position(tp.topic, tp.partition)
            if position is not None and position >= end[tp]:
                self.caught_up_since.setdefault(key, now_s)
            else:
                self.caught_up_since.pop(key, None)

    def caught_up_for(self, topic: str, partition: int, now_s: float) -> float:
        """Seconds the partition has been continuously caught up (0 when not)."""
        since = self.caught_up_since.get((topic, partition))
        return 0.0 if since is None else now_s - since

    async def _connect(self) -> None:
        if self._consumer is None:
            # read_uncommitted: the log end, which a pending transaction of an input producer
            # also counts toward (the join then waits for it rather than expire too early).
            self._consumer = kafka_clients.consumer(self.settings, enable_auto_commit=False, request_timeout_ms=5000)
            await self._consumer.start()

    async def close(self) -> None:
        if self._consumer is not None:
            try:
                await self._consumer.stop()
            except Exception:  # noqa: BLE001
                pass
        self._consumer = None
