"""Is the pipeline caught up with an input partition? The join's timeout needs to know.

"The output never arrived" may only be concluded when the worker has read everything the
broker holds for that partition, and has stayed caught up for the whole timeout. Quiet is not
enough: after a crash, a rebalance or a broker restart the worker receives nothing for a while
although the counterpart sits in the backlog. So this asks the broker for the log-end offsets
(a failed request means "unknown": nothing expires) and compares them with what the join read
since start-up or, for partitions it has read nothing from yet, the group's committed offsets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from ..ops.settings import RaiwatchSettings

log = logging.getLogger(__name__)


class InputProgress:
    """Tracks per topic-partition read positions and how long each has been caught up."""

    def __init__(self, settings: RaiwatchSettings, group_id: str) -> None:
        self.settings, self.group_id = settings, group_id
        self.read_position: dict[tuple[str, int], int] = {}  # (topic, partition) -> next offset
        self.caught_up_since: dict[tuple[str, int], float] = {}
        self._consumer = None
        self._admin = None

    def on_read(self, topic: str, partition: int, offset: int) -> None:
        """Record that the join read `offset`."""
        key = (topic, partition)
        self.read_position[key] = max(self.read_position.get(key, 0), offset + 1)

    async def refresh(self, partitions: Iterable[tuple[str, int]], now_s: float) -> None:
        """Update `caught_up_since` for `partitions`; on any broker error forget them all."""
        from aiokafka import TopicPartition

        tps = [TopicPartition(t, p) for t, p in partitions]
        if not tps:
            return
        try:
            await self._connect()
            end = await self._consumer.end_offsets(tps)
            committed = await self._admin.list_consumer_group_offsets(self.group_id, partitions=tps)
        except Exception as exc:  # noqa: BLE001 - unknown progress: nothing may time out
            log.info("cannot read input progress (%s); join timeouts wait", exc)
            self.caught_up_since.clear()
            await self.close()
            return
        for tp in tps:
            key = (tp.topic, tp.partition)
            done = committed.get(tp)
            position = max(self.read_position.get(key, 0), done.offset if done is not None and done.offset >= 0 else 0)
            if position >= end[tp]:
                self.caught_up_since.setdefault(key, now_s)
            else:
                self.caught_up_since.pop(key, None)

    def caught_up_for(self, topic: str, partition: int, now_s: float) -> float:
        """Seconds the partition has been continuously caught up (0 when not)."""
        since = self.caught_up_since.get((topic, partition))
        return 0.0 if since is None else now_s - since

    async def _connect(self) -> None:
        if self._consumer is None:
            from aiokafka import AIOKafkaConsumer
            from aiokafka.admin import AIOKafkaAdminClient

            self._consumer = AIOKafkaConsumer(bootstrap_servers=self.settings.bootstrap_servers,
                                              enable_auto_commit=False, request_timeout_ms=5000)
            self._admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.bootstrap_servers,
                                              request_timeout_ms=5000)
            await self._consumer.start()
            await self._admin.start()

    async def close(self) -> None:
        for client, stop in ((self._consumer, "stop"), (self._admin, "close")):
            if client is not None:
                try:
                    await getattr(client, stop)()
                except Exception:  # noqa: BLE001
                    pass
        self._consumer = self._admin = None
