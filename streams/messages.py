"""What the pipeline passes between its stages: joined requests (in memory, from the join to
the screen) and judge requests (on the internal judge topic). Not part of the public wire
contract."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ..schemas.traffic import OutputEventV1, PromptEventV1
from ..schemas.verdicts import VerdictV1


class JoinedRequest(BaseModel):
    """A request whose prompt and output met in the join table, or whose counterpart timed out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    request_id: str = Field(description="The request.")
    prompt: PromptEventV1 | None = Field(default=None, description="Prompt event, None if it never came.")
    output: OutputEventV1 | None = Field(default=None, description="Output event, None if it never came.")
    partial: bool = Field(default=False, description="One side is missing after the join timeout.")
    first_seen_ms: int = Field(description="Wall-clock time the first side reached the join.")
    joined_ms: int = Field(description="Wall-clock time the join completed or timed out.")
    input_published_ms: int = Field(default=0, description="Kafka timestamp of the latest input message.")
    traceparent: str = Field(default="", description="W3C trace context the producer sent with the request, if any.")


class JudgeRequest(BaseModel):
    """A screened verdict routed to the LLM judge, with the unredacted texts it needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    verdict: VerdictV1 = Field(description="The screen-stage verdict to refine.")
    request: JoinedRequest = Field(description="The texts to judge.")
    reason: str = Field(description="Why it was routed: band, high-risk category, sampling.")
