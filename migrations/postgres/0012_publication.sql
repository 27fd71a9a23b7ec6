-- Publication and public verification (docs/methodology.md, "Publication and public
-- verification"): a release publishes per-province aggregates instead of per-commune totals,
-- its cells rounded as published, tiers and changes adjusted by Holm's method, and joint rank
-- intervals only.
--
-- The public aggregates (aggregates.csv) of a draft and of a release. The release's column is
-- part of its immutable row (the triggers of 0008 refuse any later change).
ALTER TABLE computations ADD COLUMN aggregates TEXT;
ALTER TABLE releases ADD COLUMN aggregates TEXT;
-- Holm-adjusted p-values of the tier and of the change.
ALTER TABLE release_cells ADD COLUMN vs_national_p_holm DOUBLE PRECISION;
ALTER TABLE release_cells ADD COLUMN change_p_holm DOUBLE PRECISION;
-- Retired, kept for releases published before: public_totals (per-commune totals, now given
-- to accredited researchers only), rank_best_marginal and rank_worst_marginal (one rank
-- interval is published: the joint one). New rows leave them NULL.

-- Accredited researchers: a role of their own, and what their approval allows (the project,
-- the reference of the approval, the last day, the releases it names, when the conditions of
-- use were accepted).
ALTER TABLE staff_users DROP CONSTRAINT staff_users_role_check;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_role_check CHECK (role IN
    ('admin', 'central', 'provincial', 'statistician', 'approver', 'viewer', 'researcher'));
CREATE TABLE researcher_access (
    user_id BIGINT PRIMARY KEY REFERENCES staff_users (id),
    project TEXT NOT NULL CHECK (length(project) BETWEEN 1 AND 300),
    approval TEXT NOT NULL CHECK (length(approval) BETWEEN 1 AND 200),
    -- The last day of access, YYYY-MM-DD (Vietnam's civil date).
    expires_on TEXT NOT NULL,
    -- The releases the approval names: "2025/1,2024/2".
    releases TEXT NOT NULL,
    conditions_accepted_at TEXT
);
