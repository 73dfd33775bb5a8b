-- Rounds district server, schema 2: photos. The bytes are files in the data folder
-- (`photos/<hash>`, uploads in progress in `photos/partial/<hash>`); this table records each
-- complete photo (its SHA-256 was checked) and who uploaded it.
CREATE TABLE photos (
    -- SHA-256 of the photo, 64 lowercase hex digits
    hash        TEXT PRIMARY KEY,
    bytes       INTEGER NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    uploaded_at INTEGER NOT NULL
);
