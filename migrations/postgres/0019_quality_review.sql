-- Quality review of single responses (issue #25; docs/methodology.md, "Quality review").
-- Measures taken when a response arrives, from its answers and paradata (no personal data):
-- items with a substantive answer, items shown but answered "not applicable" or left empty,
-- the longest run of one answer on consecutive rating items. NULL on responses stored before
-- this version (no check applies to them). The methodology's [quality] thresholds turn the
-- measures into flags when a queue or a computation reads them.
ALTER TABLE responses ADD COLUMN answered_items BIGINT;
ALTER TABLE responses ADD COLUMN no_answer_items BIGINT;
ALTER TABLE responses ADD COLUMN straight_line BIGINT;
-- 1 when another response of the same wave and commune (PSU) has the very same answers: set on
-- both when the second arrives.
ALTER TABLE responses ADD COLUMN duplicate INTEGER NOT NULL DEFAULT 0 CHECK (duplicate IN (0, 1));
-- The latest review decision (NULL: none). A flagged response counts only when 'approved'; an
-- 'excluded' one never counts, flagged or not.
ALTER TABLE responses ADD COLUMN review TEXT CHECK (review IN ('approved', 'excluded'));
ALTER TABLE responses ADD COLUMN review_reason TEXT;

-- Every decision, in order: a decision is reversed by a newer one, never edited (the
-- application role may only add rows).
CREATE TABLE response_reviews (
    id BIGSERIAL PRIMARY KEY,
    receipt TEXT NOT NULL REFERENCES responses (receipt),
    decision TEXT NOT NULL CHECK (decision IN ('approved', 'excluded')),
    reason TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    decided_by BIGINT NOT NULL REFERENCES staff_users (id),
    decided_at TEXT NOT NULL
);
CREATE INDEX response_reviews_receipt ON response_reviews (receipt, id);

-- A release says what the quality review left out of it, per province and reason (JSON list of
-- {province, reason, count}; '[]' for releases published before this version).
ALTER TABLE releases ADD COLUMN left_out TEXT NOT NULL DEFAULT '[]';
