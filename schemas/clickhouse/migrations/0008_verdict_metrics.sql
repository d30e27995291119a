-- Per-minute metrics the dashboards, `raiwatch metrics` and the regression watch read: requests,
-- violations, over-refusals, partials, judged requests, judge score and latency quantiles per
-- minute x tenant x model x version x adapter x pillar x category x locale.
--
-- Exact under the two ways verdict rows repeat or change:
-- - a re-inserted record: the sink never stores a Kafka record's rows twice (source
--   positions, migration 0002), and an identical retried block is dropped at insert time
--   (non_replicated_deduplication_window); so is the view's block derived from it (the view's
--   table keeps a deduplication window too: this ClickHouse deduplicates dependent views by
--   their own blocks, `deduplicate_blocks_in_dependent_materialized_views`);
-- - a judge revision replacing a screen verdict: the revision carries what the screen verdict
--   counted (`prev_*`), and the view subtracts it (sign -1) while adding the revision (+1).
-- Row (pillar '', category '') counts every request; row (pillar, category) counts the requests
-- with a finding there (over-refusals under ('controllability', 'over_refusal')). A rate per
-- pillar is violations at (pillar, category) over requests at ('', '').

ALTER TABLE {db}.verdicts ADD COLUMN IF NOT EXISTS findings Array(Tuple(LowCardinality(String), LowCardinality(String))) DEFAULT [], ADD COLUMN IF NOT EXISTS prev_revision UInt8 DEFAULT 0, ADD COLUMN IF NOT EXISTS prev_findings Array(Tuple(LowCardinality(String), LowCardinality(String))) DEFAULT [], ADD COLUMN IF NOT EXISTS prev_violation UInt8 DEFAULT 0, ADD COLUMN IF NOT EXISTS prev_over_refusal UInt8 DEFAULT 0, ADD COLUMN IF NOT EXISTS prev_partial UInt8 DEFAULT 0;

CREATE TABLE IF NOT EXISTS {db}.verdict_metrics_1m
(
    minute            DateTime('UTC'),
    tenant            LowCardinality(String),
    model_name        LowCardinality(String),
    model_version     LowCardinality(String),
    model_adapter     LowCardinality(String),
    pillar            LowCardinality(String) COMMENT 'empty: every request',
    category          LowCardinality(String),
    locale            LowCardinality(String),
    requests          SimpleAggregateFunction(sum, Int64),
    violations        SimpleAggregateFunction(sum, Int64),
    over_refusals     SimpleAggregateFunction(sum, Int64),
    partials          SimpleAggregateFunction(sum, Int64),
    judged            SimpleAggregateFunction(sum, Int64),
    judge_score       AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float32),
    screen_latency_ms AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float32),
    judge_latency_ms  AggregateFunction(quantilesTDigest(0.5, 0.9, 0.99), Float32)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(minute)
ORDER BY (tenant, model_name, model_version, model_adapter, pillar, category, locale, minute)
TTL minute + INTERVAL 400 DAY
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.verdict_metrics_1m_mv TO {db}.verdict_metrics_1m AS
SELECT
    toStartOfMinute(event_time) AS minute,
    tenant, model_name, model_version, model_adapter,
    part.2 AS pillar,
    part.3 AS category,
    locale,
    sum(part.1) AS requests,
    sum(part.1 * part.4) AS violations,
    sum(part.1 * part.5) AS over_refusals,
    sum(part.1 * part.6) AS partials,
    sum(if(part.1 > 0 AND revision = 2, 1, 0)) AS judged,
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(ifNull(judge_score, 0)), part.1 > 0 AND revision = 2 AND judge_score IS NOT NULL) AS judge_score,
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(stage_latency_ms['join_wait'] + stage_latency_ms['screen']), part.1 > 0 AND revision = 1) AS screen_latency_ms,
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(stage_latency_ms['judge']), part.1 > 0 AND revision = 2) AS judge_latency_ms
FROM {db}.verdicts
ARRAY JOIN arrayConcat(
    [(toInt64(1), '', '', violation, over_refusal, partial)],
    arrayMap(f -> (toInt64(1), toString(f.1), toString(f.2), violation, over_refusal, partial), findings),
    if(prev_revision > 0, [(toInt64(-1), '', '', prev_violation, prev_over_refusal, prev_partial)], []),
    if(prev_revision > 0, arrayMap(f -> (toInt64(-1), toString(f.1), toString(f.2), prev_violation, prev_over_refusal, prev_partial), prev_findings), [])
) AS part
GROUP BY minute, tenant, model_name, model_version, model_adapter, pillar, category, locale;

-- What was stored before this view existed, counted once from the final revisions.
INSERT INTO {db}.verdict_metrics_1m
SELECT
    toStartOfMinute(event_time) AS minute, tenant, model_name, model_version, model_adapter,
    pair.1 AS pillar, pair.2 AS category, locale,
    count() AS requests, sum(violation) AS violations, sum(over_refusal) AS over_refusals, sum(partial) AS partials,
    sum(revision = 2) AS judged,
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(ifNull(judge_score, 0)), revision = 2 AND judge_score IS NOT NULL),
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(stage_latency_ms['join_wait'] + stage_latency_ms['screen']), revision = 1),
    quantilesTDigestStateIf(0.5, 0.9, 0.99)(toFloat32(stage_latency_ms['judge']), revision = 2)
FROM {db}.verdicts FINAL
ARRAY JOIN arrayConcat([('', '')], arrayMap(p -> (toString(p), ''), pillars)) AS pair
GROUP BY minute, tenant, model_name, model_version, model_adapter, pillar, category, locale;

-- The regression watch's state (streams/regression_watch.py): its tests, CUSUMs, the versions
-- it has seen and the last minute it read; the latest row wins.
CREATE TABLE IF NOT EXISTS {db}.regression_state
(
    watch             String,
    updated_at        DateTime64(3, 'UTC') DEFAULT now64(3),
    cursor            DateTime('UTC'),
    state             String COMMENT 'JSON (RegressionBook.to_state)'
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY watch;
