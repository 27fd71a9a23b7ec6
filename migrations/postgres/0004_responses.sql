-- Waves name the questionnaire version their respondents answer, and may open a link for pilots.
ALTER TABLE waves ADD COLUMN questionnaire_code TEXT;
ALTER TABLE waves ADD COLUMN questionnaire_version BIGINT;
-- 0 or 1 (an integer on both engines, so one query layer reads it).
ALTER TABLE waves ADD COLUMN open_link BIGINT NOT NULL DEFAULT 0 CHECK (open_link IN (0, 1));

-- Codes issued through the open link are a non-probability sample; results must say so.
ALTER TABLE invitation_codes ADD COLUMN sample_kind TEXT NOT NULL DEFAULT 'probability'
    CHECK (sample_kind IN ('probability', 'open'));

-- The answers so far, per code, so a respondent can resume on any device. Kept (frozen) after
-- the response is stored: a retried form post carries only its last section, and the draft
-- rebuilds the same content, so the retry gets the same receipt.
CREATE TABLE survey_drafts (
    code_hash TEXT PRIMARY KEY REFERENCES invitation_codes (code_hash),
    answers TEXT NOT NULL,
    step BIGINT NOT NULL,
    started_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- One row per completed questionnaire. The sample point is copied from the code in the same
-- transaction that marks the code used; a code can carry one response only, and a submission
-- id (made by the respondent's browser) identifies retries of the same submission.
-- No name, phone, e-mail or IP address: paradata are start and end time, language and mode.
CREATE TABLE responses (
    receipt TEXT PRIMARY KEY,
    submission_id TEXT NOT NULL UNIQUE,
    code_hash TEXT NOT NULL UNIQUE REFERENCES invitation_codes (code_hash),
    wave_code TEXT NOT NULL REFERENCES waves (code),
    geography TEXT NOT NULL,
    province_code TEXT NOT NULL,
    stratum TEXT NOT NULL,
    psu TEXT NOT NULL,
    sample_kind TEXT NOT NULL CHECK (sample_kind IN ('probability', 'open')),
    questionnaire_code TEXT NOT NULL,
    questionnaire_version BIGINT NOT NULL,
    -- Answers as JSON {item code: value}, and the SHA-256 of that text (retries compare it).
    answers TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('vi', 'en')),
    mode TEXT NOT NULL CHECK (mode IN ('web', 'paper')),
    started_at TEXT,
    submitted_at TEXT NOT NULL,
    FOREIGN KEY (geography, province_code) REFERENCES admin_units (geography, code),
    FOREIGN KEY (questionnaire_code, questionnaire_version) REFERENCES questionnaires (code, version)
);
CREATE INDEX responses_wave ON responses (wave_code, province_code);
