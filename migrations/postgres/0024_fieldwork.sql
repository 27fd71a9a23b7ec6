-- Fieldwork (issue #25, part 1; docs/methodology.md, "Response rates"): field workers (postal
-- staff) with their own role, the forms assigned to each for a commune, and what became of
-- each form.
--
-- The field role: one province, like a provincial officer.
ALTER TABLE staff_users DROP CONSTRAINT staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check CHECK (role IN
    ('admin', 'central', 'provincial', 'statistician', 'approver', 'viewer', 'researcher',
     'field'));
ALTER TABLE staff_users DROP CONSTRAINT staff_users_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_province_check
    CHECK ((role IN ('provincial', 'field')) = (province_code IS NOT NULL));

-- A field account restricted to some communes of its province (none listed: all of them).
CREATE TABLE staff_communes (
    user_id BIGINT NOT NULL REFERENCES staff_users (id),
    psu TEXT NOT NULL,
    PRIMARY KEY (user_id, psu)
);

-- Each code's number within its batch, printed on its card, so a worker can mark the form of a
-- code the server keeps only as a hash. Codes issued before have none (their cards show none):
-- they are not assigned by batch.
ALTER TABLE invitation_codes ADD COLUMN serial BIGINT;

-- Forms of one commune given to one worker, to hand out on a day and collect by another:
-- the codes of a batch in that commune, or a run of numbered paper forms.
CREATE TABLE field_assignments (
    id BIGSERIAL PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    worker_id BIGINT NOT NULL REFERENCES staff_users (id),
    province_code TEXT NOT NULL,
    psu TEXT NOT NULL,
    batch TEXT REFERENCES invitation_batches (id),
    first_form BIGINT NOT NULL,
    last_form BIGINT NOT NULL,
    hand_out_on TEXT NOT NULL,
    collect_by TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES staff_users (id),
    created_at TEXT NOT NULL,
    CHECK (first_form >= 1 AND last_form >= first_form),
    CHECK (collect_by >= hand_out_on)
);
CREATE INDEX field_assignments_wave ON field_assignments (wave_code, province_code, psu);
CREATE INDEX field_assignments_worker ON field_assignments (worker_id);

-- One form of an assignment and its outcome (app/src/staff/fieldwork.rs maps outcomes to
-- AAPOR dispositions). A code is on one assignment at most.
CREATE TABLE assignment_forms (
    assignment_id BIGINT NOT NULL REFERENCES field_assignments (id),
    form_number BIGINT NOT NULL,
    code_hash TEXT UNIQUE REFERENCES invitation_codes (code_hash),
    -- A numbered paper form's key as the paper import and keying store it (wave, commune and
    -- number), so a form keyed or imported is known to have come back.
    import_key TEXT,
    outcome TEXT NOT NULL DEFAULT 'assigned' CHECK (outcome IN ('assigned', 'handed_out',
        'collected', 'refused', 'no_contact', 'not_found', 'not_eligible')),
    marked_at TEXT,
    marked_by BIGINT REFERENCES staff_users (id),
    PRIMARY KEY (assignment_id, form_number)
);
