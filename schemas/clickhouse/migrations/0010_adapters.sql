-- The adapter registry (models/adapter_registry.py): every LoRA adapter trained, what it was
-- trained from and on, its numbers, its status, and the tenants or use cases it serves. The
-- latest row of an adapter wins.

CREATE TABLE IF NOT EXISTS {db}.adapters
(
    adapter_id        String,
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    base_model        String,
    model_name        LowCardinality(String) COMMENT 'the model name traffic uses',
    version           String COMMENT 'the model version a promotion publishes',
    path              String,
    job_id            String,
    data_version      String,
    policy_versions   Map(String, UInt32),
    metrics           Map(LowCardinality(String), Float64),
    status            LowCardinality(String) COMMENT 'candidate | promoted | rejected | retired',
    tenants           Array(String) COMMENT 'empty: every tenant',
    use_cases         Array(String),
    reason            String,
    replaces          String COMMENT 'the adapter its promotion retired'
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY adapter_id;

-- What each training job reported (rai.train.results): started, progress, promoted, rejected, failed.
CREATE TABLE IF NOT EXISTS {db}.train_results
(
    job_id            String,
    event_time        DateTime64(3, 'UTC'),
    status            LowCardinality(String),
    adapter_id        String,
    checkpoint_path   String,
    metrics           Map(LowCardinality(String), Float64),
    message           String
)
ENGINE = ReplacingMergeTree
ORDER BY (job_id, status, event_time);
