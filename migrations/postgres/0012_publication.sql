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
