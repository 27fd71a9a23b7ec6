-- Fieldwork (issue #25, part 1; docs/methodology.md, "Response rates"): field workers (postal
-- staff) with their own role, the forms assigned to each for a commune, and what became of
-- each form.
--
-- The field role: one province, like a provincial officer. SQLite cannot change a CHECK in
-- place, and this migration runs in a transaction, where foreign keys cannot be switched off:
-- the accounts are copied aside, the table made again and the accounts copied back, with the
-- foreign keys of the tables that refer to accounts deferred to the commit, by when every
-- account is back (a missing one fails the commit and leaves the database as it was).
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE staff_users_copy AS SELECT * FROM staff_users;
DROP TABLE staff_users;
CREATE TABLE staff_users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'central', 'provincial', 'statistician',
        'approver', 'viewer', 'researcher', 'field')),
    province_geography TEXT,
    province_code TEXT,
    password_hash TEXT NOT NULL,
    credentials_version INTEGER NOT NULL DEFAULT 1,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at TEXT NOT NULL,
    CHECK ((role IN ('provincial', 'field')) = (province_code IS NOT NULL)),
    FOREIGN KEY (province_geography, province_code) REFERENCES admin_units (geography, code)
);
INSERT INTO staff_users (id, username, display_name, role, province_geography, province_code,
    password_hash, credentials_version, active, created_at)
SELECT id, username, display_name, role, province_geography, province_code, password_hash,
    credentials_version, active, created_at FROM staff_users_copy;
DROP TABLE staff_users_copy;

-- A field account restricted to some communes of its province (none listed: all of them).
CREATE TABLE staff_communes (
    user_id INTEGER NOT NULL REFERENCES staff_users (id),
    psu TEXT NOT NULL,
    PRIMARY KEY (user_id, psu)
);

-- Each code's number within its batch, printed on its card, so a worker can mark the form of a
-- code the server keeps only as a hash. Codes issued before have none (their cards show none):
-- they are not assigned by batch.
ALTER TABLE invitation_codes ADD COLUMN serial INTEGER;

-- Forms of one commune given to one worker, to hand out on a day and collect by another:
-- the codes of a batch in that commune, or a run of numbered paper forms.
CREATE TABLE field_assignments (
    id INTEGER PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    worker_id INTEGER NOT NULL REFERENCES staff_users (id),
    province_code TEXT NOT NULL,
    psu TEXT NOT NULL,
    batch TEXT REFERENCES invitation_batches (id),
    first_form INTEGER NOT NULL,
    last_form INTEGER NOT NULL,
    hand_out_on TEXT NOT NULL,
    collect_by TEXT NOT NULL,
    created_by INTEGER NOT NULL REFERENCES staff_users (id),
    created_at TEXT NOT NULL,
    CHECK (first_form >= 1 AND last_form >= first_form),
    CHECK (collect_by >= hand_out_on)
);
CREATE INDEX field_assignments_wave ON field_assignments (wave_code, province_code, psu);
CREATE INDEX field_assignments_worker ON field_assignments (worker_id);

-- One form of an assignment and its outcome (app/src/staff/fieldwork.rs maps outcomes to
-- AAPOR dispositions). A code is on one assignment at most.
CREATE TABLE assignment_forms (
    assignment_id INTEGER NOT NULL REFERENCES field_assignments (id),
    form_number INTEGER NOT NULL,
    code_hash TEXT UNIQUE REFERENCES invitation_codes (code_hash),
    -- A numbered paper form's key as the paper import and keying store it (wave, commune and
    -- number), so a form keyed or imported is known to have come back.
    import_key TEXT,
    outcome TEXT NOT NULL DEFAULT 'assigned' CHECK (outcome IN ('assigned', 'handed_out',
        'collected', 'refused', 'no_contact', 'not_found', 'not_eligible')),
    marked_at TEXT,
    marked_by INTEGER REFERENCES staff_users (id),
    PRIMARY KEY (assignment_id, form_number)
);
