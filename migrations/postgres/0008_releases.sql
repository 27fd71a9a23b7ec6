-- Published annual releases. A release is written once, in one transaction, and never changed:
-- a correction is a new version with a changelog note. The triggers below refuse every UPDATE
-- and DELETE, whatever the SQL path (the store has no such statement either).
CREATE TABLE releases (
    year BIGINT NOT NULL,
    version BIGINT NOT NULL CHECK (version >= 1),
    wave_code TEXT NOT NULL REFERENCES waves (code),
    geography TEXT NOT NULL,
    title TEXT NOT NULL,
    -- The methodology TOML exactly as used, and what the numbers were computed from.
    methodology TEXT NOT NULL,
    questionnaire_code TEXT NOT NULL,
    questionnaire_version BIGINT NOT NULL,
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
    cell_count BIGINT NOT NULL CHECK (cell_count >= 0),
    PRIMARY KEY (year, version)
);

CREATE TABLE release_cells (
    year BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- Publication order (provinces, then the nation, then the mean of provinces).
    position BIGINT NOT NULL,
    domain TEXT NOT NULL,
    subgroup TEXT NOT NULL,
    node TEXT NOT NULL,
    n DOUBLE PRECISION,
    df DOUBLE PRECISION,
    estimate DOUBLE PRECISION,
    se DOUBLE PRECISION,
    ci_low DOUBLE PRECISION,
    ci_high DOUBLE PRECISION,
    deff DOUBLE PRECISION,
    n_eff DOUBLE PRECISION,
    cv DOUBLE PRECISION,
    flag TEXT NOT NULL,
    note TEXT NOT NULL,
    rank BIGINT,
    rank_best BIGINT,
    rank_worst BIGINT,
    rank_best_marginal BIGINT,
    rank_worst_marginal BIGINT,
    ranked_of BIGINT,
    tier TEXT,
    vs_national_difference DOUBLE PRECISION,
    vs_national_se DOUBLE PRECISION,
    vs_national_p DOUBLE PRECISION,
    change DOUBLE PRECISION,
    change_se DOUBLE PRECISION,
    change_df DOUBLE PRECISION,
    change_p DOUBLE PRECISION,
    PRIMARY KEY (year, version, domain, subgroup, node),
    FOREIGN KEY (year, version) REFERENCES releases (year, version)
);

CREATE FUNCTION refuse_release_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a published release cannot be changed: publish a new version';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER releases_are_immutable BEFORE UPDATE OR DELETE ON releases
    FOR EACH ROW EXECUTE FUNCTION refuse_release_change();
CREATE TRIGGER releases_are_not_truncated BEFORE TRUNCATE ON releases
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_release_change();
CREATE TRIGGER release_cells_are_immutable BEFORE UPDATE OR DELETE ON release_cells
    FOR EACH ROW EXECUTE FUNCTION refuse_release_change();
CREATE TRIGGER release_cells_are_not_truncated BEFORE TRUNCATE ON release_cells
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_release_change();

-- Cells are written right after their release row, in the same transaction; once the release
-- has its cell_count cells, nothing can be added to it.
CREATE FUNCTION refuse_cells_beyond_count() RETURNS trigger AS $$
BEGIN
    IF (SELECT COUNT(*) FROM release_cells WHERE year = NEW.year AND version = NEW.version)
       >= (SELECT cell_count FROM releases WHERE year = NEW.year AND version = NEW.version) THEN
        RAISE EXCEPTION 'a published release cannot be changed: publish a new version';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER release_cells_are_sealed BEFORE INSERT ON release_cells
    FOR EACH ROW EXECUTE FUNCTION refuse_cells_beyond_count();
