"""The one typed settings object, in groups. Every knob has a default, a reason, and an
environment name: `RAIWATCH_<GROUP>__<FIELD>` (two underscores between group and field, lists
and dicts as JSON), e.g. `RAIWATCH_KAFKA__BOOTSTRAP_SERVERS`, `RAIWATCH_JOIN__TIMEOUT_S`.

Why one object: the stack scripts, the CLI, the workers and the tests must agree on ports,
directories and topic names; reading them from one place keeps them from drifting. Why groups:
the local stack's ports, the clients' connection settings and each stage's tuning are read by
different people for different reasons.

Secrets (`kafka.password`, `clickhouse.password`, `judge_api_key`) are `SecretStr`: they print
as `**********`, so a log line or `raiwatch stack status --json` never shows them.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ..schemas.checks import CheckSpec


class _Group(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StackSettings(_Group):
    """The local stack that `raiwatch stack up` starts on loopback (Kafka + ClickHouse)."""

    home: Path = Field(default=Path("~/.raiwatch"),
                       description="State of the local stack: Kafka log dirs, ClickHouse data, pid and log files.")
    host: str = Field(default="127.0.0.1", description="Address the local services bind to (loopback only).")
    kafka_port: int = Field(default=9092, description="Local Kafka client listener port.")
    kafka_controller_port: int = Field(default=9093, description="Local KRaft controller listener port.")
    kafka_heap: str = Field(default="768m", description="Java heap (-Xmx = -Xms) of the local broker.")
    clickhouse_http_port: int = Field(default=8123, description="Local ClickHouse HTTP port.")
    clickhouse_tcp_port: int = Field(default=9000, description="Local ClickHouse native TCP port.")
    health_timeout_s: float = Field(default=60.0, description="How long `stack up` waits for health.")
    clickhouse_reader_user: str | None = Field(
        default=None, description="A read-only ClickHouse user for dashboards that the local server defines "
                                  "(besides clickhouse.user, the workers' own); unset: none.")
    clickhouse_reader_password: SecretStr | None = Field(default=None, description="That user's password.")
    kafka_secure_port: int | None = Field(
        default=None, description="A second listener of the local broker on this port: SASL_SSL with SCRAM-SHA-512 "
                                  "(needs kafka_keystore and kafka_scram_users); unset: plaintext only.")
    kafka_keystore: Path | None = Field(default=None,
                                        description="PKCS12 keystore with the broker's key and certificate chain.")
    kafka_keystore_password: SecretStr | None = Field(default=None, description="The keystore's password.")
    kafka_scram_users: dict[str, SecretStr] = Field(
        default_factory=dict, description="SCRAM-SHA-512 users (name -> password) the local broker is formatted with.")

    @cached_property
    def home_dir(self) -> Path:
        """`home` with `~` expanded and made absolute."""
        return self.home.expanduser().resolve()


class KafkaSettings(_Group):
    """How every raiwatch Kafka client connects, and the topic naming."""

    bootstrap_servers: str | None = Field(default=None, description="Bootstrap servers; unset means the local stack's broker.")
    topic_prefix: str = Field(default="", description="Prepended to every topic name; lets tests and tenants share a broker.")
    max_message_bytes: int = Field(default=1_048_576, gt=0,
                                   description="Input messages larger than this go to the DLQ as oversize.")
    topic_replication: int = Field(default=1, ge=1,
                                   description="Replication factor of the topics raiwatch creates (1 on the local "
                                               "single broker; 3 on a production cluster).")
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="Kafka security protocol of every client.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism when the protocol is SASL_*.")
    username: str | None = Field(default=None, description="SASL user name.")
    password: SecretStr | None = Field(default=None, description="SASL password (never logged).")
    ssl_cafile: Path | None = Field(default=None, description="CA certificate (PEM) that signed the brokers' certificates.")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (PEM) for mutual TLS.")
    ssl_keyfile: Path | None = Field(default=None, description="Client key (PEM) for mutual TLS.")
    client: dict[str, Any] = Field(default_factory=dict,
                                   description="Extra keyword arguments for every aiokafka client (e.g. client_id, "
                                               "request_timeout_ms, metadata_max_age_ms), passed as they are.")
    consumer: dict[str, Any] = Field(default_factory=dict,
                                     description="Extra keyword arguments for aiokafka consumers only (e.g. "
                                                 "session_timeout_ms, max_poll_interval_ms).")
    producer: dict[str, Any] = Field(default_factory=dict,
                                     description="Extra keyword arguments for aiokafka producers only (e.g. "
                                                 "compression_type, request_timeout_ms).")


class ClickHouseSettings(_Group):
    """How raiwatch reaches ClickHouse (the local stack's server unless `host` is set)."""

    host: str | None = Field(default=None, description="ClickHouse host; unset means the local stack's server.")
    port: int | None = Field(default=None, description="HTTP(S) port; unset means the local stack's.")
    secure: bool = Field(default=False, description="HTTPS.")
    database: str = Field(default="raiwatch", description="Database for all tables.")
    user: str = Field(default="default", description="User the workers write as.")
    password: SecretStr = Field(default=SecretStr(""), description="Password (never logged).")
    client: dict[str, Any] = Field(default_factory=dict,
                                   description="Extra keyword arguments for clickhouse-connect's get_client.")


class StageSettings(_Group):
    """The stage runtime (`streams/runtime/`): identity, transactions, supervision, health."""

    app_id: str = Field(default="raiwatch",
                        description="Prefix of the consumer groups, transactional ids and internal topics.")
    worker_id: str = Field(
        default="0",
        description="This worker's identity: the stages' Kafka transactional ids derive from it, so a restarted "
                    "worker fences and aborts what its killed predecessor left open. Give every concurrently "
                    "running worker its own.")
    transaction_timeout_s: float = Field(
        default=15.0, gt=0,
        description="The broker aborts a Kafka-to-Kafka stage's transaction left open longer than this (a killed "
                    "worker's): until then its partitions wait on the new owner. Must exceed one batch's work.")
    stall_after_s: float = Field(
        default=120.0, gt=0,
        description="A partition whose position has not moved for this long while it has lag raises a stall alert.")
    max_restarts: int = Field(default=3, ge=0,
                              description="A crashed loop is restarted this many times (per restart_window_s) before "
                                          "the worker exits non-zero.")
    restart_window_s: float = Field(default=300.0, gt=0, description="Window over which restarts are counted.")
    health_port: int | None = Field(default=None, description="Port of the worker's health endpoint; unset: none.")
    health_host: str = Field(default="127.0.0.1",
                             description="Address the health endpoint binds to (0.0.0.0 in a container, for probes).")
    ready_max_lag: int = Field(default=10_000, ge=0,
                               description="Readiness: at most this many records behind on every assigned partition.")
    fetch_max_wait_ms: int = Field(
        default=20, ge=0,
        description="How long the broker may hold an empty fetch: a read_committed fetch held by the broker is not "
                    "woken when a transaction commits, and the default (500 ms) showed in the end-to-end latency.")
    stop_timeout_s: float = Field(default=60.0, gt=0,
                                  description="On SIGTERM, how long the loops may take to finish their checkpoint "
                                              "and leave their groups before they are cancelled.")
    producer_linger_ms: int = Field(default=5, ge=0,
                                    description="How long a producer waits to fill a batch: a few ms batch a "
                                                "checkpoint's outputs without showing in the latency.")
    producer_batch_bytes: int = Field(default=262_144, gt=0, description="Largest producer batch per partition.")
    producer_retry_backoff_ms: int = Field(
        default=10, ge=0,
        description="aiokafka waits this long before retrying, also after each transaction commit: its default "
                    "(100 ms) took the pipeline's p99 latency from ~300 to 620 ms (measured).")
    fetch_max_bytes: int = Field(default=16 * 1024 * 1024, gt=0, description="Most bytes one fetch brings.")
    max_partition_fetch_bytes: int = Field(
        default=4 * 1024 * 1024, gt=0,
        description="Most bytes one fetch brings per partition (a larger record batch still comes whole).")
    process_sinks_apart: bool = Field(
        default=True,
        description="`raiwatch worker` runs the ClickHouse sinks in a child process, so they use a core of their own "
                    "instead of sharing the stages' event loop (measured: the worker's loop was the bottleneck).")


class JoinSettings(_Group):
    """The join stage (prompt + output by request_id); it screens each batch too."""

    timeout_s: float = Field(default=10.0, gt=0,
                             description="How long a prompt waits for its output (and vice versa) before a partial verdict.")
    retention_s: float = Field(default=600.0, gt=0,
                               description="How long a joined request is remembered, to drop late duplicates.")
    batch_size: int = Field(default=1000, ge=1, description="Most input records per join batch.")
    batch_window_s: float = Field(
        default=0.1, gt=0,
        description="At most one join batch (one Kafka transaction) per window: each commit costs the broker a round "
                    "of markers, so back-to-back tiny transactions slow everything on a small machine. This is where "
                    "the pipeline batches; keep sinks.batch_window_s a little shorter.")


class ScreenSettings(_Group):
    """The checks the join's screen step runs on every request."""

    checks: list[CheckSpec] = Field(
        default_factory=lambda: [CheckSpec(name=name) for name in (
            "pii.regex", "harm.keywords", "refusal.keywords", "leakage.system_prompt", "disclosure.ai_identity",
            "grounding.context", "explain.refusal_reason", "governance.model_registry")],
        description="Checks with their arguments: names or {\"name\": ..., \"args\": {...}} (JSON in the environment).")


class JudgeSettings(_Group):
    """The judge stage: routed verdicts to an LLM judge."""

    check: CheckSpec | None = Field(default=None,
                                    description="The judge check with its arguments, e.g. {\"name\": \"judge.safety\", "
                                                "\"args\": {\"backend\": \"openai\", \"base_url\": ...}}; unset: no judge stage.")
    batch_size: int = Field(default=16, ge=1, description="Routed verdicts per judge batch.")
    batch_window_s: float = Field(
        default=0.05, gt=0,
        description="At most one judge transaction per window, so the stage's ceiling is batch_size / window "
                    "verdicts/s (raise the batch size for a GPU judge).")
    transaction_timeout_s: float = Field(
        default=120.0, gt=0, description="Judge batches take seconds on a CPU: their transactions may stay open longer.")
    band: tuple[float, float] = Field(default=(0.35, 0.65), description="Scores in this band are uncertain and go to the judge; for a check with its own threshold the band moves to centre on it (0.35-0.65 around a threshold of 0.3: 0.15-0.45).")
    high_risk_categories: list[str] = Field(
        default_factory=lambda: ["S1.violent_crimes", "S9.weapons", "S11.self_harm"],
        description="Categories always sent to the judge.")
    sample_rates: dict[str, float] = Field(default_factory=dict,
                                           description="Tenant -> share of its traffic sent to the judge ('*' for all).")
    api_key: SecretStr | None = Field(default=None,
                                      description="Bearer token for an OpenAI-compatible judge server (never logged).")


class SinkSettings(_Group):
    """The ClickHouse sinks."""

    batch_size: int = Field(default=2000, ge=1, description="Most records per ClickHouse insert.")
    batch_window_s: float = Field(
        default=0.08, gt=0,
        description="At most one verdicts insert per window: every insert makes a part, and frequent tiny ones cost the "
                    "server more CPU than the rows do (12-25 ms of CPU per small insert on the local server). A little "
                    "shorter than join.batch_window_s, so each join transaction's verdicts go in as they arrive.")
    deferred_window_s: float = Field(
        default=1.0, gt=0,
        description="The redacted texts, dead letters and alerts are inserted at most once per window by a loop of "
                    "their own: dashboards read them, nothing waits for them, and every insert makes a part.")
    max_backoff_s: float = Field(default=5.0, gt=0,
                                 description="Longest pause of a sink's partitions while ClickHouse refuses inserts.")
    first_backoff_s: float = Field(default=0.1, gt=0,
                                   description="First pause after a refused insert; it doubles up to max_backoff_s.")
    insert_timeout_s: float = Field(default=30.0, gt=0,
                                    description="A ClickHouse insert that takes longer counts as failed (and is retried "
                                                "with the same deduplication token).")


class AlertSettings(_Group):
    """Alerting."""

    window_s: int = Field(default=300, ge=1, description="Alerts with one key are merged within this window.")
    webhook_url: str | None = Field(default=None,
                                    description="Alertmanager-compatible webhook (POST /api/v2/alerts JSON); unset: none.")


class TriggerSettings(_Group):
    """Re-evaluation and retraining requests set in motion by policy changes."""

    max_per_cause_per_hour: int = Field(default=4, ge=1, description="More requests with one cause in an hour are "
                                        "held back (logged, not sent): a storm of changes is not a storm of jobs.")
    model_lookback_h: float = Field(default=24.0, gt=0, description="Models seen in traffic this recently are "
                                    "the ones a change asks to re-evaluate.")


class IncidentSettings(_Group):
    """The incident feed (`streams/incidents.py`)."""

    duplicate_threshold: float = Field(default=0.75, gt=0, le=1, description="Word-3-gram Jaccard at or above which "
                                       "a report is a repost of an earlier one (chosen by ops/bench/incident_dedup.py).")
    recent_per_category: int = Field(default=300, ge=1, description="Originals per category kept for the test.")
    burst_window_s: float = Field(default=900.0, gt=0, description="A burst is counted in windows this long.")
    baseline_window_s: float = Field(default=86400.0, gt=0, description="The rate a burst is compared with is "
                                     "measured over this long before the window.")
    burst_min: int = Field(default=8, ge=1, description="At least this many reports in the window make a burst.")
    burst_factor: float = Field(default=5.0, ge=1, description="... and this many times the baseline's mean count.")
    redteam_batch: int = Field(default=20, ge=1, description="Every this many new red-team examples of a pillar "
                               "ask for a re-evaluation.")


class RegressionSettings(_Group):
    """The regression watch (`streams/regression_watch.py`): candidate model versions against
    their baselines, and each version against its own past (drift)."""

    enabled: bool = Field(default=True, description="Run the watch in the feeds part.")
    interval_s: float = Field(default=15.0, gt=0, description="How often the watch reads the per-minute metrics.")
    lateness_s: float = Field(default=30.0, ge=0, description="A minute is first read once it ended this long ago.")
    recheck_minutes: int = Field(default=10, ge=0, description="Minutes read again each round: rows the pipeline "
                                 "stored late count once, as a batch of their own; later than this they count on "
                                 "the dashboards only.")
    alpha: float = Field(default=0.01, gt=0, lt=1, description="Family-wise false-alarm budget of one candidate "
                         "version, split evenly across `keys` (Bonferroni): the chance of any false alarm, ever.")
    keys: int = Field(default=50, ge=1, description="Keys (tenant x pillar x category) the budget is split across.")
    expected_ratio: float = Field(default=2.0, gt=1, description="The odds ratio worth paging for: the test's "
                                  "mixture is centred on it (smaller regressions are found too, later).")
    spread: float = Field(default=0.35, gt=0, description="Spread of the mixture on the log odds ratio.")
    resolve_below_ratio: float = Field(default=1.5, gt=1, description="An open regression resolves once a fresh "
                                       "test's interval for the odds ratio lies wholly below this.")
    baselines: dict[str, str] = Field(default_factory=dict, description="Registry of model versions: "
                                      "'model:version' -> baseline version. Unlisted: the version of the same model "
                                      "first seen before it.")
    drift_ratio: float = Field(default=2.0, gt=1, description="CUSUM: the rise over a version's own reference rate "
                               "to detect.")
    drift_alpha: float = Field(default=1e-6, gt=0, lt=1, description="CUSUM threshold log(1/alpha): at least 1/alpha "
                               "minutes between false alarms of one key (a million minutes: about two years).")
    drift_reference_requests: int = Field(default=5000, ge=1, description="Requests of a version (per tenant) that "
                                          "set its reference rate before its drift is watched.")


class EvalSettings(_Group):
    """Offline evaluation (`raiwatch eval`, `raiwatch evaluator`, checkpoint selection)."""

    work_dir: Path = Field(default=Path("~/.raiwatch/eval"), description="Replies of each run (a killed run "
                           "resumes from them), one folder per eval id.")
    backend: Literal["transformers", "vllm", "openai"] = Field(default="transformers",
                                                                description="How the model under test generates.")
    base_url: str | None = Field(default=None, description="The OpenAI-compatible server (backend openai).")
    models: dict[str, str] = Field(default_factory=dict, description="Model name (as in traffic) -> checkpoint "
                                   "path or store name, for requests that name a model without a checkpoint path.")
    limit_per_suite: int = Field(default=50, ge=1, description="Items per suite (a fixed sample by prompt hash).")
    batch_size: int = Field(default=32, ge=1, description="Prompts per generation batch (on this CPU 32 generate "
                            "2.3x faster per reply than 8: a small model's decoding is bound by per-step overhead).")
    dtype: Literal["auto", "float32", "bfloat16"] = Field(default="auto", description="Weights of the model under "
                                                          "test (transformers): auto is bfloat16 on a GPU or a CPU "
                                                          "with AMX, else float32.")
    max_new_tokens: int = Field(default=96, ge=1, description="Reply length cap.")
    use_judge: bool = Field(default=False, description="Also score harmful-request replies with the configured "
                            "judge (`judge.check`), which then decides harmful compliance.")
    max_over_refusal_increase: float = Field(default=0.02, ge=0, description="Checkpoint selection and promotion: "
                                             "over-refusal may rise at most this much over the baseline.")

    @cached_property
    def work_path(self) -> Path:
        return self.work_dir.expanduser().resolve()


class TrainSettings(_Group):
    """Retraining (`raiwatch trainer`, `streams/trainer_worker.py`)."""

    on_policy_prompts: int = Field(default=0, ge=0, description="Training prompts the current model answers k times "
                                   "for on-policy pairs (0: none).")
    on_policy_k: int = Field(default=4, ge=2, description="Sampled replies per prompt.")
    reward_adapter: str | None = Field(default=None, description="The reward model (`raiwatch train reward`) that "
                                       "ranks them; unset: not used.")
    reward_weight: float = Field(default=0.5, ge=0, description="Its weight in the combined risk.")
    judge_weight: float = Field(default=0.5, ge=0, description="The judge's (`judge.check`) weight; 0 or no judge: "
                                "not used.")
    margin: float = Field(default=0.2, gt=0, le=1, description="Least combined-risk gap between chosen and rejected.")


class RaiwatchSettings(BaseSettings):
    """Configuration for every raiwatch process; see the module docstring for the variable names."""

    model_config = SettingsConfigDict(env_prefix="RAIWATCH_", env_nested_delimiter="__", frozen=True, extra="ignore")

    cache_dir: Path = Field(default=Path("~/.cache/raiwatch"),
                            description="Expensive, shareable downloads (Kafka jars, venvs).")
    model_dir: Path = Field(default=Path("~/.cache/raiwatch/models"),
                            description="Local model store: converted checkpoints and trained guardrail artifacts.")
    stack: StackSettings = Field(default_factory=StackSettings)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    clickhouse: ClickHouseSettings = Field(default_factory=ClickHouseSettings)
    stages: StageSettings = Field(default_factory=StageSettings)
    join: JoinSettings = Field(default_factory=JoinSettings)
    screen: ScreenSettings = Field(default_factory=ScreenSettings)
    judge: JudgeSettings = Field(default_factory=JudgeSettings)
    sinks: SinkSettings = Field(default_factory=SinkSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    triggers: TriggerSettings = Field(default_factory=TriggerSettings)
    incidents: IncidentSettings = Field(default_factory=IncidentSettings)
    regression: RegressionSettings = Field(default_factory=RegressionSettings)
    eval: EvalSettings = Field(default_factory=EvalSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)

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
        return self.kafka.bootstrap_servers or f"{self.stack.host}:{self.stack.kafka_port}"

    @property
    def clickhouse_address(self) -> tuple[str, int]:
        """Host and HTTP port that ClickHouse clients connect to."""
        return (self.clickhouse.host or self.stack.host,
                self.clickhouse.port or self.stack.clickhouse_http_port)

    def topic(self, name: str) -> str:
        """The physical topic name for a registry name such as `rai.prompts`."""
        return f"{self.kafka.topic_prefix}{name}"

    def replace(self, **changes: Any) -> RaiwatchSettings:
        """A copy with fields changed, named as in the environment without the prefix:
        `settings.replace(join__timeout_s=3.0, kafka__topic_prefix="t.")`."""
        data = self.model_dump()
        for dotted, value in changes.items():
            *groups, field = dotted.split("__")
            target = data
            for group in groups:
                target = target[group]
            if field not in target:
                raise KeyError(f"no setting {dotted!r}")
            target[field] = value.model_dump() if isinstance(value, BaseModel) else value
        return type(self).model_validate(_reveal(data))

    def environment(self) -> dict[str, str]:
        """The `RAIWATCH_*` variables that reproduce these settings in a child process
        (secrets included, in clear: for a child's environment only)."""
        env: dict[str, str] = {}
        for name, value in _reveal(self.model_dump()).items():
            if isinstance(getattr(self, name), BaseModel):
                for field, inner in value.items():
                    if inner is not None:
                        env[f"RAIWATCH_{name.upper()}__{field.upper()}"] = _env_value(inner)
            elif value is not None:
                env[f"RAIWATCH_{name.upper()}"] = _env_value(value)
        return env


def _env_value(value: Any) -> str:
    if isinstance(value, (list, dict, tuple, bool)):
        return json.dumps(value, default=str)
    return str(value)


def _reveal(data: Any) -> Any:
    """`model_dump` with SecretStr values replaced by their text (for copies and child processes)."""
    if isinstance(data, SecretStr):
        return data.get_secret_value()
    if isinstance(data, dict):
        return {k: _reveal(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_reveal(v) for v in data]
    return data


def get_settings(**changes: Any) -> RaiwatchSettings:
    """Settings from the environment, with changes named as in `RaiwatchSettings.replace`."""
    settings = RaiwatchSettings()
    return settings.replace(**changes) if changes else settings
