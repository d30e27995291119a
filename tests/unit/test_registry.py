"""The topic table is consistent with the models and with the join's needs."""

from __future__ import annotations

import typing

import pytest

from raiwatch.ops.errors import ConfigurationError
from raiwatch.schemas.registry import TOPICS, topic_spec


def test_join_inputs_are_co_partitioned() -> None:
    prompts, outputs, verdicts = (TOPICS[n] for n in ("rai.prompts", "rai.outputs", "rai.verdicts"))
    assert prompts.partitions == outputs.partitions == verdicts.partitions
    assert prompts.key_field == outputs.key_field == "request_id"


@pytest.mark.parametrize("spec", TOPICS.values(), ids=lambda s: s.name)
def test_every_topic_model_is_versioned_and_keyed(spec) -> None:
    for version, model in spec.versions.items():
        annotation = model.model_fields["schema_version"].annotation
        assert typing.get_args(annotation) == (version,), f"{model.__name__} must fix schema_version to {version}"
        assert model.__name__.endswith(f"V{version}")
        if spec.key_field:
            assert spec.key_field in model.model_fields
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"


def test_compacted_topics_keep_data() -> None:
    for spec in TOPICS.values():
        if spec.cleanup_policy == "compact":
            assert spec.key_field and spec.configs()["retention.ms"] == "-1"


def test_unknown_topic_names_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match="rai.prompts"):
        topic_spec("rai.nope")

