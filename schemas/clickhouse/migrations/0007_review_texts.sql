-- Reviews are filled from rai.reviews by the sinks (source columns) and carry the redacted
-- texts the reviewer reads; a label replaces the pending row (ReplacingMergeTree(updated_at)).

ALTER TABLE {db}.reviews ADD COLUMN IF NOT EXISTS prompt_redacted String DEFAULT '', ADD COLUMN IF NOT EXISTS output_redacted String DEFAULT '', ADD COLUMN IF NOT EXISTS preferred_output String DEFAULT '', ADD COLUMN IF NOT EXISTS kafka_partition Int32 DEFAULT -1, ADD COLUMN IF NOT EXISTS kafka_offset Int64 DEFAULT -1;
