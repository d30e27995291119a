"""The one typed settings object. Every knob has a default and a `RAIWATCH_*` environment name.

Why one object: the stack scripts, the CLI, the Faust app and the tests must agree on ports,
directories and topic names; reading them from one place keeps them from drifting.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class RaiwatchSettings(BaseSettings):
    """Configuration for every raiwatch process; override any field with `RAIWATCH_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="RAIWATCH_", frozen=True, extra="ignore")

    home: Path = Field(
        default=Path("~/.raiwatch"),
        description="State of the local stack: Kafka log dirs, ClickHouse data, pid and log files.",
    )
    cache_dir: Path = Field(
        default=Path("~/.cache/raiwatch"),
        description="Downloads that are expensive and shareable between clones (Kafka jars, models).",
    )
    model_dir: Path = Field(
        default=Path("~/.cache/raiwatch/models"),
        description="Local model store: converted checkpoints and trained guardrail artifacts.",
    )
    host: str = Field(default="127.0.0.1", description="Address the local services bind to.")

    kafka_port: int = Field(default=9092, description="Kafka client listener port.")
    kafka_controller_port: int = Field(default=9093, description="KRaft controller listener port.")
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Bootstrap servers of an external cluster; unset means the local broker.",
    )
    kafka_heap: str = Field(default="768m", description="Java heap (-Xmx) of the local broker.")

    clickhouse_http_port: int = Field(default=8123, description="ClickHouse HTTP port.")
    clickhouse_tcp_port: int = Field(default=9000, description="ClickHouse native TCP port.")
    clickhouse_host: str | None = Field(
        default=None, description="Host of an external ClickHouse; unset means the local server."
    )
    clickhouse_database: str = Field(default="raiwatch", description="Database for all tables.")
    clickhouse_user: str = Field(default="default", description="ClickHouse user.")
    clickhouse_password: str = Field(default="", description="ClickHouse password.")

    topic_prefix: str = Field(
        default="",
        description="Prepended to every registry topic name; lets tests and tenants share a broker.",
    )
    max_message_bytes: int = Field(
        default=1_048_576, description="Messages larger than this go to the DLQ as oversize."
    )
    health_timeout_s: float = Field(default=60.0, description="How long `stack up` waits for health.")

    # --- the streaming pipeline (streams/) ---
    app_id: str = Field(default="raiwatch", description="App id: prefix of the consumer groups, transactional ids and internal topics.")
    worker_id: str = Field(
        default="0",
        description=(
            "This worker's identity within the app: the stages' Kafka transactional ids derive from "
            "it, so a restarted worker fences and aborts what its killed predecessor left open. "
            "Give every concurrently running worker its own."
        ),
    )
    join_timeout_s: float = Field(
        default=10.0, description="How long a prompt waits for its output (and vice versa) before a partial verdict."
    )
    join_retention_s: float = Field(
        default=600.0, description="How long a joined request is remembered, to drop late duplicates."
    )
    join_batch_size: int = Field(default=1000, ge=1, description="Most input records the join screens in one batch.")
    join_batch_window_s: float = Field(
        default=0.1, gt=0,
        description="At most one join batch (one Kafka transaction) per window: each commit costs the broker a "
                    "round of markers, so back-to-back tiny transactions slow everything on a small machine. "
                    "This is where the pipeline batches; keep sink_batch_window_s a little shorter.")
    screen_checks: list[str] = Field(
        default_factory=lambda: ["pii.regex", "harm.keywords", "refusal.keywords"],
        description="Registered checks the screen stage runs (JSON list in the environment).",
    )
    judge_check: str | None = Field(
        default=None, description="Registered LLM-judge check for the judge stage; unset disables the stage."
    )
    judge_batch_size: int = Field(default=16, ge=1, description="Micro-batch size of the judge stage.")
    judge_band: tuple[float, float] = Field(
        default=(0.35, 0.65), description="Scores in this band are uncertain and go to the judge."
    )
    judge_high_risk_categories: list[str] = Field(
        default_factory=lambda: ["S1.violent_crimes", "S9.weapons", "S11.self_harm"],
        description="Categories always sent to the judge.",
    )
    judge_sample_rates: dict[str, float] = Field(
        default_factory=dict, description="Tenant -> share of its traffic sent to the judge ('*' for all tenants)."
    )
    sink_batch_size: int = Field(default=2000, ge=1, description="Rows per ClickHouse insert.")
    sink_batch_window_s: float = Field(
        default=0.08, gt=0,
        description="At most one verdicts insert per window: every insert makes a part, and frequent tiny ones "
                    "cost the server more CPU than the rows do (measured on the local server: 12-25 ms of CPU "
                    "per small insert, merges included). A little shorter than join_batch_window_s, so each "
                    "join transaction's verdicts are inserted as they arrive instead of waiting for the next "
                    "window (batch once, at the join).")
    sink_deferred_window_s: float = Field(
        default=1.0, gt=0,
        description="The redacted texts, dead letters and alerts of several fetched batches share one insert per "
                    "table per window (sooner when sink_batch_size rows wait): dashboards read them, nothing "
                    "waits for them, and every insert makes a part. Verdicts: sink_batch_window_s.")
    sink_process: bool = Field(
        default=True,
        description="`raiwatch worker` runs the ClickHouse sinks in a child process, so they use a core of "
                    "their own instead of sharing the stages' event loop; false keeps them in one process.")
    sink_max_backoff_s: float = Field(default=5.0, gt=0, description="Longest wait between insert retries.")
    alert_window_s: int = Field(default=300, ge=1, description="Alerts with one key are merged within this window.")
    alert_webhook_url: str | None = Field(
        default=None, description="Alertmanager-compatible webhook (POST /api/v2/alerts style JSON); unset: none."
    )
    web_enabled: bool = Field(default=False, description="Run the Faust worker's web server.")
    web_port: int = Field(default=6066, description="Port of the Faust web server when enabled.")

    @cached_property
    def home_dir(self) -> Path:
        """`home` with `~` expanded and made absolute."""
        return self.home.expanduser().resolve()

    @cached_property
    def cache_path(self) -> Path:
        """`cache_dir` with `~` expanded and made absolute."""
        return self.cache_dir.expanduser().resolve()

    @cached_property
    def model_path(self) -> Path:
        """`model_dir` with `~` expanded and made absolute."""
        return self.model_dir.expanduser().resolve()

    @property
    def bootstrap_servers(self) -> str:
        """Where Kafka clients connect."""
        return self.kafka_bootstrap or f"{self.host}:{self.kafka_port}"

    @property
    def clickhouse_address(self) -> str:
        """Host that ClickHouse clients connect to."""
        return self.clickhouse_host or self.host

    def topic(self, name: str) -> str:
        """The physical topic name for a registry name such as `rai.prompts`."""
        return f"{self.topic_prefix}{name}"


def get_settings(**overrides: object) -> RaiwatchSettings:
    """Settings from the environment, with explicit overrides (used by the CLI and tests)."""
    return RaiwatchSettings(**overrides)  # type: ignore[arg-type]
