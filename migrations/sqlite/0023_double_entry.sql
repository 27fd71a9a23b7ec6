-- Paper forms keyed twice in the browser (issue #25): a form is known by the invitation code
-- printed on it, or by its commune (PSU) and form number. Two clerks key it independently;
-- when the entries agree it becomes a response (channel paper), when they differ a third
-- person decides the differing fields against the paper. Nothing is a response before that.
CREATE TABLE paper_forms (
    id INTEGER PRIMARY KEY,
    wave_code TEXT NOT NULL REFERENCES waves (code),
    -- 'code:' || the code's hash, or 'point:' || psu || '/' || form number.
    form_key TEXT NOT NULL,
    province_code TEXT NOT NULL,
    -- What the clerk typed to find the form (the code's hash, never the code itself).
    code_hash TEXT,
    psu TEXT,
    form_number TEXT,
    status TEXT NOT NULL CHECK (status IN ('keyed_once', 'differs', 'stored')),
    -- The response it became, and who decided a difference.
    receipt TEXT REFERENCES responses (receipt),
    resolved_by INTEGER REFERENCES staff_users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (wave_code, form_key)
);
CREATE INDEX paper_forms_status ON paper_forms (wave_code, status);

-- One clerk's keying of a form: at most one per clerk (the primary key), two per form.
CREATE TABLE paper_entries (
    paper_form INTEGER NOT NULL REFERENCES paper_forms (id),
    clerk_id INTEGER NOT NULL REFERENCES staff_users (id),
    answers TEXT NOT NULL,
    entered_at TEXT NOT NULL,
    PRIMARY KEY (paper_form, clerk_id)
);
