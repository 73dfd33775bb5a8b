-- Rounds device store, schema 6: signed changes (rounds_domain::signing). Each person who
-- unlocks the device has an Ed25519 key here, its seed sealed under their own PersonSeal
-- (derived from their PIN's key-encryption key: another person sharing the phone opens the
-- store but not this). Every change an action makes is signed with its maker's key in the
-- action's own transaction; a push carries, for each document, the signature over each
-- person's last pushed change, which covers their changes before it.
CREATE TABLE signing_keys (
    person_id   TEXT PRIMARY KEY,
    public_key  BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    sealed_seed BLOB NOT NULL
) STRICT;

CREATE TABLE change_signatures (
    doc_id     TEXT NOT NULL,
    hash       BLOB NOT NULL,
    person_id  TEXT NOT NULL,
    public_key BLOB NOT NULL,
    signature  BLOB NOT NULL,
    PRIMARY KEY (doc_id, hash)
) STRICT;
