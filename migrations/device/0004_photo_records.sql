-- Rounds device store, schema 4: which records each photo was attached to, and by whom. The
-- server takes an upload only for a named record the uploader may write, so each photo goes
-- once per record it belongs to, in the session of the person who attached it (on a shared
-- phone, when that person unlocks). A photo attached to nothing is kept but not uploaded.
CREATE TABLE photo_records (
    hash      TEXT NOT NULL REFERENCES photos(hash),
    -- the shift or incident that refers to the photo
    record_id TEXT NOT NULL,
    -- who attached it (the session that uploads it)
    person_id TEXT NOT NULL,
    -- 1 once the server confirmed it holds the photo for this record
    uploaded  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (hash, record_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX photo_records_waiting ON photo_records(person_id, hash) WHERE uploaded = 0;

-- Photos already waiting when the store is upgraded: those of patrol checks here (incidents'
-- photos are found in their documents by the upgrade's code).
INSERT OR IGNORE INTO photo_records (hash, record_id, person_id)
SELECT j.value, c.shift_id, c.recorded_by
FROM patrol_checks c, json_each(c.photos) j
JOIN photos p ON p.hash = j.value
WHERE p.uploaded = 0;
