"""Human review in a real browser: a verdict in a policy's review band reaches the queue
(rai.reviews -> ClickHouse), headless Chromium opens `raiwatch review`'s page, the reviewer
presses a key, the label appears on rai.feedback once and the item leaves the queue. The test
saves a screenshot of the page."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import threading
import time
from pathlib import Path

import orjson
import pytest

from raiwatch.ops.policies import apply_policies
from raiwatch.ops.review_server import ReviewService, make_server
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.streams.policy_files import default_policy_dir

from .chromium import CHROMIUM, DevTools, headless_chromium
from .pipeline_helpers import committed_records, replay_file

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)")]




def banded_policies(tmp_path: Path) -> Path:
    """The default set with a review band on the groundedness policy (its score is a share)."""
    folder = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), folder)
    path = folder / "veracity.groundedness.yaml"
    path.write_text(path.read_text().replace("version: 1", "version: 2") + "review_band: [0.3, 0.7]\n")
    return folder


def send_ungrounded(settings, tmp_path: Path) -> None:
    """An answer with two names, one of them not in its context: groundedness 0.5."""
    rid = "review-1"
    base = {"schema_version": 1, "request_id": rid, "model": {"name": "m"}}
    lines = [{"topic": "rai.prompts", "value": {**base, "event_id": f"{rid}-p", "prompt": "Who runs Acme?",
                                                "context": ["Acme is run by Maria Lopez from Madrid."]}},
             {"topic": "rai.outputs", "value": {**base, "event_id": f"{rid}-o",
                                                "output": "Acme is run by Maria Lopez and John Smith."}}]
    path = tmp_path / "ungrounded.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    replay_file(settings, path)


async def review_in_browser(url: str, port: int, browser_path: str) -> tuple[dict, bytes]:
    from websockets.asyncio.client import connect

    async with connect(f"ws://127.0.0.1:{port}{browser_path}", max_size=None) as ws:
        dt = DevTools(ws)
        target = (await dt.call("Target.createTarget", url="about:blank"))["targetId"]
        session = (await dt.call("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        for domain in ("Page", "Runtime"):
            await dt.call(f"{domain}.enable", session)
        await dt.call("Emulation.setDeviceMetricsOverride", session, width=1200, height=800, deviceScaleFactor=1,
                      mobile=False)
        await dt.call("Page.navigate", session, url=url)
        await dt.wait_for("Page.loadEventFired")

        async def evaluate(expression: str):
            return (await dt.call("Runtime.evaluate", session, expression=expression, returnByValue=True,
                                  awaitPromise=True))["result"].get("value")

        before = await _until(evaluate, "document.querySelector('#output mark') !== null && JSON.stringify({"
                              "rows: document.querySelectorAll('#queue .row').length, "
                              "output: document.querySelector('#output').innerText, "
                              "marked: Array.from(document.querySelectorAll('#output mark')).map(m => m.innerText)})")
        shot = await dt.call("Page.captureScreenshot", session, format="png")
        for kind in ("keyDown", "keyUp"):  # the reviewer presses "v"
            await dt.call("Input.dispatchKeyEvent", session, type=kind, key="v", text="v" if kind == "keyDown" else "",
                          code="KeyV", windowsVirtualKeyCode=86)
        after = await _until(evaluate, "document.querySelector('#done') !== null && JSON.stringify({"
                             "rows: document.querySelectorAll('#queue .row').length})")
        return {"before": json.loads(before), "after": json.loads(after)}, base64.b64decode(shot["data"])


async def _until(evaluate, expression: str, timeout_s: float = 20.0) -> str:
    """`expression` is `condition && value`: poll until the condition holds, return the value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await evaluate(expression)
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page never satisfied: {expression}")


def test_a_review_round_trip_in_chromium(settings, worker, tmp_path: Path) -> None:
    client = clickhouse_client(settings)
    apply_policies(settings, banded_policies(tmp_path))
    time.sleep(3)  # the worker reads the new version before the request's batch
    send_ungrounded(settings, tmp_path)
    deadline, pending = time.time() + 120, []
    while not pending and time.time() < deadline:
        time.sleep(1)
        pending = client.query("SELECT review_id, reason FROM reviews FINAL WHERE status = 'pending'").result_rows
    assert len(pending) == 1, worker.log()
    review_id, reason = pending[0]
    assert reason.startswith("review_band:veracity.groundedness:grounding.context=0.50")

    service = ReviewService(settings, reviewer="alice")
    server = make_server(service, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with headless_chromium(tmp_path, 1200, 800) as (port, path):
            seen, png = asyncio.run(review_in_browser(f"http://127.0.0.1:{server.server_port}/", port, path))
    finally:
        server.shutdown()
        service.close()
    screenshot = tmp_path / "review-page.png"
    screenshot.write_bytes(png)
    print(f"review page screenshot: {screenshot}")
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    # names are masked in storage; the evidence points into the stored text, so the highlight
    # falls on the unsupported name's mask, not on characters shifted by the masks before it
    assert seen["before"]["rows"] == 1 and "John Smith" not in seen["before"]["output"]
    assert seen["before"]["output"].endswith("and <PERSON>.")
    assert seen["before"]["marked"] == ["<PERSON>"]  # the unsupported name is highlighted
    assert seen["after"]["rows"] == 0  # labelled: it left the queue
    feedback = [orjson.loads(r.value) for r in committed_records(settings, "rai.feedback")]
    assert [(f["label"], f["reviewer"], f["request_id"]) for f in feedback] == [("violation", "alice", "review-1")]
    assert client.query("SELECT status, label, reviewer FROM reviews FINAL").result_rows == [
        ("labelled", "violation", "alice")]
