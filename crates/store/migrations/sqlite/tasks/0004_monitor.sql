-- Which process does the dataset's monitor duty (reaping, summing progress, ending the
-- dataset), until when: one at a time.
CREATE TABLE IF NOT EXISTS monitor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    owner      TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
