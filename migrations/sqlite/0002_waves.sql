-- Survey waves: one round of data collection, on one geography.
CREATE TABLE waves (
    code TEXT PRIMARY KEY,
    title TEXT NOT NULL,
    year INTEGER NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    geography TEXT NOT NULL CHECK (geography IN ('2004', '2025')),
    created_at TEXT NOT NULL
);
