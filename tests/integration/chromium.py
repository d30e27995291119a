"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol: the browser tests'
one way to load a page, act on it and take a screenshot (no webdriver needed)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")


class DevTools:
    """The smallest DevTools-protocol client: one page session over the browser websocket."""

    def __init__(self, ws) -> None:
        self.ws, self.next_id, self.events = ws, 0, []

    async def call(self, method: str, session: str | None = None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    async def wait_for(self, method: str, timeout_s: float = 20):
        deadline = time.monotonic() + timeout_s
        while not any(e.get("method") == method for e in self.events):
            self.events.append(json.loads(await asyncio.wait_for(self.ws.recv(), deadline - time.monotonic())))


@contextmanager
def headless_chromium(work: Path, width: int = 1400, height: int = 2400) -> Iterator[tuple[int, str]]:
    """A headless Chromium for the test: yields (DevTools port, browser websocket path)."""
    profile = work / "chromium-profile"
    log = (work / "chromium.log").open("wb")
    proc = subprocess.Popen(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--user-data-dir={profile}", "--remote-debugging-port=0", f"--window-size={width},{height}", "about:blank"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 20
        while not (active.exists() and len(active.read_text().split()) == 2):
            assert proc.poll() is None, f"chromium exited {proc.returncode}: {(work / 'chromium.log').read_text()}"
            assert time.monotonic() < deadline, "chromium did not open its DevTools port in 20 s"
            time.sleep(0.05)
        port, path = active.read_text().split()
        yield int(port), path
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
