-- The incident feed: every report with its pillar, category and the original it reposts
-- (empty for an original), and each category's risk level changes.

CREATE TABLE IF NOT EXISTS {db}.incidents
(
    incident_id              String,
    event_time               DateTime64(3, 'UTC'),
    source                   LowCardinality(String),
    url                      String,
    text                     String COMMENT 'masked by the storage masker',
    example_prompt_redacted  String,
    model                    LowCardinality(String),
    pillar                   LowCardinality(String),
    category                 LowCardinality(String),
    duplicate_of             String COMMENT 'the original this reposts; empty for an original',
    similarity               Float32 COMMENT 'word-3-gram Jaccard with the closest earlier original',
    kafka_partition          Int32 DEFAULT -1,
    kafka_offset             Int64 DEFAULT -1,
    written_at               DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY incident_id;

CREATE TABLE IF NOT EXISTS {db}.risk_levels
(
    category             LowCardinality(String),
    event_time           DateTime64(3, 'UTC'),
    level                LowCardinality(String) COMMENT 'elevated or normal',
    pillar               LowCardinality(String),
    window_count         UInt32,
    baseline_per_window  Float32,
    detail               String,
    kafka_partition      Int32 DEFAULT -1,
    kafka_offset         Int64 DEFAULT -1,
    written_at           DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree
ORDER BY (category, event_time);
