"""The training loop on the real stack (tiny sizes: a tiny random Llama as the base): a request
on rai.train.requests runs through preference data (with on-policy pairs ranked by the judge), DPO with LoRA (resuming a job a previous
trainer left half-done), checkpoint evaluation and the promotion gate to a recorded outcome:
in the registry, in train_results and on rai.train.results. The registry promotes, serves per
tenant and rolls back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from raiwatch.models import model_store
from raiwatch.models.adapter_registry import AdapterRecord, AdapterRegistry
from raiwatch.ops.publish import publish_events
from raiwatch.schemas.clickhouse import clickhouse_client
from raiwatch.schemas.common import ModelRef
from raiwatch.schemas.training import TrainRequestV1

from .pipeline_helpers import committed_records

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(fresh_settings, tmp_path):
    tiny = model_store.install_tiny_llama()
    judge = {"name": "judge.safety", "args": {"backend": "transformers", "model": str(tiny)}}
    return fresh_settings.replace(eval__work_dir=str(tmp_path / "work"), eval__models={"tiny": str(tiny)},
                                  eval__max_new_tokens=8, eval__batch_size=4, judge__check=judge,
                                  train__on_policy_prompts=3, train__on_policy_k=3, train__margin=1e-9)


def test_a_training_request_runs_to_a_recorded_decision(settings) -> None:
    from raiwatch.streams.trainer_worker import serve
    from raiwatch.trainers.dpo import DPORunConfig, train_dpo
    from raiwatch.trainers.preference_data import finalize, installed_pairs

    request = TrainRequestV1(event_id="job-t", job_id="job-t", method="dpo", base_model=ModelRef(name="tiny", version="1"),
                             cause="policy:safety.harmful-compliance@2", policy_versions={"safety.harmful-compliance": 2},
                             params={"max_steps": "4", "save_steps": "2", "batch_size": "2", "max_length": "64",
                                     "eval_limit": "2"})
    # A previous trainer died after its first checkpoint of this job.
    pairs, _ = finalize(installed_pairs(), request.policy_versions)
    train_dpo(settings, DPORunConfig(base_model=settings.eval.models["tiny"], max_steps=2, batch_size=2, save_steps=2,
                                     max_length=64), pairs, settings.eval.work_path / "train" / "job-t" / "run")
    asyncio.run(publish_events(settings, "rai.train.requests", [(request.job_id, request)]))
    assert asyncio.run(serve(settings, asyncio.Event(), max_jobs=1)) == 1

    client = clickhouse_client(settings)
    reports = client.query("SELECT status, message, adapter_id, metrics FROM train_results WHERE job_id = 'job-t' "
                           "ORDER BY event_time").result_rows
    statuses = [r[0] for r in reports]
    assert statuses[0] == "started" and statuses[-1] in ("promoted", "rejected"), reports
    assert any("resumed from checkpoint-2" in r[1] for r in reports), reports
    data = next(r for r in reports if r[1].startswith("preference data"))
    assert data[3]["on_policy_pairs"] >= 1  # the base model's own samples, ranked by the judge
    final = reports[-1]
    adapters = {a.adapter_id: a for a in AdapterRegistry(settings).all()}
    if final[2]:  # a checkpoint was chosen: the registry says what the gate decided
        assert adapters[final[2]].status == final[0] and adapters[final[2]].job_id == "job-t"
        assert adapters[final[2]].policy_versions == {"safety.harmful-compliance": 2}
        assert "harmful_ci_high" in final[3]
    on_topic = [orjson.loads(r.value)["status"] for r in committed_records(settings, "rai.train.results")]
    assert on_topic == statuses
    selected = client.query("SELECT count() FROM checkpoints FINAL WHERE job_id = 'job-t'").result_rows[0][0]
    assert selected == 2  # checkpoint-2 and checkpoint-4 evaluated


def test_the_registry_promotes_serves_per_tenant_and_rolls_back(settings, tmp_path: Path) -> None:
    registry = AdapterRegistry(settings)
    for adapter_id, tenants in (("a1", ()), ("a2", ()), ("acme-1", ("acme",))):
        registry.save(AdapterRecord(adapter_id=adapter_id, base_model="base", model_name="chat", version=f"1+{adapter_id}",
                                    path=str(tmp_path / adapter_id), tenants=tenants))
    registry.promote("a1")
    registry.promote("a2")
    registry.promote("acme-1")
    status = {a.adapter_id: a.status for a in registry.all()}
    assert status == {"a1": "retired", "a2": "promoted", "acme-1": "promoted"}
    assert registry.serving_adapter("chat", tenant="acme").adapter_id == "acme-1"
    assert registry.serving_adapter("chat", tenant="globex").adapter_id == "a2"
    assert registry.baselines() == {"chat:1+a2": "1+a1", "chat:1+acme-1": "1"}  # for the regression watch
    registry.rollback("chat")
    assert registry.serving_adapter("chat", tenant="globex").adapter_id == "a1"
    assert {a.adapter_id: a.status for a in registry.all()}["a2"] == "retired"
