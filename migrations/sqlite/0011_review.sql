-- Results before they are published: a computation of a wave runs as a background job, becomes
-- a draft, is commented on, submitted by the statistician who computed it and approved by a
-- second person with the approving role (four eyes), then published as a release.

-- The approving role. SQLite cannot change a CHECK in place: the table is rebuilt (nothing
-- references staff_users by foreign key before this migration).
CREATE TABLE staff_users_new (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'central', 'provincial', 'statistician', 'approver', 'viewer')),
    province_geography TEXT,
    province_code TEXT,
    password_hash TEXT NOT NULL,
    credentials_version INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK ((role = 'provincial') = (province_code IS NOT NULL)),
    FOREIGN KEY (province_geography, province_code) REFERENCES admin_units (geography, code)
);
INSERT INTO staff_users_new SELECT id, username, display_name, role, province_geography,
    province_code, password_hash, credentials_version, active, created_at FROM staff_users;
DROP TABLE staff_users;
ALTER TABLE staff_users_new RENAME TO staff_users;

CREATE TABLE computations (
    id INTEGER PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    -- The methodology TOML exactly as used, and the population totals it was calibrated to
    -- (CSV: province,margin,category,total; NULL without [calibration]).
    methodology TEXT NOT NULL,
    population TEXT,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'failed', 'draft', 'submitted', 'approved', 'published')),
    -- Responses read of those to read, and when the job last said it was alive (Unix
    -- seconds): a job silent for long is marked failed, so nothing stays "running" forever.
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    heartbeat_at INTEGER NOT NULL,
    started_by INTEGER NOT NULL REFERENCES staff_users (id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    -- Why it failed.
    error TEXT NOT NULL DEFAULT '',
    -- The draft: SHA-256 of the totals, the cells (JSON), the totals file (JSON, published as
    -- open data with the release) and the weights report and warnings (JSON).
    input_digest TEXT NOT NULL DEFAULT '',
    cells TEXT NOT NULL DEFAULT '',
    totals TEXT NOT NULL DEFAULT '',
    -- The totals fit for the public (no subgroup domains; NULL when a PSU has too few
    -- respondents to publish its totals): see docs/methodology.md, "Open data".
    public_totals TEXT,
    report TEXT NOT NULL DEFAULT '',
    submitted_at TEXT,
    approved_by INTEGER REFERENCES staff_users (id),
    approved_at TEXT,
    release_year INTEGER,
    release_version INTEGER,
    -- Four eyes, whatever the SQL path.
    CHECK (approved_by IS NULL OR approved_by <> started_by)
);
CREATE INDEX computations_by_wave ON computations (wave_code, id);
-- One running computation per wave (a double click starts one job, not two).
CREATE UNIQUE INDEX one_running_computation_per_wave ON computations (wave_code)
    WHERE status = 'running';

CREATE TABLE computation_comments (
    id INTEGER PRIMARY KEY,
    computation_id INTEGER NOT NULL REFERENCES computations (id),
    author_id INTEGER NOT NULL REFERENCES staff_users (id),
    at TEXT NOT NULL,
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000)
);
CREATE INDEX computation_comments_by_computation ON computation_comments (computation_id, id);

-- The per-PSU totals every published number is recomputed from (open data). Part of the
-- immutable release row: the triggers of 0008 refuse any later change.
ALTER TABLE releases ADD COLUMN totals TEXT NOT NULL DEFAULT '';
-- What /du-lieu serves as totals.json (NULL: withheld, too few respondents in a PSU).
ALTER TABLE releases ADD COLUMN public_totals TEXT;
-- The release the change columns compare with ("SIPAS 2024 v2"), and whether it was
-- re-aggregated to this release's map: needed to reproduce them.
ALTER TABLE releases ADD COLUMN compared_year INTEGER;
ALTER TABLE releases ADD COLUMN compared_version INTEGER;
ALTER TABLE releases ADD COLUMN compared_reaggregated INTEGER NOT NULL DEFAULT 0;

-- The seal of 0008 counted a release's cells on every insert: quadratic in the cells of a
-- release (tens of thousands), minutes to publish. Equivalent and logarithmic: positions are
-- unique and below the release's cell_count, so no more than cell_count cells can ever exist,
-- and a position already taken (REPLACE included) is refused.
DROP TRIGGER release_cells_are_sealed;
CREATE UNIQUE INDEX release_cells_position ON release_cells (year, version, position);
CREATE TRIGGER release_cells_are_sealed BEFORE INSERT ON release_cells
WHEN NEW.position < 0
     OR NEW.position >= (SELECT cell_count FROM releases WHERE year = NEW.year AND version = NEW.version)
     OR EXISTS (SELECT 1 FROM release_cells
                WHERE year = NEW.year AND version = NEW.version AND position = NEW.position)
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
