-- The open link's hourly cap counts a wave's recent codes of one kind.
CREATE INDEX invitation_codes_kind_created ON invitation_codes (wave_code, sample_kind, created_at);
