-- Closes two ways around migration 0008's triggers (found by review):
-- * INSERT OR REPLACE deletes the old row without firing DELETE triggers (SQLite fires them
--   for REPLACE only with recursive_triggers on), so an existing release or cell could be
--   replaced: an INSERT with the key of an existing row is now refused;
-- * the seal compared against a missing release (NULL) and let orphan cells in.
CREATE TRIGGER releases_are_not_replaced BEFORE INSERT ON releases
WHEN EXISTS (SELECT 1 FROM releases WHERE year = NEW.year AND version = NEW.version)
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;

CREATE TRIGGER release_cells_are_not_replaced BEFORE INSERT ON release_cells
WHEN EXISTS (SELECT 1 FROM release_cells WHERE year = NEW.year AND version = NEW.version
             AND domain = NEW.domain AND subgroup = NEW.subgroup AND node = NEW.node)
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;

CREATE TRIGGER release_cells_need_their_release BEFORE INSERT ON release_cells
WHEN NOT EXISTS (SELECT 1 FROM releases WHERE year = NEW.year AND version = NEW.version)
BEGIN SELECT RAISE(ABORT, 'a published release cannot be changed: publish a new version'); END;
