-- The Ministry's side: staff accounts and their sessions, the append-only audit log, wave
-- schedules, the sample frame, invitation batches, and the paradata monitoring groups by.

-- One role per account. A provincial officer is bound to one province of one geography.
CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'central', 'provincial', 'statistician', 'viewer')),
    province_geography TEXT,
    province_code TEXT,
    -- argon2id PHC string; never the password.
    password_hash TEXT NOT NULL,
    -- Bumped by a password reset or a disable: every session made before it stops working.
    credentials_version INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK ((role = 'provincial') = (province_code IS NOT NULL)),
    FOREIGN KEY (province_geography, province_code) REFERENCES admin_units (geography, code)
);

-- Server-side sessions (tower-sessions records). Only a SHA-256 of the session id is stored,
-- so a copy of the database does not hand out live sessions.
CREATE TABLE staff_sessions (
    id_hash TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    -- Unix seconds.
    expires_at INTEGER NOT NULL
);
CREATE INDEX staff_sessions_expiry ON staff_sessions (expires_at);

-- Failed sign-ins, keyed by account name or by a keyed hash of the client address (never the
-- address itself); the throttle counts recent rows, a success clears the account's.
CREATE TABLE login_failures (
    throttle_key TEXT NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (throttle_key, failed_at);

-- Every change, who made it and where. The store offers no update or delete for this table.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    wave_code TEXT,
    province_code TEXT,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);

-- Waves open and close by date; closing one by hand is final.
ALTER TABLE waves ADD COLUMN opens_on TEXT;
ALTER TABLE waves ADD COLUMN closes_on TEXT;
ALTER TABLE waves ADD COLUMN closed_at TEXT;
ALTER TABLE waves ADD COLUMN methodology_version TEXT;

-- The sample frame of a wave: one row per stratum, one per sampled PSU (commune).
CREATE TABLE frame_strata (
    wave_code TEXT NOT NULL REFERENCES waves (code),
    province_code TEXT NOT NULL,
    stratum TEXT NOT NULL,
    population INTEGER NOT NULL CHECK (population > 0),
    psus_in_population INTEGER NOT NULL CHECK (psus_in_population > 0),
    PRIMARY KEY (wave_code, province_code, stratum)
);
CREATE TABLE frame_psus (
    wave_code TEXT NOT NULL,
    psu TEXT NOT NULL,
    province_code TEXT NOT NULL,
    stratum TEXT NOT NULL,
    name TEXT NOT NULL,
    target INTEGER NOT NULL CHECK (target >= 0),
    PRIMARY KEY (wave_code, psu),
    FOREIGN KEY (wave_code, province_code, stratum)
        REFERENCES frame_strata (wave_code, province_code, stratum)
);

-- A batch of invitation codes issued together (codes keep the batch id in `batch`).
CREATE TABLE invitation_batches (
    id TEXT PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    province_code TEXT NOT NULL,
    scope TEXT NOT NULL,
    size INTEGER NOT NULL,
    issued_by TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    voided_at TEXT,
    voided_by TEXT
);
CREATE INDEX invitation_batches_wave ON invitation_batches (wave_code, province_code);
ALTER TABLE invitation_codes ADD COLUMN voided_at TEXT;
CREATE INDEX invitation_codes_batch ON invitation_codes (batch);
CREATE INDEX invitation_codes_psu ON invitation_codes (wave_code, psu);

-- Paradata for monitoring and a row id for exports that is not the receipt number.
-- channel: online (JavaScript), form (no JavaScript), outbox (queued offline), paper.
ALTER TABLE responses ADD COLUMN channel TEXT NOT NULL DEFAULT 'online'
    CHECK (channel IN ('online', 'form', 'outbox', 'paper'));
ALTER TABLE responses ADD COLUMN duration_secs INTEGER;
-- The civil date in Vietnam (UTC+7) the response arrived, for completes per day.
ALTER TABLE responses ADD COLUMN submitted_on TEXT;
ALTER TABLE responses ADD COLUMN export_id TEXT;
UPDATE responses SET export_id = lower(hex(randomblob(8))),
    submitted_on = date(submitted_at, '+7 hours'),
    channel = CASE mode WHEN 'paper' THEN 'paper' ELSE 'online' END;
CREATE UNIQUE INDEX responses_export_id ON responses (export_id);
-- Monitoring reads only these columns: with them all in one index it never touches the wide
-- rows (the answers), which made a national page of 40,000 responses read 60 MB.
CREATE INDEX responses_monitoring
    ON responses (wave_code, province_code, psu, channel, submitted_on, duration_secs);
CREATE INDEX responses_wave_export ON responses (wave_code, export_id);
-- Paper forms transcribed without an invitation code carry the file's row key, so importing the
-- same file again stores nothing new.
ALTER TABLE responses ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX responses_import_key ON responses (import_key);
