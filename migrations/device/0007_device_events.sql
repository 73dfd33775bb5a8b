-- Rounds device store, schema 7: device events (crates/core/src/events.rs). What happened on
-- the lock screen and around it (unlocks, failed PINs, lockouts, idle and manual locks), kept
-- until the district's server says it has stored them in its audit trail. Events of a locked
-- device (a wrong PIN) wait in a file beside the store and move here at the next unlock.
-- They are sent in the order they were recorded here (rowid).
CREATE TABLE device_events (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    person_id  TEXT,
    at         INTEGER NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0
) STRICT;
