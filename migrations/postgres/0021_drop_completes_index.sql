-- no-transaction
-- Replaced by responses_reviewed_completes (0020).
DROP INDEX CONCURRENTLY IF EXISTS responses_completes;
