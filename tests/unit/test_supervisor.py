"""The supervisor: a crashed part is restarted after a back-off, a part that keeps crashing
stops the worker with exit code 1, and a stop drains every part (exit code 0)."""

from __future__ import annotations

import asyncio

from raiwatch.streams.runtime.supervisor import Supervisor


class Part:
    def __init__(self, log: list, crash: bool) -> None:
        self.log, self.crash = log, crash
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.log.append("start")
        if self.crash:
            raise RuntimeError("boom")
        await self._stop.wait()
        self.log.append("drained")

    def stop(self) -> None:
        self._stop.set()


def test_a_part_that_keeps_crashing_stops_the_worker() -> None:
    crashing, healthy = [], []

    async def go() -> int:
        supervisor = Supervisor(max_restarts=2, restart_window_s=60, first_backoff_s=0.01)
        supervisor.add("crashing", lambda: Part(crashing, crash=True))
        supervisor.add("healthy", lambda: Part(healthy, crash=False))
        return await asyncio.wait_for(supervisor.run(), 30)

    assert asyncio.run(go()) == 1
    assert crashing == ["start"] * 3  # the first run and two restarts
    assert healthy == ["start", "drained"]  # stopped in order when the worker gave up


def test_a_stop_drains_every_part_and_exits_zero() -> None:
    logs: list = []

    async def go() -> int:
        supervisor = Supervisor(max_restarts=2, restart_window_s=60)
        supervisor.add("a", lambda: Part(logs, crash=False))
        supervisor.add("b", lambda: Part(logs, crash=False))
        asyncio.get_running_loop().call_later(0.2, supervisor.stop)
        return await supervisor.run()

    assert asyncio.run(go()) == 0
    assert logs.count("drained") == 2
