-- Drafts carry a revision, counted by whoever changed them last (the phone, or the server for a
-- form post without JavaScript): a save is kept only when its revision is newer than the stored
-- one, so a stale copy of the page can never overwrite newer answers.
ALTER TABLE survey_drafts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
