-- Policy change proposals from the regulation feed: one row per proposal (revision 1, open),
-- replaced by its decision (revision 2: approved or rejected, and by whom). `diff` is the
-- readable YAML diff, `proposed` the whole proposed policy (JSON) that approval publishes.
-- The policies table gets the source columns of the sink that now fills it from rai.policies.

CREATE TABLE IF NOT EXISTS {db}.policy_proposals
(
    proposal_id       String,
    revision          UInt32,
    event_time        DateTime64(3, 'UTC'),
    status            LowCardinality(String),
    regulation_id     String,
    reference         String,
    title             String,
    pillars           Array(LowCardinality(String)) COMMENT 'the mapping, best first',
    pillar_scores     Array(Float32),
    policy_id         String,
    from_version      UInt32,
    to_version        UInt32,
    diff              String,
    proposed          String COMMENT 'the proposed policy as JSON',
    decided_by        String,
    kafka_partition   Int32 DEFAULT -1,
    kafka_offset      Int64 DEFAULT -1,
    written_at        DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplacingMergeTree(revision)
ORDER BY proposal_id;

ALTER TABLE {db}.policies ADD COLUMN IF NOT EXISTS kafka_partition Int32 DEFAULT -1, ADD COLUMN IF NOT EXISTS kafka_offset Int64 DEFAULT -1;
