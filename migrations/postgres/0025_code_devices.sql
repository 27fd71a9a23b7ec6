-- A code answered from many devices (issue #25, part 3; docs/methodology.md, "Quality review").
-- Each browser that answers keeps a random cookie (`sipas_device`); the server keeps only a hash
-- of it with the code's hash, so one browser's codes cannot be linked, and only until the code
-- takes a response (the count moves to `responses.devices`; a paper form: no count) or, within the
-- hour, once it can take none (voided, its wave closed): then the rows go.
CREATE TABLE code_devices (
    code_hash TEXT NOT NULL REFERENCES invitation_codes (code_hash),
    device_hash TEXT NOT NULL,
    PRIMARY KEY (code_hash, device_hash)
);

-- Browsers the code was answered from (drafts and the submission); NULL on paper and on
-- responses stored before this version (no device check applies to them).
ALTER TABLE responses ADD COLUMN devices BIGINT;
