-- no-transaction
-- The index computation counts each PSU's probability-sample completes before it reads the
-- answers (the weights' denominators): with these columns in one index the count never reads
-- the wide rows (on SQLite it was a third of computing a 33,000-response wave). Built
-- CONCURRENTLY, outside a transaction: a plain CREATE INDEX would stop every submission for as
-- long as the build of a large responses table takes. If the build fails it leaves an INVALID
-- index: `DROP INDEX CONCURRENTLY responses_completes;` and start the server again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS responses_completes
    ON responses (wave_code, sample_kind, province_code, stratum, psu);
