"""The adapter router on the real registry (ClickHouse): it answers as `serving_adapter` does,
reads the table once per TTL (a promotion shows after the next refresh, not per request), and
the judge serves each tenant's promoted adapter on the tiny Llama."""

from __future__ import annotations

from pathlib import Path

import pytest

from raiwatch.models import model_store
from raiwatch.models.adapter_registry import AdapterRecord, AdapterRegistry
from raiwatch.models.adapter_routing import AdapterRouter
from raiwatch.models.backends.in_process import TransformersBackend
from raiwatch.models.judges import BUILTIN_RUBRICS, LLMJudge
from raiwatch.models.scoring import ScoringItem

from ..ml.test_adapter_serving import _random_lora

pytestmark = pytest.mark.integration


async def test_the_judge_serves_each_tenants_promoted_adapter(fresh_settings, tmp_path: Path) -> None:
    tiny = model_store.install_tiny_llama()
    registry = AdapterRegistry(fresh_settings)
    for adapter_id, tenants, seed in (("all-1", (), 1), ("acme-1", ("acme",), 2), ("all-2", (), 3)):
        registry.save(AdapterRecord(adapter_id=adapter_id, base_model=str(tiny), model_name="judge-safety",
                                    version=f"1+{adapter_id}", path=str(_random_lora(tiny, seed, tmp_path / adapter_id)),
                                    tenants=tenants))
    registry.promote("all-1")
    registry.promote("acme-1")

    router = AdapterRouter(registry, "judge-safety", ttl_s=3600)
    for tenant in ("acme", "globex", "initech"):
        assert router.adapter_for(tenant) == registry.serving_adapter("judge-safety", tenant)
    judge = LLMJudge(BUILTIN_RUBRICS["safety"], TransformersBackend(tiny), adapters=router)
    items = [ScoringItem(f"r{i}", prompt="Name a colour.", output="Blue.", tenant=tenant)
             for i, tenant in enumerate(("acme", "globex", "acme"))]
    scores = await judge.score_batch(items)
    assert ["with adapter acme-1" in s.rationale for s in scores] == [True, False, True]
    assert "with adapter all-1" in scores[1].rationale
    assert scores[0].value == scores[2].value != scores[1].value

    registry.promote("all-2")  # retires all-1: served after the next refresh, not before
    assert (await judge.score_batch(items))[1].rationale.endswith("with adapter all-1")
    assert router.refreshes == 1
    router.refresh()
    assert (await judge.score_batch(items))[1].rationale.endswith("with adapter all-2")
    assert router.adapter_for("acme").adapter_id == "acme-1" and router.refreshes == 2
