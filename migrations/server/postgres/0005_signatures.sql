-- Rounds district server on PostgreSQL, schema 5: signed changes (rounds_domain::signing,
-- docs/audit.md "Signed changes"). `signing_keys` holds each person's public key on each
-- device, recorded when they sign in on it; a revoked device's keys get `revoked_at` and are
-- refused for new changes (old signatures still verify). `change_signatures` keeps every
-- signature a push carried, after it verified: for each document and person of a push, at
-- least the one over their last change, which covers their changes before it.
CREATE TABLE signing_keys (
    public_key    BYTEA PRIMARY KEY,
    person_id     TEXT NOT NULL,
    device_id     TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    revoked_at    BIGINT
);

CREATE INDEX signing_keys_device ON signing_keys (device_id);

CREATE TABLE change_signatures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY,
    doc_id      TEXT NOT NULL,
    hash        BYTEA NOT NULL,
    person_id   TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    public_key  BYTEA NOT NULL,
    signature   BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (doc_id, hash, person_id)
);
