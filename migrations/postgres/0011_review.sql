-- Results before they are published: a computation of a wave runs as a background job, becomes
-- a draft, is commented on, submitted by the statistician who computed it and approved by a
-- second person with the approving role (four eyes), then published as a release.

-- The approving role.
ALTER TABLE staff_users DROP CONSTRAINT staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check
    CHECK (role IN ('admin', 'central', 'provincial', 'statistician', 'approver', 'viewer'));

CREATE TABLE computations (
    id BIGSERIAL PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    -- The methodology TOML exactly as used.
    methodology TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN
        ('running', 'failed', 'draft', 'submitted', 'approved', 'published')),
    -- Responses read of those to read, and when the job last said it was alive (Unix
    -- seconds): a job silent for long is marked failed, so nothing stays "running" forever.
    progress_done BIGINT NOT NULL DEFAULT 0,
    progress_total BIGINT NOT NULL DEFAULT 0,
    heartbeat_at BIGINT NOT NULL,
    started_by BIGINT NOT NULL REFERENCES staff_users (id),
    started_at TEXT NOT NULL,
    finished_at TEXT,
    -- Why it failed.
    error TEXT NOT NULL DEFAULT '',
    -- The draft: SHA-256 of the totals, the cells (JSON), the totals file (JSON, published as
    -- open data with the release) and the weights report and warnings (JSON).
    input_digest TEXT NOT NULL DEFAULT '',
    cells TEXT NOT NULL DEFAULT '',
    totals TEXT NOT NULL DEFAULT '',
    report TEXT NOT NULL DEFAULT '',
    submitted_at TEXT,
    approved_by BIGINT REFERENCES staff_users (id),
    approved_at TEXT,
    release_year BIGINT,
    release_version BIGINT,
    -- Four eyes, whatever the SQL path.
    CHECK (approved_by IS NULL OR approved_by <> started_by)
);
CREATE INDEX computations_by_wave ON computations (wave_code, id);

CREATE TABLE computation_comments (
    id BIGSERIAL PRIMARY KEY,
    computation_id BIGINT NOT NULL REFERENCES computations (id),
    author_id BIGINT NOT NULL REFERENCES staff_users (id),
    at TEXT NOT NULL,
    body TEXT NOT NULL CHECK (length(body) BETWEEN 1 AND 4000)
);
CREATE INDEX computation_comments_by_computation ON computation_comments (computation_id, id);

-- The per-PSU totals every published number is recomputed from (open data). Part of the
-- immutable release row: the triggers of 0008 refuse any later change.
ALTER TABLE releases ADD COLUMN totals TEXT NOT NULL DEFAULT '';
-- The release the change columns compare with ("SIPAS 2024 v2"), and whether it was
-- re-aggregated to this release's map: needed to reproduce them.
ALTER TABLE releases ADD COLUMN compared_year INTEGER;
ALTER TABLE releases ADD COLUMN compared_version INTEGER;
ALTER TABLE releases ADD COLUMN compared_reaggregated INTEGER NOT NULL DEFAULT 0;
