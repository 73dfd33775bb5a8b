-- Rounds district server, schema 5: every photo is tied to the records it was uploaded for.
-- A device names the record (a shift or an incident it may write) with every upload; a photo
-- is served only to people who may read a record it was uploaded for *and* that refers to it,
-- a device learns a photo's status only for uploads of its own, and the daily quota counts the
-- bytes each device sent. Rows whose record does not refer to the photo after the grace period
-- are removed, and so is a photo left with no row (see `photos::sweep`).
CREATE TABLE photo_uploads (
    -- SHA-256 of the photo, 64 lowercase hex digits
    hash        TEXT NOT NULL,
    -- the shift or incident the photo was uploaded for
    record_id   TEXT NOT NULL,
    device_id   TEXT NOT NULL REFERENCES devices(id),
    person_id   TEXT NOT NULL REFERENCES people(id),
    -- bytes this upload sent (0 when the device's earlier upload of the same photo is reused)
    bytes       INTEGER NOT NULL,
    uploaded_at INTEGER NOT NULL,
    PRIMARY KEY (hash, record_id)
);
CREATE INDEX photo_uploads_by_device ON photo_uploads(device_id, uploaded_at);
CREATE INDEX photo_uploads_by_time ON photo_uploads(uploaded_at);
-- 1 once the record was seen to refer to the photo (at upload, or by the sweep): kept for good.
ALTER TABLE photo_uploads ADD COLUMN confirmed INTEGER NOT NULL DEFAULT 0;
-- Photos received before schema 5 were tied to no record: they keep the old rule (served to
-- readers of any record that refers to them) under the nil record id, and are never swept.
INSERT INTO photo_uploads (hash, record_id, device_id, person_id, bytes, uploaded_at, confirmed)
SELECT hash, '00000000-0000-0000-0000-000000000000', device_id, person_id, 0, uploaded_at, 1
FROM photos;
