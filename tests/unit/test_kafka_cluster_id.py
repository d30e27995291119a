"""The local broker's cluster id is safe to pass to Kafka's storage tool."""

from __future__ import annotations


def test_kafka_cluster_ids_never_look_like_options() -> None:
    from raiwatch.ops.stack.kafka import new_cluster_id

    ids = [new_cluster_id() for _ in range(3000)]  # ~1 in 64 raw ids would start with "-"
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
