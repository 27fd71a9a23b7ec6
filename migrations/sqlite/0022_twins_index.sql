-- Finds a new response's twins: the same answers in the same wave and commune.
CREATE INDEX IF NOT EXISTS responses_twins ON responses (wave_code, psu, content_hash);
