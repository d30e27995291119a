"""A feeds part that works in rounds over ClickHouse (the regression watch, red-team collection):
load its state, then every `interval_s` run a round that queries, publishes with an idempotent
producer and stores its state in `regression_state` (one row per part, the latest wins), until
stopped. A round killed between publishing and storing is run again from the stored state, so
what it publishes must carry stable ids."""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

from ..ops.settings import RaiwatchSettings


class PeriodicPart(ABC):
    """Subclasses implement `load()` (in a thread) and `round()`."""

    def __init__(self, settings: RaiwatchSettings, interval_s: float) -> None:
        self.settings, self.interval_s = settings, interval_s
        self._stop = asyncio.Event()
        self._producer: Any = None

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        from ..ops import kafka_clients

        await asyncio.to_thread(self.load)
        self._producer = kafka_clients.producer(self.settings, enable_idempotence=True, acks="all")
        await self._producer.start()
        try:
            while not self._stop.is_set():
                await self.round()
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=self.interval_s)
                except TimeoutError:
                    pass
        finally:
            await self._producer.stop()

    @abstractmethod
    def load(self) -> None:
        """Read the state back (runs in a thread before the first round)."""

    @abstractmethod
    async def round(self) -> Any:
        """One round; returns what it published."""

    async def publish(self, topic: str, value: bytes, key: bytes) -> None:
        await self._producer.send_and_wait(topic, value, key=key)

    # --- ClickHouse ---
    def query(self, sql: str, parameters: dict) -> list[tuple]:
        from ..schemas.clickhouse import clickhouse_client

        client = clickhouse_client(self.settings)
        try:
            return [tuple(row) for row in client.query(sql, parameters=parameters).result_rows]
        finally:
            client.close()

    def load_state(self, part: str) -> dict | None:
        rows = self.query("SELECT state FROM regression_state FINAL WHERE watch = {w:String}", {"w": part})
        return json.loads(rows[0][0]) if rows else None

    def save_state(self, part: str, cursor: datetime, state: dict) -> None:
        from ..schemas.clickhouse import clickhouse_client

        client = clickhouse_client(self.settings)
        try:
            client.insert("regression_state", [[part, cursor, json.dumps(state)]], column_names=["watch", "cursor", "state"])
        finally:
            client.close()
