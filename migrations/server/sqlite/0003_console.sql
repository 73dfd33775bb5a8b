-- Rounds district server, schema 3: supervisor console sessions. A console session is a
-- browser's sign-in (a cookie), separate from device and API sessions: it expires after a
-- fixed time and after a shorter idle time (`last_seen_at`), and carries the token its forms
-- must echo (`csrf`). Tokens are stored as SHA-256 hashes.
CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES people(id),
    csrf         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);
-- Day views and reports list a day's shifts across a district.
CREATE INDEX console_shifts_by_day ON shifts(started_at);
CREATE INDEX console_incidents_by_day ON incidents(occurred_at);
