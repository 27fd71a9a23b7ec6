-- PostgreSQL's 0018 pins the search path of the release guards' functions. SQLite resolves the
-- tables named in a trigger of the main database in that database, whatever TEMP tables exist,
-- so there is nothing to change here; the file keeps the two engines' versions in step.
SELECT 1;
