"""The pipeline end to end on the real broker and ClickHouse: exact counts, crashes, outages.

Each test runs `raiwatch worker` as a child process on a fresh topic prefix and database.
Counts are read with FINAL (after dedup), and re-read a few seconds after they are reached so
that a double count would show.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from raiwatch.ops import stack
from raiwatch.ops.pipeline_run import Counts, wait_for_counts
from raiwatch.ops.stack import clickhouse, kafka
from raiwatch.schemas.clickhouse import clickhouse_client

from ..stack_fixtures import free_ports
from .pipeline_helpers import (
    WorkerProcess, assert_exact_without_final, assert_exactly_once_on_topics, replay_file, write_traffic_file,
)

pytestmark = pytest.mark.integration


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def child_pids(pid: int) -> list[int]:
    """The direct children of a process (the worker's sink process)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def alive(pid: int) -> bool:
    """Running (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture
def pipeline_settings(fresh_settings):
    return fresh_settings.replace(join__timeout_s=3.0)


@pytest.fixture
def worker(pipeline_settings, tmp_path: Path):
    process = WorkerProcess(pipeline_settings, tmp_path)
    process.start()
    yield process
    process.stop()


def test_every_message_is_one_verdict_or_one_dead_letter(pipeline_settings, worker, tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=600, malformed=30, seed=11)
    replay_file(pipeline_settings, traffic)
    got = wait_for_counts(pipeline_settings, stats["requests"], stats["malformed"], 120, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    client = clickhouse_client(pipeline_settings)
    partial = client.query("SELECT count() FROM verdicts FINAL WHERE partial").result_rows[0][0]
    assert partial == stats["partial"]
    reasons = dict(client.query("SELECT reason, count() FROM dead_letters FINAL GROUP BY reason").result_rows)
    assert set(reasons) == {"invalid_json", "invalid_utf8", "schema_violation", "unknown_schema_version", "not_an_object"}
    # The original bytes are kept.
    assert client.query("SELECT countIf(length(original) = 0) FROM dead_letters").result_rows[0][0] == 0
    # Redacted by default: no raw e-mail address reaches the messages table.
    leaked = client.query("SELECT count() FROM messages WHERE match(output_redacted, '[a-z]+@example\\\\.com')").result_rows[0][0]
    assert leaked == 0
    assert client.query("SELECT count() FROM alerts FINAL").result_rows[0][0] > 0


def test_join_timeout_then_late_arrival(pipeline_settings, worker, tmp_path: Path) -> None:
    import orjson

    prompt = {"topic": "rai.prompts", "value": {"schema_version": 1, "event_id": "p-late", "request_id": "late-1",
                                                 "model": {"name": "m"}, "prompt": "hello"}}
    output = {"topic": "rai.outputs", "value": {"schema_version": 1, "event_id": "o-late", "request_id": "late-1",
                                                 "model": {"name": "m"}, "output": "hi"}}
    first = tmp_path / "prompt.jsonl"
    first.write_bytes(orjson.dumps(prompt) + b"\n" + orjson.dumps(prompt) + b"\n")  # and a duplicate
    replay_file(pipeline_settings, first)
    assert wait_for_counts(pipeline_settings, 1, 0, 60, worker=worker.proc) == Counts(1, 0)
    client = clickhouse_client(pipeline_settings)
    assert client.query("SELECT partial FROM verdicts FINAL").result_rows == [(1,)]
    assert client.query("SELECT output_redacted FROM messages FINAL").result_rows == [("",)]
    second = tmp_path / "output.jsonl"
    second.write_bytes(orjson.dumps(output) + b"\n")
    replay_file(pipeline_settings, second)
    assert wait_for_counts(pipeline_settings, 1, 1, 60, worker=worker.proc) == Counts(1, 1)
    assert client.query("SELECT reason FROM dead_letters FINAL").result_rows == [("late_arrival",)]


def test_kill_9_mid_stream_loses_and_duplicates_nothing(pipeline_settings, worker, tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=2500, malformed=40, seed=12)
    import threading

    publisher = threading.Thread(target=replay_file, args=(pipeline_settings, traffic, 400.0))
    publisher.start()
    for _ in range(3):
        time.sleep(4)
        worker.kill9()
        worker.start()
    publisher.join()
    got = wait_for_counts(pipeline_settings, stats["requests"], stats["malformed"], 240, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    assert_exact_without_final(pipeline_settings, stats["requests"], stats["malformed"])
    assert_exactly_once_on_topics(pipeline_settings, stats["requests"], stats["malformed"])


def test_sigterm_drains_then_a_restart_continues_exactly(pipeline_settings, worker, tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=1500, malformed=20, seed=16)
    import threading

    publisher = threading.Thread(target=replay_file, args=(pipeline_settings, traffic, 400.0))
    publisher.start()
    time.sleep(3)
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0, worker.log()
    worker.start()
    publisher.join()
    got = wait_for_counts(pipeline_settings, stats["requests"], stats["malformed"], 240, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    assert_exact_without_final(pipeline_settings, stats["requests"], stats["malformed"])
    assert_exactly_once_on_topics(pipeline_settings, stats["requests"], stats["malformed"])


def test_clickhouse_outage_longer_than_the_poll_interval(fresh_settings, tmp_path: Path) -> None:
    """ClickHouse away for longer than the consumers' max poll interval: the sinks pause their
    partitions and keep polling, so the worker stays in its groups; memory stays bounded; once
    ClickHouse is back every row lands exactly once (with and without FINAL)."""
    (health_port,) = free_ports(1)
    settings = fresh_settings.replace(join__timeout_s=3.0, sinks__max_backoff_s=2.0, stages__health_port=health_port,
                                      kafka__consumer={"max_poll_interval_ms": 10_000})
    worker = WorkerProcess(settings, tmp_path)
    worker.start()
    try:
        traffic = tmp_path / "traffic.jsonl"
        stats = write_traffic_file(traffic, requests=1500, malformed=20, seed=13)
        lines = traffic.read_bytes().splitlines(keepends=True)
        half, rest = tmp_path / "half.jsonl", tmp_path / "rest.jsonl"
        split = closed_split(lines)  # no request straddles the outage (its join would time out: a late side)
        half.write_bytes(b"".join(lines[:split]))
        rest.write_bytes(b"".join(lines[split:]))
        replay_file(settings, half)
        wait_for_counts(settings, 1, 0, 120, worker=worker.proc, settle_s=0)  # mid-stream
        clickhouse.stop(settings)
        try:
            replay_file(settings, rest)  # arrives while ClickHouse is down
            time.sleep(25)  # 2.5 x the max poll interval
            assert worker.proc.poll() is None, "the worker must survive a ClickHouse outage"
            # Bounded memory: the stream paused instead of buffering without limit (the sinks run
            # in the worker's child process).
            for pid in [worker.proc.pid, *child_pids(worker.proc.pid)]:
                assert rss_mib(pid) < 1024
            # Paused, not gone: the sink loops are still members of their groups. Between two
            # backoffs a retry resumes the partitions for a moment: look for a few seconds.
            deadline = time.monotonic() + 15
            while True:
                loops = {loop["name"]: loop for loop in health(health_port, "/status")[1]["loops"]}
                if loops["clickhouse-verdicts"]["paused"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert loops["clickhouse-verdicts"]["paused"] and loops["clickhouse-verdicts"]["joined"], loops
            assert loops["clickhouse-verdicts"]["state"] == "running"
        finally:
            clickhouse.start(settings)
            stack.wait_healthy(settings, 60)
        got = wait_for_counts(settings, stats["requests"], stats["malformed"], 180, worker=worker.proc)
        assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
        assert_exact_without_final(settings, stats["requests"], stats["malformed"])
        deadline = time.monotonic() + 60
        while health(health_port, "/ready")[0] != 200 and time.monotonic() < deadline:
            time.sleep(1)
        assert health(health_port, "/ready")[0] == 200, health(health_port, "/status")
    finally:
        worker.stop()


def closed_split(lines: list[bytes]) -> int:
    """The line index nearest the middle before which every request's sides are complete."""
    import orjson as _orjson

    last_line: dict[str, int] = {}
    for index, line in enumerate(lines):
        value = _orjson.loads(line).get("value")
        if isinstance(value, dict) and "request_id" in value:
            last_line[value["request_id"]] = index
    first_line: dict[str, int] = {}
    for index, line in enumerate(lines):
        value = _orjson.loads(line).get("value")
        if isinstance(value, dict) and "request_id" in value:
            first_line.setdefault(value["request_id"], index)
    open_at = [0] * (len(lines) + 1)
    for request, start in first_line.items():
        for i in range(start + 1, last_line[request] + 1):
            open_at[i] += 1
    closed = [i for i in range(1, len(lines)) if open_at[i] == 0]
    return min(closed, key=lambda i: abs(i - len(lines) // 2))


def test_broker_restart_mid_stream(pipeline_settings, worker, tmp_path: Path) -> None:
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=1500, malformed=20, seed=14)
    lines = traffic.read_bytes().splitlines(keepends=True)
    split = closed_split(lines)  # no request straddles the restart: the gap may outlast the join timeout
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"".join(lines[:split]))
    second.write_bytes(b"".join(lines[split:]))
    replay_file(pipeline_settings, first)
    wait_for_counts(pipeline_settings, 1, 0, 120, worker=worker.proc, settle_s=0)  # mid-stream, worker running
    kafka.kafka_process(pipeline_settings).stop()
    time.sleep(5)
    kafka.start(pipeline_settings)
    stack.wait_healthy(pipeline_settings, 90)
    replay_file(pipeline_settings, second)
    got = wait_for_counts(pipeline_settings, stats["requests"], stats["malformed"], 240, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    assert_exactly_once_on_topics(pipeline_settings, stats["requests"], stats["malformed"])


def test_the_sink_process_is_supervised_and_dies_with_the_worker(pipeline_settings, worker, tmp_path: Path) -> None:
    """The worker runs the sinks and the feeds in child processes: a kill -9 of the worker takes
    them along (no orphan still consuming); a crashed child is started again by the worker's
    supervisor; SIGTERM stops all with exit code 0."""
    wait_for_counts(pipeline_settings, 0, 0, 60, worker=worker.proc, settle_s=0)
    children = wait_for_children(worker.proc.pid)
    worker.kill9()
    deadline = time.monotonic() + 10
    while any(alive(child) for child in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(child) for child in children), "a child process outlived a kill -9 of its worker"

    worker.start()
    first = wait_for_children(worker.proc.pid)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while (len(children := child_pids(worker.proc.pid)) < len(first) or children == first
           or first[0] in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children) == len(first) and first[0] not in children, (
        "the supervisor did not restart the killed child process", worker.log())
    assert worker.proc.poll() is None

    # And the pipeline still delivers.
    traffic = tmp_path / "traffic.jsonl"
    stats = write_traffic_file(traffic, requests=50, malformed=2, seed=15)
    replay_file(pipeline_settings, traffic)
    got = wait_for_counts(pipeline_settings, stats["requests"], stats["malformed"], 120, worker=worker.proc)
    assert got == Counts(stats["requests"], stats["malformed"]), (got, worker.log())
    worker.proc.send_signal(signal.SIGTERM)
    assert worker.proc.wait(timeout=60) == 0, worker.log()
    assert not any(alive(child) for child in children)


def health(port: int, path: str) -> tuple[int, dict]:
    """GET the worker's health endpoint: (status code, JSON body)."""
    import json
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def wait_for_children(pid: int, count: int = 2, timeout_s: float = 60) -> list[int]:
    """The worker's child processes (the sinks and the feeds), once all `count` are up."""
    deadline = time.monotonic() + timeout_s
    while len(children := child_pids(pid)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(children) == count, children
    return children
