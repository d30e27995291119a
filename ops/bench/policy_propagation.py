"""Policy propagation: from `raiwatch policy apply` starting to the first verdict under the new
version, in a running worker, on the local stack.

    python -m raiwatch.ops.bench.policy_propagation [--changes 20] [--interval-ms 20]

A steady stream of requests (one every `--interval-ms`) runs while the over-refusal policy gets
`--changes` new versions one after another; for each, the propagation time is the timestamp of
the first verdict record on rai.verdicts that lists the new version, minus the time `apply` was
called (validation against the live versions, publishing, the worker's reader, the next batch,
its transaction). Prints JSON with p50, p90, p99 and max.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

import orjson

from ..pipeline_run import start_worker, stop_worker
from ..policies import apply_policies
from ..settings import get_settings
from ..topic_reader import committed_records
from ..topics import create_topics, delete_prefixed_topics

POLICY = "controllability.over-refusal"


def _folder(work: Path, version: int) -> Path:
    from ...streams.policy_files import default_policy_dir

    folder = work / f"v{version}"
    shutil.copytree(default_policy_dir(), folder)
    path = folder / f"{POLICY}.yaml"
    path.write_text(path.read_text().replace("version: 1", f"version: {version}"))
    return folder


async def _stream(settings, stop: threading.Event, interval_s: float) -> None:
    from .. import kafka_clients

    producer = kafka_clients.producer(settings, enable_idempotence=True, linger_ms=0)
    await producer.start()
    try:
        i = 0
        while not stop.is_set():
            rid = f"prop-{i}"
            for topic, side, text in (("rai.prompts", "prompt", "How do I bake bread?"),
                                      ("rai.outputs", "output", "I'm sorry, but I can't help with that.")):
                body = {"schema_version": 1, "event_id": f"{rid}-{side}", "request_id": rid, "model": {"name": "m"},
                        side: text}
                await producer.send(settings.topic(topic), orjson.dumps(body), key=rid.encode())
            i += 1
            await asyncio.sleep(interval_s)
        await producer.flush()
    finally:
        await producer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--interval-ms", type=float, default=20.0)
    parser.add_argument("--gap-s", type=float, default=2.0, help="time between two changes")
    args = parser.parse_args()
    base = get_settings()
    settings = base.replace(kafka__topic_prefix=f"benchprop{uuid.uuid4().hex[:6]}.",
                            clickhouse__database=f"benchprop_{uuid.uuid4().hex[:6]}")
    from ...schemas.clickhouse.migrate import migrate

    create_topics(settings)
    migrate(settings)
    work = Path(tempfile.mkdtemp(prefix="raiwatch-propagation-"))
    worker = start_worker(settings, work / "worker.log")
    stop = threading.Event()
    stream = threading.Thread(target=lambda: asyncio.run(_stream(settings, stop, args.interval_ms / 1000)))
    applied: dict[int, float] = {}
    try:
        time.sleep(15)  # the worker joins its groups
        stream.start()
        time.sleep(3)
        for version in range(2, args.changes + 2):
            folder = _folder(work, version)
            applied[version] = time.time()
            apply_policies(settings, folder)
            time.sleep(args.gap_s)
        time.sleep(5)
    finally:
        stop.set()
        stream.join(30)
        stop_worker(worker)
    first: dict[int, float] = {}
    for record in committed_records(settings, settings.topic("rai.verdicts")):
        verdict = orjson.loads(record.value)
        version = next(int(p.rsplit("@", 1)[1]) for p in verdict["policies"] if p.startswith(POLICY + "@"))
        written = record.timestamp / 1000
        if version in applied and written < first.get(version, float("inf")):
            first[version] = written
    delays = sorted((first[v] - applied[v]) * 1000 for v in applied if v in first)
    delete_prefixed_topics(settings)

    def quantile(q: float) -> float:
        return round(delays[min(len(delays) - 1, int(q * len(delays)))], 1) if delays else float("nan")

    print(json.dumps({"changes": len(applied), "measured": len(delays), "interval_ms": args.interval_ms,
                      "p50_ms": quantile(0.5), "p90_ms": quantile(0.9), "p99_ms": quantile(0.99),
                      "max_ms": round(max(delays), 1) if delays else None}, indent=2))


if __name__ == "__main__":
    main()
