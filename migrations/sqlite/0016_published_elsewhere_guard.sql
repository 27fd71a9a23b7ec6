-- Figures published elsewhere (0009) are a record of what the Ministry announced, with their
-- sources: like a release, never changed in place. A correction is a new row with its source
-- in a new migration, which may drop these triggers first (the file's owner can).
CREATE TRIGGER published_elsewhere_is_immutable_update BEFORE UPDATE ON published_elsewhere
BEGIN SELECT RAISE(ABORT, 'a figure published elsewhere cannot be changed: it is a record of what was announced'); END;
CREATE TRIGGER published_elsewhere_is_immutable_delete BEFORE DELETE ON published_elsewhere
BEGIN SELECT RAISE(ABORT, 'a figure published elsewhere cannot be changed: it is a record of what was announced'); END;
-- INSERT OR REPLACE deletes the old row without firing DELETE triggers.
CREATE TRIGGER published_elsewhere_is_not_replaced BEFORE INSERT ON published_elsewhere
WHEN EXISTS (SELECT 1 FROM published_elsewhere WHERE year = NEW.year
             AND geography = NEW.geography AND province_code = NEW.province_code)
BEGIN SELECT RAISE(ABORT, 'a figure published elsewhere cannot be changed: it is a record of what was announced'); END;
