-- Publication and public verification (docs/methodology.md, "Publication and public
-- verification"): a release publishes per-province aggregates instead of per-commune totals,
-- its cells rounded as published, tiers and changes adjusted by Holm's method, and joint rank
-- intervals only.
--
-- The public aggregates (aggregates.csv) of a release: part of its immutable row (the triggers
-- of 0008 refuse any later change). A draft's are in computations (rebuilt below).
ALTER TABLE releases ADD COLUMN aggregates TEXT;
-- Holm-adjusted p-values of the tier and of the change.
ALTER TABLE release_cells ADD COLUMN vs_national_p_holm REAL;
ALTER TABLE release_cells ADD COLUMN change_p_holm REAL;
-- Retired, kept for releases published before: public_totals (per-commune totals, now given
-- to accredited researchers only), rank_best_marginal and rank_worst_marginal (one rank
-- interval is published: the joint one). New rows leave them NULL.

-- Accredited researchers: a role of their own, and what their approval allows (the project,
-- the reference of the approval, the last day, the releases it names, when the conditions of
-- use were accepted). SQLite cannot change the role CHECK in place, and computations and their
-- comments refer to staff_users: with foreign keys on, a rename carries those references
-- along, so the three tables are renamed away, rebuilt under their names (computations with
-- its new aggregates column), filled, and the old ones dropped.
ALTER TABLE computation_comments RENAME TO computation_comments_old;
ALTER TABLE computations RENAME TO computations_old;
ALTER TABLE staff_users RENAME TO staff_users_old;
CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN
        ('admin', 'central', 'provincial', 'statistician', 'approver', 'viewer', 'researcher')),
    province_geography TEXT,
    province_code TEXT,
    password_hash TEXT NOT NULL,
    credentials_version INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK ((role = 'provincial') = (province_code IS NOT NULL)),
    FOREIGN KEY (province_geography, province_code) REFERENCES admin_units (geography, code)
);
INSERT INTO staff_users SELECT id, username, display_name, role, province_geography,
    province_code, password_hash, credentials_version, active, created_at FROM staff_users_old;
CREATE TABLE computations (
    id INTEGER PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    methodology TEXT NOT NULL,
    population TEXT,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'failed', 'draft', 'submitted', 'approved', 'published')),
    progress_done INTEGER NOT NULL DEFAULT 0,
    progress_total INTEGER NOT NULL DEFAULT 0,
    heartbeat_at INTEGER NOT NULL,
    started_by INTEGER NOT NULL REFERENCES staff_users (id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    error TEXT NOT NULL DEFAULT '',
    input_digest TEXT NOT NULL DEFAULT '',
    cells TEXT NOT NULL DEFAULT '',
    totals TEXT NOT NULL DEFAULT '',
    -- Retired (per-commune public totals); NULL from this migration on.
    public_totals TEXT,
    report TEXT NOT NULL DEFAULT '',
    submitted_at TEXT,
    approved_by INTEGER REFERENCES staff_users (id),
    approved_at TEXT,
    release_year INTEGER,
    release_version INTEGER,
    -- The public aggregates of the draft (aggregates.csv).
    aggregates TEXT,
    CHECK (approved_by IS NULL OR approved_by <> started_by)
);
INSERT INTO computations SELECT id, wave_code, methodology, population, status, progress_done,
    progress_total, heartbeat_at, started_by, started_at, finished_at, error, input_digest,
    cells, totals, public_totals, report, submitted_at, approved_by, approved_at, release_year,
    release_version, NULL FROM computations_old;
CREATE TABLE computation_comments (
    id INTEGER PRIMARY KEY,
    computation_id INTEGER NOT NULL REFERENCES computations (id),
    author_id INTEGER NOT NULL REFERENCES staff_users (id),
    at TEXT NOT NULL,
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000)
);
INSERT INTO computation_comments SELECT id, computation_id, author_id, at, body
    FROM computation_comments_old;
DROP TABLE computation_comments_old;
DROP TABLE computations_old;
DROP TABLE staff_users_old;
CREATE INDEX computations_by_wave ON computations (wave_code, id);
CREATE UNIQUE INDEX one_running_computation_per_wave ON computations (wave_code)
    WHERE status = 'running';
CREATE INDEX computation_comments_by_computation ON computation_comments (computation_id, id);

CREATE TABLE researcher_access (
    user_id INTEGER PRIMARY KEY REFERENCES staff_users (id),
    project TEXT NOT NULL CHECK (length(project) BETWEEN 1 AND 300),
    approval TEXT NOT NULL CHECK (length(approval) BETWEEN 1 AND 200),
    -- The last day of access, YYYY-MM-DD (Vietnam's civil date).
    expires_on TEXT NOT NULL,
    -- The releases the approval names: "2025/1,2024/2".
    releases TEXT NOT NULL,
    conditions_accepted_at TEXT
);
