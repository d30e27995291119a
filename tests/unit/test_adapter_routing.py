"""The adapter router's logic (which adapter a tenant gets, how often the registry is read, what
happens when it cannot be read) and how the judge and generators pass adapters per request.
A recording backend stands in for the model here: these tests are about routing only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from raiwatch.models.adapter_registry import AdapterRecord
from raiwatch.models.adapter_routing import (
    RETRY_UNLOADED_S,
    AdapterRegistryUnavailableError,
    AdapterRouter,
)
from raiwatch.models.backends.base import JudgeBackend, JudgeCompletion, JudgeRequest, TokenLogprob
from raiwatch.models.backends.exceptions import BackendError
from raiwatch.models.backends.openai_http import OpenAIBackend
from raiwatch.models.generators import adapter_per_chat
from raiwatch.models.judges import BUILTIN_RUBRICS, LLMJudge
from raiwatch.models.judges.checks import adapter_router
from raiwatch.models.scoring import ScoringItem
from raiwatch.ops.errors import ConfigurationError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def record(adapter_id: str, *, model: str = "chat", status: str = "promoted", tenants: tuple[str, ...] = (),
           use_cases: tuple[str, ...] = ()) -> AdapterRecord:
    return AdapterRecord(adapter_id=adapter_id, base_model="base", model_name=model, version=f"1+{adapter_id}",
                         path=f"/runs/{adapter_id}", status=status, tenants=tenants, use_cases=use_cases)


class Source:
    """The registry's rows as a callable that counts its reads (and can fail)."""

    def __init__(self, records: list[AdapterRecord]) -> None:
        self.records, self.reads, self.down = records, 0, False

    def __call__(self) -> list[AdapterRecord]:
        self.reads += 1
        if self.down:
            raise ConnectionError("clickhouse unreachable")
        return list(self.records)


def test_tenant_then_use_case_then_model_wide_then_base() -> None:
    source = Source([record("all-1", status="retired"), record("all-2"), record("acme-1", tenants=("acme",)),
                     record("support-1", use_cases=("support",)), record("other", model="judge"),
                     record("cand", tenants=("globex",), status="candidate")])
    router = AdapterRouter(source, "chat")
    assert router.adapter_for("acme", "support").adapter_id == "acme-1"
    assert router.adapter_for("globex", "support").adapter_id == "support-1"
    assert router.adapter_for("globex").adapter_id == "all-2"  # a candidate serves nobody
    assert AdapterRouter(Source([record("acme-1", tenants=("acme",))]), "chat").adapter_for("globex") is None
    assert sorted(r.adapter_id for r in router.served()) == ["acme-1", "all-2", "support-1"]


def test_a_fixed_mapping_with_a_default_for_every_tenant() -> None:
    router = AdapterRouter({"acme": "/runs/acme", "*": "/runs/all"}, "judge")
    assert router.adapter_for("acme").path == "/runs/acme"
    assert router.adapter_for("globex").adapter_id == "/runs/all"
    assert AdapterRouter({"acme": "/runs/acme"}, "judge").adapter_for("globex") is None


def test_the_source_is_read_once_per_ttl_not_per_request() -> None:
    clock, source = Clock(), Source([record("a1")])
    router = AdapterRouter(source, "chat", ttl_s=60, clock=clock)
    for tenant in ("acme", "globex", "acme") * 10:
        assert router.adapter_for(tenant).adapter_id == "a1"
    assert source.reads == 1
    source.records = [record("a1", status="retired"), record("a2")]  # a promotion
    clock.now = 59.0
    assert router.adapter_for("acme").adapter_id == "a1" and source.reads == 1
    clock.now = 60.0
    assert router.stale
    assert router.adapter_for("acme").adapter_id == "a2" and source.reads == 2


def test_an_unreadable_registry_keeps_the_last_copy() -> None:
    clock, source = Clock(), Source([record("a1")])
    router = AdapterRouter(source, "chat", ttl_s=60, clock=clock)
    assert router.adapter_for("acme").adapter_id == "a1"
    source.down, clock.now = True, 61.0
    assert router.adapter_for("acme").adapter_id == "a1"  # not the base model for everyone
    assert router.adapter_for("acme").adapter_id == "a1" and source.reads == 2  # next try after another TTL
    source.down, clock.now = False, 122.0
    source.records = [record("a2")]
    assert router.adapter_for("acme").adapter_id == "a2"


def test_a_router_that_never_read_its_source_raises_and_retries_soon() -> None:
    clock, source = Clock(), Source([record("a1")])
    source.down = True
    router = AdapterRouter(source, "chat", ttl_s=600, clock=clock)
    with pytest.raises(AdapterRegistryUnavailableError, match="clickhouse unreachable"):
        router.adapter_for("acme")
    with pytest.raises(AdapterRegistryUnavailableError):
        router.adapter_for("acme")  # no second read before the retry time
    assert source.reads == 1
    source.down, clock.now = False, RETRY_UNLOADED_S
    assert router.adapter_for("acme").adapter_id == "a1" and source.reads == 2


class Host:
    def __init__(self) -> None:
        self.added: list[tuple[str, str]] = []

    def add_adapter(self, name: str, path: str) -> None:
        self.added.append((name, path))


def test_assign_names_each_request_and_adds_each_adapter_once() -> None:
    router = AdapterRouter(Source([record("acme-1", tenants=("acme",)), record("all")]), "chat")
    host = Host()
    names = router.assign(host, [("acme", ""), ("globex", ""), ("acme", "")])
    assert names == ["acme-1", "all", "acme-1"]
    assert sorted(host.added) == [("acme-1", "/runs/acme-1"), ("all", "/runs/all")]
    assert AdapterRouter({}, "chat").assign(host, [("acme", "")]) == [None]


class RecordingBackend(JudgeBackend):
    name = "recording"

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[JudgeRequest] = []

    async def generate(self, requests: Sequence[JudgeRequest]) -> list[JudgeCompletion]:
        self.requests += requests
        return [JudgeCompletion(text="safe", logprobs=(TokenLogprob("safe", -0.1), TokenLogprob("unsafe", -2.4)))
                for _ in requests]


async def test_the_judge_sends_each_item_with_its_tenants_adapter() -> None:
    backend = RecordingBackend()
    router = AdapterRouter(Source([record("acme-1", tenants=("acme",)), record("support-1", use_cases=("support",))]),
                           "chat")
    judge = LLMJudge(BUILTIN_RUBRICS["safety"], backend, adapters=router)
    items = [ScoringItem("1", prompt="hi", output="hello", tenant="acme"),
             ScoringItem("2", prompt="hi", output="hello", tenant="globex"),
             ScoringItem("3", prompt="hi", output="hello", tenant="globex", use_case="support")]
    scores = await judge.score_batch(items)
    assert [r.adapter for r in backend.requests] == ["acme-1", None, "support-1"]
    assert backend.adapters == {"acme-1": "/runs/acme-1", "support-1": "/runs/support-1"}
    assert all(s.scored for s in scores)
    assert "with adapter acme-1" in scores[0].rationale and "with the base model" in scores[1].rationale


async def test_no_adapter_known_is_unscored_never_the_base_model() -> None:
    source = Source([record("acme-1", tenants=("acme",))])
    source.down = True
    backend = RecordingBackend()
    judge = LLMJudge(BUILTIN_RUBRICS["safety"], backend, adapters=AdapterRouter(source, "chat"))
    scores = await judge.score_batch([ScoringItem("1", prompt="hi", output="hello", tenant="acme")])
    assert not scores[0].scored and "adapters unavailable" in scores[0].error
    assert backend.requests == []


def test_a_name_keeps_meaning_one_adapter() -> None:
    backend = RecordingBackend()
    backend.add_adapter("a", "/runs/a")
    backend.add_adapter("a", "/runs/a")
    with pytest.raises(BackendError, match="already"):
        backend.add_adapter("a", "/runs/b")


def test_the_openai_backend_sends_the_adapter_as_the_model() -> None:
    backend = OpenAIBackend("http://127.0.0.1:8000/v1", "base-model", api_key="")
    assert backend._body(JudgeRequest(messages=({"role": "user", "content": "x"},)))["model"] == "base-model"
    assert backend._body(JudgeRequest(messages=({"role": "user", "content": "x"},), adapter="acme-1"))["model"] == "acme-1"


def test_judge_adapter_arguments() -> None:
    assert adapter_router(None, None) is None
    assert adapter_router({"acme": "/runs/a"}, None).adapter_for("acme").path == "/runs/a"
    with pytest.raises(BackendError, match="either"):
        adapter_router({"acme": "/runs/a"}, "judge-safety")


def test_one_adapter_or_none_per_chat() -> None:
    chats = [[{"role": "user", "content": "a"}], [{"role": "user", "content": "b"}]]
    assert adapter_per_chat(chats, None) == [None, None]
    assert adapter_per_chat(chats, ["a", None], {"a": Path("/runs/a")}) == ["a", None]
    with pytest.raises(ConfigurationError, match="one"):
        adapter_per_chat(chats, ["a"])
    with pytest.raises(ConfigurationError, match="unknown adapter"):
        adapter_per_chat(chats, ["b", None], {"a": Path("/runs/a")})
