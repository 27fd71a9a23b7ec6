-- Replaced by responses_reviewed_completes (0020).
DROP INDEX IF EXISTS responses_completes;
