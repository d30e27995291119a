-- Evaluation results record the version of data that changes between runs (the collected
-- red-team examples) and why a run failed; the collected red-team examples themselves.

ALTER TABLE {db}.eval_results ADD COLUMN IF NOT EXISTS data_version String DEFAULT '', ADD COLUMN IF NOT EXISTS detail String DEFAULT '';

CREATE TABLE IF NOT EXISTS {db}.redteam
(
    example_id        String COMMENT 'hash of the normalised prompt',
    event_time        DateTime64(3, 'UTC'),
    source            LowCardinality(String) COMMENT 'verdict | incident | manual',
    prompt_redacted   String,
    output_redacted   String,
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    model_adapter     LowCardinality(String),
    pillar            LowCardinality(String),
    category          LowCardinality(String),
    policy_id         LowCardinality(String),
    policy_version    UInt32,
    duplicates        UInt32 COMMENT 'near-duplicate violations merged into it so far',
    kafka_partition   Int32 DEFAULT -1,
    kafka_offset      Int64 DEFAULT -1,
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(written_at)
ORDER BY example_id;
