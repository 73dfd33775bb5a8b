-- Rounds device store, schema 1.
-- Ids are UUID text; times are milliseconds since the Unix epoch (UTC).

-- Every record document: its immutable header, its last compacted snapshot, and counters.
CREATE TABLE documents (
    -- local number of the document (stable: it keys the full-text index)
    doc_seq        INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    kind           TEXT NOT NULL,
    school_id      TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    classification TEXT NOT NULL,
    -- automerge save() at the last compaction; NULL until the first one
    snapshot       BLOB
) STRICT;

-- The automerge changes of each document since its snapshot, plus every change the server has
-- not yet acknowledged. Loading a document = snapshot + these rows.
CREATE TABLE changes (
    seq     INTEGER PRIMARY KEY,
    doc_id  TEXT NOT NULL REFERENCES documents(id),
    hash    BLOB NOT NULL,
    bytes   BLOB NOT NULL,
    acked   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (doc_id, hash)
) STRICT;
-- (doc_id, hash) also serves loading a document's changes; only unacknowledged ones are
-- indexed by order, so recording a change touches few pages.
CREATE INDEX changes_unacked ON changes(seq) WHERE acked = 0;

-- Small key/value state of the sync client (cursor on the server's change feed, times).
CREATE TABLE sync_state (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

-- Reference data, as sent down by the server. Read-only on the device.
CREATE TABLE ref_schools (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL
) STRICT;
CREATE TABLE ref_posts (
    id        TEXT PRIMARY KEY,
    school_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    orders    TEXT NOT NULL
) STRICT;
CREATE TABLE ref_checkpoints (
    id                TEXT PRIMARY KEY,
    post_id           TEXT NOT NULL,
    name              TEXT NOT NULL,
    tag_code          TEXT NOT NULL,
    position          INTEGER NOT NULL,
    first_due_minutes INTEGER NOT NULL,
    interval_minutes  INTEGER NOT NULL,
    grace_minutes     INTEGER NOT NULL,
    UNIQUE (post_id, tag_code)
) STRICT;
CREATE TABLE ref_people (
    id   TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL
) STRICT;
CREATE TABLE ref_person_schools (
    person_id TEXT NOT NULL,
    school_id TEXT NOT NULL,
    PRIMARY KEY (person_id, school_id)
) STRICT;

-- Projections: derived from the documents, rebuilt at will.
CREATE TABLE shifts (
    id          TEXT PRIMARY KEY,
    school_id   TEXT NOT NULL,
    post_id     TEXT NOT NULL,
    guard_id    TEXT NOT NULL,
    started_at  INTEGER NOT NULL,
    ended_at    INTEGER
) STRICT;
CREATE INDEX shifts_by_guard ON shifts(guard_id, ended_at, started_at);

-- Clustered by shift: a shift's checks sit together, and a new check is one B-tree insert.
CREATE TABLE patrol_checks (
    id            TEXT NOT NULL,
    shift_id      TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    method        TEXT NOT NULL,
    result        TEXT NOT NULL,
    note          TEXT NOT NULL,
    photos        TEXT NOT NULL,
    at            INTEGER NOT NULL,
    recorded_by   TEXT NOT NULL,
    PRIMARY KEY (shift_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE incidents (
    id               TEXT PRIMARY KEY,
    school_id        TEXT NOT NULL,
    author_id        TEXT NOT NULL,
    type             TEXT NOT NULL,
    status           TEXT NOT NULL,
    location         TEXT NOT NULL,
    occurred_at      INTEGER NOT NULL,
    reported_at      INTEGER NOT NULL,
    submitted_at     INTEGER,
    people_count     INTEGER NOT NULL,
    supplement_count INTEGER NOT NULL
) STRICT;
CREATE INDEX incidents_by_status ON incidents(status, occurred_at);
CREATE INDEX incidents_by_date ON incidents(occurred_at);

CREATE TABLE contact_notes (
    id             TEXT PRIMARY KEY,
    school_id      TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    student_ref    TEXT NOT NULL,
    student_name   TEXT NOT NULL,
    contact_type   TEXT NOT NULL,
    reason         TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    referral       TEXT NOT NULL,
    follow_up_on   TEXT,
    classification TEXT NOT NULL,
    contacted_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX contact_notes_by_student ON contact_notes(student_ref, contacted_at);
CREATE INDEX contact_notes_by_follow_up ON contact_notes(follow_up_on) WHERE follow_up_on IS NOT NULL;

-- Who may read each note on this device: its author and the people it is shared with.
CREATE TABLE note_readers (
    note_id   TEXT NOT NULL,
    person_id TEXT NOT NULL,
    PRIMARY KEY (note_id, person_id)
) STRICT;

-- Full-text search over incident narratives, actions, supplements and contact notes. The
-- rowid of an entry is its document's `doc_seq`, so replacing an entry is a lookup,
-- not a scan.
CREATE VIRTUAL TABLE search_index USING fts5(
    kind UNINDEXED,
    title,
    body,
    tokenize = 'unicode61 remove_diacritics 2'
);
