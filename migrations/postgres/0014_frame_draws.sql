-- How a wave's frame was drawn on the sample design page: the seed, the algorithm, the
-- allocation options, each stratum's random start and each drawn commune's size and inclusion
-- probability (JSON, `staff::design::DrawRecord`). Written with the frame it made, in one
-- transaction; removed with that frame when a frame file replaces it.
CREATE TABLE frame_draws (
    wave_code TEXT PRIMARY KEY REFERENCES waves (code),
    record TEXT NOT NULL,
    drawn_by TEXT NOT NULL,
    drawn_at TEXT NOT NULL
);
