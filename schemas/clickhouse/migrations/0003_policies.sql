-- Policies as code: the `id@version` of every policy a verdict was judged under, and the ids of
-- the policies its findings break (a verdict's policy_id/policy_version name the set and its
-- generation). Rows written before this migration have both empty.

ALTER TABLE {db}.verdicts ADD COLUMN IF NOT EXISTS policies Array(LowCardinality(String)) DEFAULT [], ADD COLUMN IF NOT EXISTS broken_policies Array(LowCardinality(String)) DEFAULT [];
