-- The trigger log: every re-evaluation or retraining request a cause (a policy change) asked
-- for, sent ("emitted") or held back by the rate limit, and why.

CREATE TABLE IF NOT EXISTS {db}.triggers
(
    trigger_id        String,
    event_time        DateTime64(3, 'UTC'),
    cause             String COMMENT 'e.g. policy:safety.harmful-compliance@3',
    kind              LowCardinality(String) COMMENT 'eval or train',
    request_id        String COMMENT 'eval_id or job_id (deterministic)',
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    model_adapter     LowCardinality(String),
    status            LowCardinality(String) COMMENT 'emitted or held_back',
    detail            String,
    kafka_partition   Int32 DEFAULT -1,
    kafka_offset      Int64 DEFAULT -1,
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (cause, trigger_id);
