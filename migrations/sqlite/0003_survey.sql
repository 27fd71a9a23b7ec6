-- Published questionnaire versions (immutable once stored) and one-time invitation codes.
CREATE TABLE questionnaires (
    code TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version > 0),
    -- The definition as JSON, exactly as published.
    definition TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (code, version)
);

-- Only a hash of each code is stored: the code itself exists on paper and in its QR link.
CREATE TABLE invitation_codes (
    code_hash TEXT PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    geography TEXT NOT NULL,
    province_code TEXT NOT NULL,
    stratum TEXT NOT NULL,
    psu TEXT NOT NULL,
    batch TEXT NOT NULL,
    created_at TEXT NOT NULL,
    used_at TEXT,
    FOREIGN KEY (geography, province_code) REFERENCES admin_units (geography, code)
);
CREATE INDEX invitation_codes_wave ON invitation_codes (wave_code, province_code);
