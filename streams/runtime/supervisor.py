"""The worker's lifecycle: run its parts (stage loops, a child process), restart a part that
crashes a bounded number of times, and drain on SIGTERM.

- SIGTERM or SIGINT: every part is asked to stop; a loop finishes the checkpoint in flight (its
  transaction ends, its sinks are flushed and their offsets committed) and leaves its consumer
  group; then the worker exits 0.
- A part that raises (or returns on its own) is started again after a back-off, up to
  `max_restarts` times within `restart_window_s`; one more crash stops the others and the worker
  exits 1, so a process supervisor (systemd, Kubernetes) takes over with a clean process.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

class Part(Protocol):
    """Something the supervisor runs: a stage loop, a child process."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Supervised:
    """One part and its restart history."""

    name: str
    make: Callable[[], Part]
    part: Part | None = None
    task: asyncio.Task | None = None
    restarts: list[float] = field(default_factory=list)


class Supervisor:
    """Runs parts until stopped; see the module docstring."""

    def __init__(self, max_restarts: int, restart_window_s: float, first_backoff_s: float = 1.0,
                 stop_timeout_s: float = 60.0) -> None:
        self.max_restarts, self.restart_window_s, self.stop_timeout_s = max_restarts, restart_window_s, stop_timeout_s
        self.first_backoff_s = first_backoff_s  # doubles with each restart in the window, at most 30 s
        self.parts: dict[str, Supervised] = {}
        self._stop = asyncio.Event()
        self._changed = asyncio.Event()
        self._waiting: set[asyncio.Task] = set()  # restarts waiting out their back-off

    def add(self, name: str, make: Callable[[], Part]) -> None:
        """Run `make()` as part `name` (called again for each restart)."""
        self.parts[name] = Supervised(name, make)

    def current(self, name: str) -> Any:
        """The running instance of a part (for health reports)."""
        return self.parts[name].part

    def stop(self) -> None:
        """Drain and stop every part."""
        self._stop.set()
        self._changed.set()

    async def run(self) -> int:
        """Run until stopped (exit code 0) or a part crashes too often (1)."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, self.stop)
            except (NotImplementedError, RuntimeError):  # not the main thread (tests)
                pass
        for supervised in self.parts.values():
            self._start(supervised)
        code = 0
        while not self._stop.is_set():
            await self._changed.wait()
            self._changed.clear()
            for supervised in self.parts.values():
                if self._stop.is_set() or supervised.task is None or not supervised.task.done():
                    continue
                if not self._may_restart(supervised):
                    code = 1
                    self._stop.set()
                    break
                delay = min(30.0, self.first_backoff_s * 2.0 ** (len(supervised.restarts) - 1))
                log.warning("restarting %s in %.0fs (restart %d of at most %d per %.0fs)", supervised.name, delay,
                            len(supervised.restarts), self.max_restarts, self.restart_window_s)
                supervised.task = None  # until the back-off is over
                self._waiting.add(asyncio.create_task(self._restart_later(supervised, delay)))
        await self._stop_all()
        return code

    def _start(self, supervised: Supervised) -> None:
        supervised.part = supervised.make()
        supervised.task = asyncio.create_task(supervised.part.run(), name=supervised.name)
        supervised.task.add_done_callback(lambda _: self._changed.set())

    async def _restart_later(self, supervised: Supervised, delay: float) -> None:
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            self._start(supervised)

    def _may_restart(self, supervised: Supervised) -> bool:
        """Log how the part ended; whether another restart is allowed."""
        task = supervised.task
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log.error("%s crashed: %s: %s", supervised.name, type(exc).__name__, exc, exc_info=exc)
        else:
            log.error("%s stopped on its own", supervised.name)
        now = time.monotonic()
        supervised.restarts = [t for t in supervised.restarts if now - t < self.restart_window_s] + [now]
        if len(supervised.restarts) > self.max_restarts:
            log.critical("%s crashed %d times within %.0fs; stopping the worker", supervised.name,
                         len(supervised.restarts), self.restart_window_s)
            return False
        return True

    async def _stop_all(self) -> None:
        for waiting in self._waiting:
            waiting.cancel()
        for supervised in self.parts.values():
            if supervised.part is not None:
                supervised.part.stop()
        tasks = [s.task for s in self.parts.values() if s.task is not None and not s.task.done()]
        if not tasks:
            return
        done, pending = await asyncio.wait(tasks, timeout=self.stop_timeout_s)
        for task in pending:
            log.warning("%s did not stop within %.0fs; cancelling it", task.get_name(), self.stop_timeout_s)
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.error("%s failed while stopping: %s", task.get_name(), task.exception())
