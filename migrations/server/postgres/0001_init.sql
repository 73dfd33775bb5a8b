-- Rounds district server on PostgreSQL, schema 1: everything the SQLite backend's migrations
-- 1 to 5 hold (migrations/server/sqlite/), in PostgreSQL's types. Ids are text (UUIDs as the
-- API writes them), times integer milliseconds since the Unix epoch, as on SQLite, so the
-- two backends' rows and `rounds-server migrate` map one to one.

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
    active        BOOLEAN NOT NULL
);

CREATE TABLE person_schools (
    person_id TEXT NOT NULL REFERENCES people(id),
    school_id TEXT NOT NULL REFERENCES schools(id),
    PRIMARY KEY (person_id, school_id)
);

CREATE TABLE reference_version (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    version  BIGINT NOT NULL
);
INSERT INTO reference_version (only_row, version) VALUES (TRUE, 1);

CREATE TABLE enrollment_codes (
    code_hash  TEXT PRIMARY KEY,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    device_id  TEXT
);

CREATE TABLE devices (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    revoked_at  BIGINT
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    person_id  TEXT NOT NULL REFERENCES people(id),
    device_id  TEXT REFERENCES devices(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE documents (
    id             TEXT PRIMARY KEY,
    kind           TEXT NOT NULL,
    school_id      TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    device_id      TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    classification TEXT NOT NULL,
    version        BIGINT NOT NULL
);
CREATE INDEX documents_by_school ON documents(school_id, kind);

-- The change feed. A change's `seq` is its feed position, taken from `feed_position` by the
-- transaction that stores it (storage/postgres.rs, `take_positions`): the counter's row stays
-- locked until that transaction ends, so positions are handed out in commit order and a
-- reader whose cursor passed a position never misses a lower one committed later. (A
-- sequence would not do: a lower number can commit after a higher one.)
CREATE TABLE feed_position (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    next     BIGINT NOT NULL
);
INSERT INTO feed_position (only_row, next) VALUES (TRUE, 1);

CREATE TABLE changes (
    seq    BIGINT PRIMARY KEY,
    doc_id TEXT NOT NULL REFERENCES documents(id),
    hash   BYTEA NOT NULL,
    bytes  BYTEA NOT NULL
);
CREATE INDEX changes_by_doc ON changes(doc_id, seq);

CREATE TABLE doc_readers (
    doc_id    TEXT NOT NULL REFERENCES documents(id),
    person_id TEXT NOT NULL,
    PRIMARY KEY (doc_id, person_id)
);

CREATE TABLE shifts (
    id          TEXT PRIMARY KEY,
    school_id   TEXT NOT NULL,
    post_id     TEXT NOT NULL,
    guard_id    TEXT NOT NULL,
    started_at  BIGINT NOT NULL,
    ended_at    BIGINT,
    check_count INTEGER NOT NULL
);
CREATE INDEX shifts_by_school_day ON shifts(school_id, started_at);
CREATE INDEX console_shifts_by_day ON shifts(started_at);

CREATE TABLE patrol_checks (
    shift_id      TEXT NOT NULL,
    id            TEXT NOT NULL,
    checkpoint_id TEXT NOT NULL,
    result        TEXT NOT NULL,
    note          TEXT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (shift_id, id)
);

CREATE TABLE incidents (
    id           TEXT PRIMARY KEY,
    school_id    TEXT NOT NULL,
    author_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    status       TEXT NOT NULL,
    location     TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    submitted_at BIGINT
);
CREATE INDEX incidents_by_school ON incidents(school_id, occurred_at);
CREATE INDEX console_incidents_by_day ON incidents(occurred_at);

CREATE TABLE photos (
    hash        TEXT PRIMARY KEY,
    bytes       BIGINT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    uploaded_at BIGINT NOT NULL
);

CREATE TABLE photo_uploads (
    hash        TEXT NOT NULL,
    record_id   TEXT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    bytes       BIGINT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    confirmed   BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (hash, record_id)
);
CREATE INDEX photo_uploads_by_device ON photo_uploads(device_id, uploaded_at);
CREATE INDEX photo_uploads_by_time ON photo_uploads(uploaded_at);

CREATE TABLE console_sessions (
    token_hash   TEXT PRIMARY KEY,
    person_id    TEXT NOT NULL REFERENCES people(id),
    csrf         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

CREATE TABLE sign_in_attempts (
    attempt_id   TEXT NOT NULL,
    throttle_key TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (attempt_id, throttle_key)
);
CREATE INDEX sign_in_attempts_by_key ON sign_in_attempts(throttle_key, at);
CREATE INDEX sign_in_attempts_by_time ON sign_in_attempts(at);

-- Photo bytes, in the database so that every server process accepts, resumes and serves any
-- upload (storage/postgres_photos.rs). An upload in progress is the chunks one device sent,
-- in order; its length is what the next chunk must start at. A complete photo is its chunks
-- moved under its hash once their SHA-256 matched.
CREATE TABLE photo_partial_chunks (
    device_id  TEXT NOT NULL,
    hash       TEXT NOT NULL,
    offset_at  BIGINT NOT NULL,
    bytes      BYTEA NOT NULL,
    written_at BIGINT NOT NULL,
    PRIMARY KEY (device_id, hash, offset_at)
);

CREATE TABLE photo_chunks (
    hash      TEXT NOT NULL,
    offset_at BIGINT NOT NULL,
    bytes     BYTEA NOT NULL,
    PRIMARY KEY (hash, offset_at)
);
