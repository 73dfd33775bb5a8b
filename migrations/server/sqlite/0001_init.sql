-- Rounds district server, schema 1, for the embedded SQLite store (ids as text, times as integer
-- milliseconds, booleans as integers). It is SQLite's dialect, not portable SQL (AUTOINCREMENT,
-- BLOB, WITHOUT ROWID): a PostgreSQL backend gets migrations of its own.

CREATE TABLE schools (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE posts (
    id        TEXT PRIMARY KEY,
    school_id TEXT NOT NULL REFERENCES schools(id),
    name      TEXT NOT NULL,
    orders    TEXT NOT NULL
);
CREATE TABLE checkpoints (
    id                TEXT PRIMARY KEY,
    post_id           TEXT NOT NULL REFERENCES posts(id),
    name              TEXT NOT NULL,
    tag_code          TEXT NOT NULL,
    position          INTEGER NOT NULL,
    first_due_minutes INTEGER NOT NULL,
    interval_minutes  INTEGER NOT NULL,
    grace_minutes     INTEGER NOT NULL,
    UNIQUE (post_id, tag_code)
);
CREATE TABLE people (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active        INTEGER NOT NULL
);
CREATE TABLE person_schools (
    person_id TEXT NOT NULL REFERENCES people(id),
    school_id TEXT NOT NULL REFERENCES schools(id),
    PRIMARY KEY (person_id, school_id)
);
-- Bumped on every change to the tables above, so devices know when to refresh.
CREATE TABLE reference_version (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 1),
    version  INTEGER NOT NULL
);
INSERT INTO reference_version (only_row, version) VALUES (1, 1);

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER,
    device_id  TEXT
);
CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    enrolled_at INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    device_id  TEXT REFERENCES devices(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- Record documents: header, and a version bumped by every commit (optimistic concurrency).
CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    school_id      TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    classification TEXT NOT NULL,
    version        INTEGER NOT NULL
);
CREATE INDEX documents_by_school ON documents(school_id, kind);

-- Every change of every document, once. seq is the change feed: monotonic, never reused.
-- "Once" is kept by the push path (it stores only changes the loaded document lacks, and
-- commits under the document's version), not by an index on the hash: random 32-byte keys
-- are the costliest index to keep during a surge.
CREATE TABLE changes (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    hash   BLOB NOT NULL,
    bytes  BLOB NOT NULL
);
CREATE INDEX changes_by_doc ON changes(doc_id, seq);

-- Who may read a contact note besides the rules by role: its author and the people it is
-- shared with. Derived from the notes' bodies.
CREATE TABLE doc_readers (
    doc_id    TEXT NOT NULL REFERENCES documents(id),
    person_id TEXT NOT NULL,
    PRIMARY KEY (doc_id, person_id)
);

-- Projections for supervisors' queries and reports.
CREATE TABLE shifts (
    id          TEXT PRIMARY KEY,
    school_id   TEXT NOT NULL,
    post_id     TEXT NOT NULL,
    guard_id    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER,
    check_count INTEGER NOT NULL
);
CREATE INDEX shifts_by_school_day ON shifts(school_id, started_at);
CREATE TABLE patrol_checks (
    shift_id      TEXT NOT NULL,
    id            TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    result        TEXT NOT NULL,
    note          TEXT NOT NULL,
    at            INTEGER NOT NULL,
    PRIMARY KEY (shift_id, id)
) WITHOUT ROWID;
CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    school_id    TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    status       TEXT NOT NULL,
    location     TEXT NOT NULL,
    occurred_at  INTEGER NOT NULL,
    submitted_at INTEGER
);
CREATE INDEX incidents_by_school ON incidents(school_id, occurred_at);
