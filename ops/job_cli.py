"""Running a job consumer (`raiwatch evaluator`, `raiwatch trainer`) from the CLI until SIGTERM."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

from .settings import RaiwatchSettings


def run_until_signal(serve: Callable[[RaiwatchSettings, asyncio.Event, int | None], Awaitable[int]],
                     settings: RaiwatchSettings, max_jobs: int | None) -> int:
    """`serve(settings, stop, max_jobs)` with `stop` set by SIGTERM or SIGINT (the job in hand
    finishes first); returns the jobs done."""

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        return await serve(settings, stop, max_jobs)

    return asyncio.run(main())
