-- The computation counts each PSU's completes that pass the quality review before it reads the
-- answers: the review and the measures join the covering index, so the count still never
-- reads the wide rows (see 0015; on PostgreSQL built CONCURRENTLY, one statement per file:
-- a failed build leaves an INVALID index, drop it CONCURRENTLY and run `sipas migrate`).
CREATE INDEX IF NOT EXISTS responses_reviewed_completes
    ON responses (wave_code, sample_kind, province_code, stratum, psu, review, channel,
    duration_secs, answered_items, no_answer_items, straight_line, duplicate);
