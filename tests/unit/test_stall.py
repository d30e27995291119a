"""The stall watchdog's rule: a report once a partition with records waiting has not moved for
the configured time; none while it moves or has nothing to read; one per stuck offset."""

from __future__ import annotations

from aiokafka import TopicPartition

from raiwatch.streams.runtime.stall import StallWatch

TP = TopicPartition("rai.prompts", 2)


def test_reports_once_per_stuck_offset() -> None:
    watch = StallWatch("join", stall_after_s=10)
    assert watch.observe(TP, 5, lag=3, now=0) is None
    assert watch.observe(TP, 5, lag=3, now=9) is None
    report = watch.observe(TP, 5, lag=3, now=10)
    assert report is not None and (report.topic, report.partition, report.offset, report.lag) == ("rai.prompts", 2, 5, 3)
    assert watch.observe(TP, 5, lag=3, now=20) is None  # reported already
    assert watch.observe(TP, 6, lag=2, now=21) is None  # it moved
    assert watch.observe(TP, 6, lag=2, now=31) is not None  # and stuck again
    assert watch.stalls == 2


def test_a_partition_with_nothing_to_read_is_not_stalled() -> None:
    watch = StallWatch("join", stall_after_s=10)
    for now in range(0, 100, 5):
        assert watch.observe(TP, 5, lag=0, now=now) is None
