-- Published annual releases. A release is written once, in one transaction, and never changed:
-- a correction is a new version with a changelog note. The triggers below refuse every UPDATE
-- and DELETE, whatever the SQL path (the store has no such statement either).
CREATE TABLE releases (
    year INTEGER NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 1),
    wave_code TEXT NOT NULL REFERENCES waves (code),
    geography TEXT NOT NULL,
    title TEXT NOT NULL,
    -- The methodology TOML exactly as used, and what the numbers were computed from.
    methodology TEXT NOT NULL,
    questionnaire_code TEXT NOT NULL,
    questionnaire_version INTEGER NOT NULL,
    -- SHA-256 over the sufficient statistics and weights the results rest on.
    input_digest TEXT NOT NULL,
    software_version TEXT NOT NULL,
    computed_by TEXT NOT NULL,
    -- Four eyes: the approver is not the person who computed.
    approved_by TEXT NOT NULL CHECK (approved_by <> computed_by),
    published_at TEXT NOT NULL,
    -- What changed and why; required from version 2 on.
    changelog TEXT NOT NULL DEFAULT '' CHECK (version = 1 OR changelog <> ''),
    -- The number of cells written with it; no cell can be added once they are all there.
    cell_count INTEGER NOT NULL CHECK (cell_count >= 0),
    PRIMARY KEY (year, version)
);

CREATE TABLE release_cells (
    year INTEGER NOT NULL,
    version INTEGER NOT NULL,
    -- Publication order (provinces, then the nation, then the mean of provinces).
    position INTEGER NOT NULL,
    domain TEXT NOT NULL,
    subgroup TEXT NOT NULL,
    node TEXT NOT NULL,
    n REAL,
    df REAL,
    estimate REAL,
    se REAL,
    ci_low REAL,
    ci_high REAL,
    deff REAL,
    n_eff REAL,
    cv REAL,
    flag TEXT NOT NULL,
    note TEXT NOT NULL,
    rank INTEGER,
    rank_best INTEGER,
    rank_worst INTEGER,
    rank_best_marginal INTEGER,
    rank_worst_marginal INTEGER,
    ranked_of INTEGER,
    tier TEXT,
    vs_national_difference REAL,
    vs_national_se REAL,
    vs_national_p REAL,
    change REAL,
    change_se REAL,
    change_df REAL,
    change_p REAL,
    PRIMARY KEY (year, version, domain, subgroup, node),
    FOREIGN KEY (year, version) REFERENCES releases (year, version)
);

CREATE TRIGGER releases_are_immutable_update BEFORE UPDATE ON releases
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
CREATE TRIGGER releases_are_immutable_delete BEFORE DELETE ON releases
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
CREATE TRIGGER release_cells_are_immutable_update BEFORE UPDATE ON release_cells
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
CREATE TRIGGER release_cells_are_immutable_delete BEFORE DELETE ON release_cells
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
-- Cells are written right after their release row, in the same transaction; once the release
-- has its cell_count cells, nothing can be added to it.
CREATE TRIGGER release_cells_are_sealed BEFORE INSERT ON release_cells
WHEN (SELECT COUNT(*) FROM release_cells WHERE year = NEW.year AND version = NEW.version)
     >= (SELECT cell_count FROM releases WHERE year = NEW.year AND version = NEW.version)
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
