-- Figures published elsewhere (0009) are a record of what the Ministry announced, with their
-- sources: like a release, never changed in place. A correction is a new row with its source
-- in a new migration, which may drop these triggers first (the owner role can).
CREATE FUNCTION refuse_published_elsewhere_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'a figure published elsewhere cannot be changed: it is a record of what was announced';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER published_elsewhere_is_immutable BEFORE UPDATE OR DELETE ON published_elsewhere
    FOR EACH ROW EXECUTE FUNCTION refuse_published_elsewhere_change();
CREATE TRIGGER published_elsewhere_is_not_truncated BEFORE TRUNCATE ON published_elsewhere
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_published_elsewhere_change();
