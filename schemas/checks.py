"""How a check is named wherever checks are configured (settings now, policy files next): its
registered name and the arguments it is built with."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CheckSpec(BaseModel):
    """A check with its arguments, e.g. `{"name": "judge.safety", "args": {"backend": "openai",
    "base_url": "http://vllm:8000/v1", "model": "meta-llama/Llama-Guard-3-1B"}}`. A bare string is
    a check without arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Registered check name (see `raiwatch checks list`).")
    args: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the check's factory.")

    @model_validator(mode="before")
    @classmethod
    def _from_name(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    def __str__(self) -> str:
        rendered = ",".join(f"{key}={self.args[key]!r}" for key in sorted(self.args))
        return self.name + (f"({rendered})" if rendered else "")
