-- Rounds device store, schema 2: photos.
-- A photo is a file `photos/<hash>` beside the database, sealed with the photo key below; this
-- table says which photos the device holds and which the server has confirmed.

CREATE TABLE photos (
    -- SHA-256 of the photo's bytes, 64 lowercase hex digits (what documents reference)
    hash       TEXT PRIMARY KEY,
    -- size of the photo itself (not of the sealed file)
    bytes      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    -- 1 once the server said it holds the whole photo and checked its hash
    uploaded   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX photos_waiting ON photos(created_at) WHERE uploaded = 0;

-- Secrets kept inside the encrypted database. `photo_key`: 32 random bytes that seal the photo
-- files (made when the first photo is added).
CREATE TABLE secrets (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) STRICT;
