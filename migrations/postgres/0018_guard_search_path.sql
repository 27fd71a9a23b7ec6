-- The seal on release cells (0011) read `releases` and `release_cells` by unqualified name, so a
-- session's temporary table of the same name (looked up first) could stand in for them and let
-- a cell be added to a published release. The tables are named with their schema and the
-- function's search path is pinned, temporary schema last. (`sipas migrate` also takes TEMP
-- and CREATE away from PUBLIC on this database: store/roles.rs.)
CREATE OR REPLACE FUNCTION refuse_cells_beyond_count() RETURNS trigger AS $$
DECLARE
    expected BIGINT;
BEGIN
    SELECT cell_count INTO expected FROM public.releases
        WHERE year = NEW.year AND version = NEW.version;
    IF expected IS NULL OR NEW.position < 0 OR NEW.position >= expected
       OR EXISTS (SELECT 1 FROM public.release_cells
                  WHERE year = NEW.year AND version = NEW.version AND position = NEW.position) THEN
        RAISE EXCEPTION 'a published release cannot be changed: publish a new version';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION refuse_release_change() SET search_path = pg_catalog, public, pg_temp;
ALTER FUNCTION refuse_published_elsewhere_change() SET search_path = pg_catalog, public, pg_temp;
