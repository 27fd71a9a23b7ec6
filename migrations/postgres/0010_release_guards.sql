-- The seal compared against a missing release (NULL) and let orphan cells in (found by
-- review): a cell now needs its release row. (PostgreSQL has no INSERT OR REPLACE; ON CONFLICT
-- DO UPDATE fires the UPDATE triggers of 0008.)
CREATE OR REPLACE FUNCTION refuse_cells_beyond_count() RETURNS trigger AS $$
DECLARE
    expected BIGINT;
BEGIN
    SELECT cell_count INTO expected FROM releases WHERE year = NEW.year AND version = NEW.version;
    IF expected IS NULL OR (SELECT COUNT(*) FROM release_cells
                            WHERE year = NEW.year AND version = NEW.version) >= expected THEN
        RAISE EXCEPTION 'a published release cannot be changed: publish a new version';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
