-- raiwatch initial schema. `{db}` is replaced by the configured database name.
-- Dedup: every table is a ReplacingMergeTree keyed by a deterministic id, so a retried insert
-- never double-counts; dashboards read with FINAL (or argMax by revision). The verdicts and
-- dead_letters tables also drop an identical retried block at insert time
-- (non_replicated_deduplication_window; ReplicatedMergeTree does this by default in production).

CREATE TABLE IF NOT EXISTS {db}.verdicts
(
    verdict_id        String COMMENT 'hash(request_id, policy_id, policy_version)',
    request_id        String,
    event_time        DateTime64(3, 'UTC') COMMENT 'time of the request (prompt event), fixed across stages',
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant            LowCardinality(String),
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    model_adapter     LowCardinality(String),
    stage             LowCardinality(String),
    revision          UInt8 COMMENT 'screen=1, judge=2: the highest revision wins',
    policy_id         LowCardinality(String),
    policy_version    UInt32,
    pillars           Array(LowCardinality(String)),
    categories        Array(LowCardinality(String)),
    violation         UInt8,
    over_refusal      UInt8,
    partial           UInt8,
    severity          LowCardinality(String),
    scores            Map(LowCardinality(String), Float32) COMMENT 'check_id -> risk score',
    unscored          Array(LowCardinality(String)) COMMENT 'check_ids that timed out or failed',
    judge_score       Nullable(Float32),
    rationale         String,
    evidence          String COMMENT 'JSON array of evidence spans',
    locale            LowCardinality(String),
    input_published_at DateTime64(3, 'UTC') COMMENT 'Kafka timestamp of the latest input message',
    stage_latency_ms  Map(LowCardinality(String), Float32),
    INDEX idx_pillars pillars TYPE bloom_filter GRANULARITY 4,
    INDEX idx_request request_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree(revision)
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant, model_name, model_version, toStartOfHour(event_time), verdict_id)
TTL toDateTime(event_time) + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.messages
(
    request_id        String,
    event_time        DateTime64(3, 'UTC'),
    tenant            LowCardinality(String),
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    prompt_redacted   String COMMENT 'PII masked; stored by default',
    output_redacted   String,
    prompt_raw        String DEFAULT '' TTL toDateTime(event_time) + INTERVAL 7 DAY COMMENT 'only where a policy allows',
    output_raw        String DEFAULT '' TTL toDateTime(event_time) + INTERVAL 7 DAY
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (tenant, toStartOfHour(event_time), request_id)
TTL toDateTime(event_time) + INTERVAL 90 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS {db}.alerts
(
    alert_id          String,
    kind              LowCardinality(String),
    dedup_key         String,
    window_start      DateTime64(3, 'UTC'),
    event_time        DateTime64(3, 'UTC'),
    tenant            LowCardinality(String),
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    pillar            LowCardinality(String),
    category          LowCardinality(String),
    severity          LowCardinality(String),
    policy_id         LowCardinality(String),
    policy_version    UInt32,
    summary           String,
    verdict_ids       Array(String),
    details           Map(LowCardinality(String), Float64)
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(window_start)
ORDER BY (tenant, toDate(window_start), alert_id)
TTL toDateTime(window_start) + INTERVAL 400 DAY;

CREATE TABLE IF NOT EXISTS {db}.reviews
(
    review_id         String,
    verdict_id        String,
    request_id        String,
    event_time        DateTime64(3, 'UTC'),
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    tenant            LowCardinality(String),
    pillar            LowCardinality(String),
    category          LowCardinality(String),
    reason            String,
    status            LowCardinality(String) COMMENT 'pending | labelled',
    label             LowCardinality(String),
    reviewer          String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (tenant, review_id);

CREATE TABLE IF NOT EXISTS {db}.eval_results
(
    eval_id           String,
    event_time        DateTime64(3, 'UTC'),
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    model_adapter     LowCardinality(String),
    suite             LowCardinality(String),
    pillar            LowCardinality(String),
    category          LowCardinality(String),
    metric            LowCardinality(String),
    value             Float64,
    ci_low            Nullable(Float64),
    ci_high           Nullable(Float64),
    n                 UInt32,
    status            LowCardinality(String)
)
ENGINE = ReplacingMergeTree
ORDER BY (model_name, model_version, model_adapter, suite, pillar, category, metric, eval_id);

CREATE TABLE IF NOT EXISTS {db}.checkpoints
(
    checkpoint_id     String,
    job_id            String,
    event_time        DateTime64(3, 'UTC'),
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    base_model        LowCardinality(String),
    adapter_id        String,
    path              String,
    step              UInt32,
    metrics           Map(LowCardinality(String), Float64),
    status            LowCardinality(String) COMMENT 'saved | evaluated | promoted | rejected',
    decision_reason   String
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (job_id, checkpoint_id);

CREATE TABLE IF NOT EXISTS {db}.policies
(
    policy_id         String,
    version           UInt32,
    event_time        DateTime64(3, 'UTC'),
    pillar            LowCardinality(String),
    title             String,
    severity          LowCardinality(String),
    active            UInt8,
    body              String COMMENT 'the policy as JSON'
)
ENGINE = ReplacingMergeTree
ORDER BY (policy_id, version);

CREATE TABLE IF NOT EXISTS {db}.dead_letters
(
    event_id          String COMMENT 'hash of source topic, partition, offset and stage',
    event_time        DateTime64(3, 'UTC') COMMENT 'time of the source message',
    source_topic      LowCardinality(String),
    source_partition  Int32,
    source_offset     Int64,
    reason            LowCardinality(String),
    detail            String,
    stage             LowCardinality(String),
    original          String COMMENT 'the original bytes'
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (source_topic, event_id)
TTL toDateTime(event_time) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000;
